metadata name = 'Function host storage'
metadata description = 'The storage account of the Functions host (AzureWebJobsStorage) and of the Flex Consumption deployment package, with shared-key access disabled: the function app identity reaches it with Entra ID.'

@minLength(3)
@maxLength(24)
@description('Required. Name of the storage account (3 to 24 lowercase letters and digits).')
param name string

@description('Required. Azure region of the storage account.')
param location string

@description('Optional. Tags of the storage account.')
param tags object = {}

@minLength(3)
@maxLength(63)
@description('Required. Name of the blob container that holds the deployed package.')
param deploymentContainerName string

@description('Required. Principal ID of the identity the Functions host runs as (the function app identity).')
param blobDataOwnerPrincipalId string

// Storage Blob Data Owner, per https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/storage#storage-blob-data-owner
// The host's identity-based AzureWebJobsStorage needs it for its blob leases and key store, and Flex Consumption for
// the deployment container. This app has HTTP triggers only, so no queue or table role is granted.
var storageBlobDataOwnerRoleId = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource blobDataOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, blobDataOwnerPrincipalId, storageBlobDataOwnerRoleId)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataOwnerRoleId)
    principalId: blobDataOwnerPrincipalId
    principalType: 'ServicePrincipal'
    description: 'Functions host storage and the Flex Consumption deployment container.'
  }
}

@description('The name of the storage account.')
output name string = storage.name

@description('The name of the deployment container (known once the container exists).')
output deploymentContainerName string = deploymentContainer.name
