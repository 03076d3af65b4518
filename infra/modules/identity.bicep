metadata name = 'Function app identity'
metadata description = 'The user-assigned managed identity the function app uses for storage, monitoring and Web PubSub: one identity, granted only what each resource module assigns to it.'

@description('Required. Name of the user-assigned managed identity.')
param name string

@description('Required. Azure region of the identity.')
param location string

@description('Optional. Tags of the identity.')
param tags object = {}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

@description('The resource ID of the identity.')
output resourceId string = identity.id

@description('The client ID of the identity (AZURE_CLIENT_ID for the app).')
output clientId string = identity.properties.clientId

@description('The principal (object) ID of the identity, for role assignments.')
output principalId string = identity.properties.principalId
