targetScope = 'subscription'

metadata name = 'Web PubSub Functions'
metadata description = 'The whole app in one deployment: a Flex Consumption function app (Node 22), Azure Web PubSub with its hubs wired to the app webhook, storage and monitoring, keyless by default with a user-assigned managed identity.'

// ------------------------------------------------------------------------------------------------------------------
// Environment
// ------------------------------------------------------------------------------------------------------------------

@minLength(1)
@maxLength(64)
@description('Required. Name of the environment (azd env name); with the subscription and location it seeds every resource name.')
param environmentName string

@minLength(1)
@description('Required. Azure region of every resource; it must offer the Flex Consumption plan (az functionapp list-flexconsumption-locations).')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@maxLength(90)
@description('Optional. Name of the resource group to create; empty for rg-<environmentName>.')
param resourceGroupName string = ''

// ------------------------------------------------------------------------------------------------------------------
// Function app scale
// ------------------------------------------------------------------------------------------------------------------

@allowed([
  512
  2048
  4096
])
@description('Optional. Memory of each Flex Consumption instance, in MB.')
param functionInstanceMemoryMB int = 2048

@minValue(40)
@maxValue(1000)
@description('Optional. Most instances the function app scales out to.')
param functionMaximumInstanceCount int = 100

// ------------------------------------------------------------------------------------------------------------------
// Web PubSub and the webhook
// ------------------------------------------------------------------------------------------------------------------

@allowed([
  'Free_F1'
  'Standard_S1'
  'Premium_P1'
  'Premium_P2'
])
@description('Optional. Web PubSub pricing tier. Free_F1 costs nothing but caps the service at 20 concurrent connections and 20,000 messages a day, with no SLA.')
param webPubSubSku string = 'Standard_S1'

@allowed([
  1
  2
  3
  4
  5
  6
  7
  8
  9
  10
  20
  30
  40
  50
  60
  70
  80
  90
  100
  200
  300
  400
  500
  600
  700
  800
  900
  1000
])
@description('Optional. Web PubSub units, 1,000 concurrent connections each: Free_F1 allows 1; Standard_S1 and Premium_P1 1 to 100; Premium_P2 100 to 1000.')
param webPubSubCapacity int = 1

@description('Optional. true (keyless, the default): the service accepts Microsoft Entra ID only and the app uses its managed identity. false: access keys are enabled and the app runs in key mode, its connection string a Key Vault reference.')
param webPubSubDisableLocalAuth bool = true

@minLength(1)
@maxLength(128)
@description('Optional. The default hub (WebPubSubHub).')
param hubName string = 'chat'

@description('Optional. More hubs the app serves, comma-separated (WebPubSubHubs); each gets the same event handler.')
param additionalHubs string = ''

@allowed([
  'connect'
  'connected'
  'disconnected'
])
@description('Optional. System events Web PubSub sends to the webhook.')
param eventHandlerSystemEvents array = [
  'connect'
  'connected'
  'disconnected'
]

@description('Optional. User events Web PubSub sends to the webhook: * for all, a comma-separated list of names, or one name.')
param eventHandlerUserEventPattern string = '*'

@description('Optional. Audience of a managed-identity token that Web PubSub adds to every webhook call and the app validates (WebPubSubEventHandlerAudience): an Entra application ID URI or client ID. Empty: the function key alone authenticates the service.')
param eventHandlerAudience string = ''

@description('Optional. Extra hosts allowed in WebHook-Request-Origin, comma-separated (WebPubSubAllowedOrigins); the service host is always allowed.')
param webhookAllowedOrigins string = ''

@secure()
@minLength(32)
@description('Required. Value of the host function key "webpubsub" that the event handler URL carries as ?code=. azd generates it once and keeps it in the environment; with az deployment, pass a random URL-safe string, for example from openssl rand -hex 32.')
@metadata({
  azd: {
    type: 'generate'
    config: {
      length: 48
      noSpecial: true
    }
  }
})
param webhookFunctionKey string

@minValue(0)
@maxValue(16777216)
@description('Optional. Largest event body the webhook accepts, in bytes (WebPubSubMaxEventBytes); 0 for the app default.')
param webPubSubMaxEventBytes int = 0

@minValue(0)
@maxValue(65536)
@description('Optional. Largest encoded connection state, in bytes (WebPubSubMaxStateBytes); 0 for the app default.')
param webPubSubMaxStateBytes int = 0

// ------------------------------------------------------------------------------------------------------------------
// Negotiate: who may get a client access URL (README, "Deploy to Azure", adding an identity provider)
// ------------------------------------------------------------------------------------------------------------------

@description('Optional. How negotiate identifies callers, tried in order (NegotiateIdentity): bearer, appservice and/or anonymous, comma-separated. Empty: negotiate refuses every caller, naming this setting.')
param negotiateIdentity string = ''

@description('Optional. Accepted token issuers for bearer, comma-separated https URLs (NegotiateIssuer).')
param negotiateIssuer string = ''

@description('Optional. Accepted token audiences for bearer, comma-separated (NegotiateAudience).')
param negotiateAudience string = ''

@description('Optional. JWKS URL of the issuer (NegotiateJwksUri); empty: discovered from the issuer OpenID configuration.')
param negotiateJwksUri string = ''

@description('Optional. Claim holding the user ID (NegotiateUserIdClaim); empty for the app default.')
param negotiateUserIdClaim string = ''

@description('Optional. Claim holding the caller roles (NegotiateRoleClaim); empty for the app default.')
param negotiateRoleClaim string = ''

@description('Optional. Claim holding the groups the caller may join (NegotiateGroupClaim).')
param negotiateGroupClaim string = ''

@description('Optional. Group patterns a caller may ask to join, comma-separated, {userId} allowed (NegotiateAllowedGroups).')
param negotiateAllowedGroups string = ''

@description('Optional. Web PubSub roles every verified caller gets, comma-separated, {userId} allowed (NegotiateRoles).')
param negotiateRoles string = ''

@description('Optional. Per-group rights given for each granted group: joinLeaveGroup, sendToGroup or none (NegotiateGroupPermissions); empty for the app default.')
param negotiateGroupPermissions string = ''

@description('Optional. Allow roles over every group of a hub (NegotiateAllowHubWideRoles).')
param negotiateAllowHubWideRoles bool = false

@minValue(0)
@maxValue(1440)
@description('Optional. Lifetime of client access tokens, in minutes (NegotiateTokenLifetimeMinutes); 0 for the app default.')
param negotiateTokenLifetimeMinutes int = 0

@description('Optional. Browser origins allowed to call negotiate, comma-separated scheme://host[:port], or * (CorsAllowedOrigins).')
param corsAllowedOrigins string = ''

// ------------------------------------------------------------------------------------------------------------------
// Push and management API: optional bearer tokens with app roles, on top of the function key
// ------------------------------------------------------------------------------------------------------------------

@description('Optional. Audience of the bearer token every push call must also carry (PushApiAudience); empty: the function key alone.')
param pushApiAudience string = ''

@description('Optional. Entra tenant of those tokens (PushApiTenantId); empty with an audience set: this deployment tenant.')
param pushApiTenantId string = ''

@description('Optional. Accepted issuers of those tokens, comma-separated (PushApiIssuers), for issuers other than Entra.')
param pushApiIssuers string = ''

@description('Optional. JWKS URL of those issuers (PushApiJwksUri).')
param pushApiJwksUri string = ''

@description('Optional. App role that allows sending (PushApiSendRole); empty for the app default.')
param pushApiSendRole string = ''

@description('Optional. App role that allows group and connection management (PushApiManageRole); empty for the app default.')
param pushApiManageRole string = ''

@description('Optional. Claim holding the caller app roles (PushApiRoleClaim); empty for the app default.')
param pushApiRoleClaim string = ''

@minValue(0)
@maxValue(30000)
@description('Optional. Upper bound of one push call wait for the service, in milliseconds, 500 or more (PushApiServiceTimeoutMs); 0 for the app default.')
param pushApiServiceTimeoutMs int = 0

// ------------------------------------------------------------------------------------------------------------------
// Names: deterministic, so deploying again updates the same resources
// ------------------------------------------------------------------------------------------------------------------

var abbrs = loadJsonContent('abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var keyless = webPubSubDisableLocalAuth

var functionAppName = '${abbrs.webSitesFunctions}api-${resourceToken}'
var deploymentContainerName = 'app-package-${take(functionAppName, 32)}-${take(resourceToken, 7)}'

// The routes the code registers (src/functions/webhook.ts, negotiate.ts) under host.json's routePrefix "api";
// test/infra compares them with the registrations.
var webhookPath = 'api/webpubsub/events'
var negotiatePath = 'api/negotiate'

var extraHubNames = filter(map(split(additionalHubs, ','), hub => trim(hub)), hub => !empty(hub))
var hubNames = union([hubName], extraHubNames)

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: empty(resourceGroupName) ? '${abbrs.resourcesResourceGroups}${environmentName}' : resourceGroupName
  location: location
  tags: tags
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: '${abbrs.managedIdentityUserAssignedIdentities}api-${resourceToken}'
    location: location
    tags: tags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
    applicationInsightsName: '${abbrs.insightsComponents}${resourceToken}'
    location: location
    tags: tags
    publisherPrincipalId: identity.outputs.principalId
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: '${abbrs.storageStorageAccounts}${resourceToken}'
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
    blobDataOwnerPrincipalId: identity.outputs.principalId
  }
}

module webPubSub 'modules/web-pubsub.bicep' = {
  name: 'webPubSub'
  scope: rg
  params: {
    name: '${abbrs.signalRServiceWebPubSub}${resourceToken}'
    location: location
    tags: tags
    sku: webPubSubSku
    capacity: webPubSubCapacity
    disableLocalAuth: webPubSubDisableLocalAuth
    systemAssignedIdentity: !empty(eventHandlerAudience)
    serviceOwnerPrincipalId: keyless ? identity.outputs.principalId : ''
  }
}

module keyVault 'modules/key-vault.bicep' = if (!keyless) {
  name: 'keyVault'
  scope: rg
  params: {
    name: '${abbrs.keyVaultVaults}${resourceToken}'
    location: location
    tags: tags
    webPubSubName: webPubSub.outputs.name
    readerPrincipalId: identity.outputs.principalId
  }
}

// Exactly the settings src/config.ts reads in production (the README settings table); an empty value is left out,
// so the app applies its own default. Key mode gets the connection string as a Key Vault reference, never the key.
var serviceSettings = keyless
  ? {
      WebPubSubEndpoint: webPubSub.outputs.endpoint
      AZURE_CLIENT_ID: identity.outputs.clientId
    }
  : {
      WebPubSubConnectionString: '@Microsoft.KeyVault(SecretUri=${keyVault!.outputs.connectionStringSecretUri})'
    }

var webhookSettings = {
  WebPubSubHub: hubName
  WebPubSubHubs: join(extraHubNames, ',')
  WebPubSubAllowedOrigins: webhookAllowedOrigins
  WebPubSubEventHandlerAudience: eventHandlerAudience
  WebPubSubEventHandlerTenantId: empty(eventHandlerAudience) ? '' : tenant().tenantId
  WebPubSubMaxEventBytes: webPubSubMaxEventBytes == 0 ? '' : string(webPubSubMaxEventBytes)
  WebPubSubMaxStateBytes: webPubSubMaxStateBytes == 0 ? '' : string(webPubSubMaxStateBytes)
}

var negotiateSettings = {
  NegotiateIdentity: negotiateIdentity
  NegotiateIssuer: negotiateIssuer
  NegotiateAudience: negotiateAudience
  NegotiateJwksUri: negotiateJwksUri
  NegotiateUserIdClaim: negotiateUserIdClaim
  NegotiateRoleClaim: negotiateRoleClaim
  NegotiateGroupClaim: negotiateGroupClaim
  NegotiateAllowedGroups: negotiateAllowedGroups
  NegotiateRoles: negotiateRoles
  NegotiateGroupPermissions: negotiateGroupPermissions
  NegotiateAllowHubWideRoles: negotiateAllowHubWideRoles ? 'true' : ''
  NegotiateTokenLifetimeMinutes: negotiateTokenLifetimeMinutes == 0 ? '' : string(negotiateTokenLifetimeMinutes)
  CorsAllowedOrigins: corsAllowedOrigins
}

var pushSettings = {
  PushApiAudience: pushApiAudience
  PushApiTenantId: empty(pushApiTenantId) && !empty(pushApiAudience) && empty(pushApiIssuers)
    ? tenant().tenantId
    : pushApiTenantId
  PushApiIssuers: pushApiIssuers
  PushApiJwksUri: pushApiJwksUri
  PushApiSendRole: pushApiSendRole
  PushApiManageRole: pushApiManageRole
  PushApiRoleClaim: pushApiRoleClaim
  PushApiServiceTimeoutMs: pushApiServiceTimeoutMs == 0 ? '' : string(pushApiServiceTimeoutMs)
}

module functionApp 'modules/function-app.bicep' = {
  name: 'functionApp'
  scope: rg
  params: {
    name: functionAppName
    planName: '${abbrs.webServerFarms}${resourceToken}'
    location: location
    tags: tags
    identityResourceId: identity.outputs.resourceId
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerName: storage.outputs.deploymentContainerName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    instanceMemoryMB: functionInstanceMemoryMB
    maximumInstanceCount: functionMaximumInstanceCount
    appSettings: union(serviceSettings, webhookSettings, negotiateSettings, pushSettings)
    webhookFunctionKey: webhookFunctionKey
  }
}

module hubs 'modules/web-pubsub-hubs.bicep' = {
  name: 'webPubSubHubs'
  scope: rg
  params: {
    webPubSubName: webPubSub.outputs.name
    hubNames: hubNames
    eventHandlerUrl: 'https://${functionApp.outputs.defaultHostName}/${webhookPath}'
    webhookFunctionKey: webhookFunctionKey
    systemEvents: eventHandlerSystemEvents
    userEventPattern: eventHandlerUserEventPattern
    managedIdentityAudience: eventHandlerAudience
  }
}

// azd reads these into the environment (azd env get-values). None holds a secret: the function key stays in the
// secure parameter, the hub configuration and the app's key store.
@description('The Azure region of the deployment.')
output AZURE_LOCATION string = location

@description('The Entra tenant of the deployment.')
output AZURE_TENANT_ID string = tenant().tenantId

@description('The resource group holding everything.')
output AZURE_RESOURCE_GROUP string = rg.name

@description('The function app (azd deploys the api service to it).')
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name

@description('The base URL of the function app.')
output FUNCTION_APP_URL string = 'https://${functionApp.outputs.defaultHostName}'

@description('Where browsers get their client access URL.')
output NEGOTIATE_URL string = 'https://${functionApp.outputs.defaultHostName}/${negotiatePath}'

@description('The webhook every hub calls, without its key.')
output EVENT_HANDLER_URL string = 'https://${functionApp.outputs.defaultHostName}/${webhookPath}'

@description('The Web PubSub service name.')
output WEB_PUBSUB_NAME string = webPubSub.outputs.name

@description('The Web PubSub endpoint.')
output WEB_PUBSUB_ENDPOINT string = webPubSub.outputs.endpoint

@description('The hubs wired to the webhook, comma-separated.')
output WEB_PUBSUB_HUBS string = join(hubNames, ',')
