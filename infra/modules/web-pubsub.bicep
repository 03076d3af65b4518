metadata name = 'Azure Web PubSub'
metadata description = 'The Web PubSub service. Keyless by default (local authentication disabled), with the function app identity as Web PubSub Service Owner so it can negotiate and push with Entra ID.'

@minLength(3)
@maxLength(63)
@description('Required. Name of the Web PubSub service (its endpoint is https://<name>.webpubsub.azure.com).')
param name string

@description('Required. Azure region of the service.')
param location string

@description('Optional. Tags of the service.')
param tags object = {}

@allowed([
  'Free_F1'
  'Standard_S1'
  'Premium_P1'
  'Premium_P2'
])
@description('Optional. Pricing tier.')
param sku string = 'Standard_S1'

@minValue(1)
@maxValue(1000)
@description('Optional. Units (1,000 concurrent connections each): Free_F1 allows 1; Standard_S1 and Premium_P1 1 to 10 or a multiple of 10 up to 100; Premium_P2 a multiple of 100 up to 1000.')
param capacity int = 1

@description('Optional. Disable access keys (local authentication) so that only Microsoft Entra ID is accepted.')
param disableLocalAuth bool = true

@description('Optional. Give the service a system-assigned identity, which it uses to authenticate to event handlers configured for managed-identity auth.')
param systemAssignedIdentity bool = false

@description('Optional. Principal ID to make Web PubSub Service Owner (the function app identity in keyless mode); empty for none.')
param serviceOwnerPrincipalId string = ''

// Web PubSub Service Owner, per https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/web-and-mobile#web-pubsub-service-owner
// Negotiate needs generateToken/action and clientConnection/write, push the REST API; the documentation
// (https://learn.microsoft.com/azure/azure-web-pubsub/howto-use-azure-identity) notes that no narrower built-in
// role holds both token permissions. It is assigned on this service only.
var webPubSubServiceOwnerRoleId = '12cf5a90-567b-43ae-8102-96cf46c7d9b4'

var skuTier = startsWith(sku, 'Premium') ? 'Premium' : (sku == 'Free_F1' ? 'Free' : 'Standard')

resource webPubSub 'Microsoft.SignalRService/webPubSub@2024-03-01' = {
  name: name
  location: location
  tags: tags
  kind: 'WebPubSub'
  sku: {
    name: sku
    tier: skuTier
    capacity: capacity
  }
  identity: {
    type: systemAssignedIdentity ? 'SystemAssigned' : 'None'
  }
  properties: {
    disableAadAuth: false
    disableLocalAuth: disableLocalAuth
    publicNetworkAccess: 'Enabled'
    tls: {
      clientCertEnabled: false
    }
  }
}

resource serviceOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(serviceOwnerPrincipalId)) {
  name: guid(webPubSub.id, serviceOwnerPrincipalId, webPubSubServiceOwnerRoleId)
  scope: webPubSub
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', webPubSubServiceOwnerRoleId)
    principalId: serviceOwnerPrincipalId
    principalType: 'ServicePrincipal'
    description: 'Keyless negotiate (client access tokens) and push (REST API) from the function app.'
  }
}

@description('The name of the service.')
output name string = webPubSub.name

@description('The service endpoint (WebPubSubEndpoint for the app in keyless mode).')
output endpoint string = 'https://${webPubSub.properties.hostName}'
