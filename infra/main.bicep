// deskmail on Azure: a Function App on Flex Consumption (Python 3.11) with a managed
// identity, its storage account, Key Vault, Log Analytics + Application Insights, the data
// roles of that identity, the app settings and App Service Authentication. Deployed to one
// resource group by `azd up` or `az deployment group create` (docs/deployment.md).
// The alerts with their action group and the operations workbook (issue 9 §2) read the
// app's telemetry in Application Insights (docs/operations.md).
targetScope = 'resourceGroup'

@minLength(1)
@maxLength(64)
@description('Name of the environment (azd: AZURE_ENV_NAME), e.g. prod. Part of every resource name.')
param environmentName string

@description('Azure region of every resource (a region that offers Flex Consumption).')
param location string = resourceGroup().location

@description('Client id (application id) of the Microsoft Entra app registration people sign in with (App Service Authentication). See docs/deployment.md, "App registrations".')
param webAuthClientId string

@description('Tenant of that app registration; default: the deployment\'s tenant.')
param webAuthTenantId string = tenant().tenantId

@description('true: App Service Authentication itself refuses anonymous requests (except /health, /api/notifications and /api/graph/notifications); anonymous API calls then get a redirect to sign-in instead of the app\'s 401. false: the app answers them (401 on the API, a redirect on pages).')
param requirePlatformSignIn bool = false

@description('Domain of the Message-IDs the system makes up, e.g. desk.contoso.com (SYSTEM_MAIL_DOMAIN): a real domain you own.')
param systemMailDomain string

@secure()
@description('Web session key, at least 32 random characters, stored in Key Vault as deskmail-session-key. Required on the first deployment; empty later keeps the stored one.')
param sessionKey string = ''

@secure()
@description('Thread-marker key, at least 32 random characters, stored in Key Vault as deskmail-thread-key: it signs the marker in outbound mail (docs/architecture.md). Required on the first deployment; empty later keeps the stored one.')
param threadKey string = ''

@description('Optional: object id of the person or group who puts the Graph client secrets into the vault (azd: AZURE_PRINCIPAL_ID). Gets Key Vault Secrets Officer on the vault only.')
param keyVaultAdminPrincipalId string = ''

@description('Type of keyVaultAdminPrincipalId.')
@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param keyVaultAdminPrincipalType string = 'User'

@description('Days raw mail (the raw-mail container) is kept before the lifecycle rule deletes it.')
@minValue(1)
@maxValue(36500)
param rawMailRetentionDays int = 365

@description('Days deleted or overwritten blobs and deleted containers can be restored.')
@minValue(1)
@maxValue(365)
param blobSoftDeleteDays int = 14

@description('Storage redundancy.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
  'Standard_RAGRS'
  'Standard_RAGZRS'
])
param storageSkuName string = 'Standard_GRS'

@description('Days Log Analytics keeps logs and telemetry.')
@minValue(30)
@maxValue(730)
param logRetentionDays int = 90

@description('Most instances the Function App scales out to.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Memory of one instance, in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Microsoft Graph base URL (GRAPH_API_URL); change it only for a national cloud.')
param graphApiUrl string = 'https://graph.microsoft.com/v1.0'

@description('Identity platform host (AZURE_AUTHORITY_HOST); default: this cloud\'s.')
param authorityHost string = environment().authentication.loginEndpoint

@description('Minutes after which an account\'s Last Fetch counts as stale (FETCH_STALE_MINUTES).')
param fetchStaleMinutes string = '5'

@description('What proves a staff or helpdesk From address (TRUSTED_SENDER_SIGNALS).')
param trustedSenderSignals string = 'exchange-internal,dmarc-pass'

@description('Comma-separated senders never discarded as auto-replies (AUTO_REPLY_ALLOWED_SENDERS).')
param autoReplyAllowedSenders string = ''

@description('More app settings, or overrides of the defaults (docs/configuration.md), e.g. {"MAX_ATTACHMENTS": "20"}.')
param extraAppSettings object = {}

@description('E-mail addresses the alerts go to (the action group\'s receivers), e.g. ["ops@contoso.com"]. Empty: the alerts fire and show in the portal but mail nobody.')
param alertEmailRecipients array = []

@description('Tags for every resource.')
param tags object = {}

var resourceToken = toLower(uniqueString(subscription().id, resourceGroup().id, environmentName, location))
var allTags = union(tags, {
  'azd-env-name': environmentName
  application: 'deskmail'
})
var sessionKeySecretName = 'deskmail-session-key'
var deploymentContainerName = 'app-package-${take(resourceToken, 8)}'

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    location: location
    tags: allTags
    logAnalyticsName: 'log-deskmail-${resourceToken}'
    applicationInsightsName: 'appi-deskmail-${resourceToken}'
    retentionInDays: logRetentionDays
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    location: location
    tags: allTags
    name: 'stdesk${resourceToken}'
    deploymentContainerName: deploymentContainerName
    rawMailRetentionDays: rawMailRetentionDays
    blobSoftDeleteDays: blobSoftDeleteDays
    skuName: storageSkuName
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  params: {
    location: location
    tags: allTags
    name: 'kv-desk-${take(resourceToken, 15)}'
    sessionKeySecretName: sessionKeySecretName
    sessionKey: sessionKey
    threadKeySecretName: 'deskmail-thread-key'
    threadKey: threadKey
  }
}

module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  params: {
    location: location
    tags: allTags
    siteTags: {
      'azd-service-name': 'api'
    }
    name: 'func-deskmail-${resourceToken}'
    planName: 'plan-deskmail-${resourceToken}'
    storageBlobEndpoint: storage.outputs.blobEndpoint
    deploymentContainerName: storage.outputs.deploymentContainerName
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
  }
}

module rbac 'modules/rbac.bicep' = {
  name: 'rbac'
  params: {
    principalId: functionApp.outputs.principalId
    storageAccountName: storage.outputs.name
    keyVaultName: keyVault.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    keyVaultAdminPrincipalId: keyVaultAdminPrincipalId
    keyVaultAdminPrincipalType: keyVaultAdminPrincipalType
  }
}

module alerts 'modules/alerts.bicep' = {
  name: 'alerts'
  params: {
    location: location
    tags: allTags
    namePrefix: 'deskmail-${environmentName}'
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    alertEmailRecipients: alertEmailRecipients
  }
}

module workbook 'modules/workbook.bicep' = {
  name: 'workbook'
  params: {
    location: location
    tags: allTags
    applicationInsightsName: monitoring.outputs.applicationInsightsName
  }
}

module appConfig 'modules/appconfig.bicep' = {
  name: 'appconfig'
  dependsOn: [
    rbac
  ]
  params: {
    siteName: functionApp.outputs.name
    hostName: functionApp.outputs.defaultHostName
    storageAccountName: storage.outputs.name
    keyVaultUri: keyVault.outputs.uri
    keyVaultName: keyVault.outputs.name
    sessionKeySecretName: sessionKeySecretName
    applicationInsightsConnectionString: monitoring.outputs.applicationInsightsConnectionString
    webAuthClientId: webAuthClientId
    webAuthTenantId: webAuthTenantId
    requirePlatformSignIn: requirePlatformSignIn
    systemMailDomain: systemMailDomain
    graphApiUrl: graphApiUrl
    authorityHost: authorityHost
    fetchStaleMinutes: fetchStaleMinutes
    trustedSenderSignals: trustedSenderSignals
    autoReplyAllowedSenders: autoReplyAllowedSenders
    extraAppSettings: extraAppSettings
  }
}

// What the admin needs next (docs/deployment.md, "After the deployment")
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output AZURE_KEY_VAULT_ENDPOINT string = keyVault.outputs.uri
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output APPLICATIONINSIGHTS_NAME string = monitoring.outputs.applicationInsightsName
output APP_URL string = 'https://${functionApp.outputs.defaultHostName}'
output AUTHORIZE_REDIRECT_URI string = 'https://${functionApp.outputs.defaultHostName}/admin/emails/consent'
output EASY_AUTH_CALLBACK_URI string = 'https://${functionApp.outputs.defaultHostName}/.auth/login/aad/callback'
