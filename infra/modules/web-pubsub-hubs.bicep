metadata name = 'Web PubSub hubs'
metadata description = 'One hub per name, each with one event handler: the function app webhook, authenticated by the host function key the template created and, optionally, by the service managed identity.'

@description('Required. Name of the Web PubSub service.')
param webPubSubName string

@minLength(1)
@description('Required. Names of the hubs (the first is the app default hub).')
param hubNames array

@description('Required. URL of the webhook without its key, https://<app host>/api/webpubsub/events.')
param eventHandlerUrl string

@secure()
@minLength(32)
@description('Required. The host function key the event handler URL carries as ?code=.')
param webhookFunctionKey string

@allowed([
  'connect'
  'connected'
  'disconnected'
])
@description('Optional. System events the service sends to the webhook.')
param systemEvents array = [
  'connect'
  'connected'
  'disconnected'
]

@description('Optional. User events the service sends to the webhook: * for all, a comma-separated list of names, or one name.')
param userEventPattern string = '*'

@description('Optional. When set, the service also sends a managed-identity token for this audience, which the app validates; empty for none.')
param managedIdentityAudience string = ''

resource webPubSub 'Microsoft.SignalRService/webPubSub@2024-03-01' existing = {
  name: webPubSubName
}

// One at a time: hubs are sub-resources of one service, which takes one update at a time.
@batchSize(1)
resource hubs 'Microsoft.SignalRService/webPubSub/hubs@2024-03-01' = [
  for hub in hubNames: {
    parent: webPubSub
    name: hub
    properties: {
      anonymousConnectPolicy: 'deny'
      eventHandlers: [
        {
          urlTemplate: '${eventHandlerUrl}?code=${webhookFunctionKey}'
          userEventPattern: userEventPattern
          systemEvents: systemEvents
          auth: empty(managedIdentityAudience)
            ? {
                type: 'None'
              }
            : {
                type: 'ManagedIdentity'
                managedIdentity: {
                  resource: managedIdentityAudience
                }
              }
        }
      ]
    }
  }
]
