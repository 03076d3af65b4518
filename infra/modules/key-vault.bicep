metadata name = 'Key mode secret'
metadata description = 'Key mode only: a Key Vault holding the Web PubSub connection string, readable by the function app identity alone, so the app setting is a Key Vault reference and never the key itself.'

@minLength(3)
@maxLength(24)
@description('Required. Name of the Key Vault.')
param name string

@description('Required. Azure region of the Key Vault.')
param location string

@description('Optional. Tags of the Key Vault.')
param tags object = {}

@description('Required. Name of the Web PubSub service whose primary connection string is stored.')
param webPubSubName string

@description('Required. Principal ID of the identity that reads the secret (the function app identity).')
param readerPrincipalId string

// Key Vault Secrets User, per https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/security#key-vault-secrets-user
// Assigned on the one secret, not on the vault.
var keyVaultSecretsUserRoleId = '4633458b-17de-408a-b874-0445c86b69e6'

resource webPubSub 'Microsoft.SignalRService/webPubSub@2024-03-01' existing = {
  name: webPubSubName
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
    publicNetworkAccess: 'Enabled'
  }
}

resource connectionString 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'webpubsub-connection-string'
  properties: {
    contentType: 'text/plain'
    value: webPubSub.listKeys().primaryConnectionString
  }
}

resource secretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(connectionString.id, readerPrincipalId, keyVaultSecretsUserRoleId)
  scope: connectionString
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUserRoleId)
    principalId: readerPrincipalId
    principalType: 'ServicePrincipal'
    description: 'The function app resolves its WebPubSubConnectionString Key Vault reference.'
  }
}

@description('The versionless URI of the connection string secret (not the secret itself).')
output connectionStringSecretUri string = connectionString.properties.secretUri
