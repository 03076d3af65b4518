metadata name = 'Function app'
metadata description = 'A Flex Consumption (FC1) plan and a Node 22 function app running as the user-assigned identity, with identity-based host storage and telemetry, the app settings the code reads, and the host function key the Web PubSub event handler URL carries.'

@description('Required. Name of the function app (its host is <name>.azurewebsites.net).')
param name string

@description('Required. Name of the Flex Consumption plan.')
param planName string

@description('Required. Azure region of the plan and the app.')
param location string

@description('Optional. Tags of the plan and the app.')
param tags object = {}

@description('Optional. The azd service name the app is tagged with (azure.yaml services).')
param serviceName string = 'api'

@description('Required. Resource ID of the user-assigned identity the app runs as.')
param identityResourceId string

@description('Required. Client ID of that identity.')
param identityClientId string

@description('Required. Name of the host storage account (shared-key access disabled).')
param storageAccountName string

@description('Required. Name of the blob container that holds the deployed package.')
param deploymentContainerName string

@description('Required. Name of the Application Insights component (local authentication disabled).')
param applicationInsightsName string

@allowed([
  512
  2048
  4096
])
@description('Optional. Memory of each instance, in MB.')
param instanceMemoryMB int = 2048

@minValue(40)
@maxValue(1000)
@description('Optional. Most instances the app scales out to.')
param maximumInstanceCount int = 100

@description('Optional. Settings of the app (name to value); an empty value leaves the setting out, so the app uses its default.')
param appSettings object = {}

@description('Optional. Name of the host function key created for the Web PubSub event handler.')
param webhookFunctionKeyName string = 'webpubsub'

@secure()
@minLength(32)
@description('Required. Value of that host function key.')
param webhookFunctionKey string

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// What the Functions host itself reads: identity-based AzureWebJobsStorage (blob only: HTTP triggers need no
// queue or table) and Entra-authenticated telemetry.
var hostSettings = {
  AzureWebJobsStorage__blobServiceUri: storage.properties.primaryEndpoints.blob
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsights.properties.ConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': serviceName })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityResourceId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    keyVaultReferenceIdentity: identityResourceId
    siteConfig: {
      minTlsVersion: '1.2'
      // The app answers CORS itself, for negotiate only (CorsAllowedOrigins). The platform's CORS layer stays
      // empty: when both answer, the platform's wins and the app's per-route rules never run.
      cors: {
        allowedOrigins: []
        supportCredentials: false
      }
      appSettings: map(filter(items(union(appSettings, hostSettings)), setting => !empty(setting.value)), setting => {
        name: setting.key
        value: setting.value
      })
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityResourceId
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
      }
      runtime: {
        name: 'node'
        version: '22'
      }
    }
  }
}

// Deployments use Entra ID (azd, az); publishing with a user name and password stays off.
resource ftpPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}

// Host keys have no published resource types (Azure/bicep-types-az#1356), hence BCP081. ARM creates the key with
// the value given here, so the event handler URL is complete at deployment time: nothing is scraped afterwards.
#disable-next-line BCP081
resource functionHost 'Microsoft.Web/sites/host@2024-04-01' existing = {
  parent: site
  name: 'default'
}

#disable-next-line BCP081
resource webhookKey 'Microsoft.Web/sites/host/functionKeys@2024-04-01' = {
  parent: functionHost
  name: webhookFunctionKeyName
  properties: {
    name: webhookFunctionKeyName
    value: webhookFunctionKey
  }
}

@description('The name of the function app.')
output name string = site.name

@description('The default host name of the function app.')
output defaultHostName string = site.properties.defaultHostName
