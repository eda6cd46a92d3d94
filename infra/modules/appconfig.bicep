// The Function App's app settings and App Service Authentication (Easy Auth). Separate from
// functionapp.bicep because the settings name the app's own host name (links in mail) and
// must be applied after rbac.bicep: the DESKMAIL_SESSION_KEY Key Vault reference resolves
// with the app's identity when the app starts.

@description('Function App name.')
param siteName string

@description('The app\'s public host name (links in mail, sign-in callback).')
param hostName string

@description('Storage account the app connects to by identity.')
param storageAccountName string

@description('Key Vault URI (https://<vault>.vault.azure.net/).')
param keyVaultUri string

@description('Key Vault name (for the session key reference).')
param keyVaultName string

@description('Secret holding the web session key.')
param sessionKeySecretName string

@description('Application Insights connection string (an endpoint and component id, not a credential: local auth is off).')
param applicationInsightsConnectionString string

@description('Client id of the app registration people sign in to (Easy Auth).')
param webAuthClientId string

@description('Tenant of that app registration.')
param webAuthTenantId string

@description('Domain of Message-IDs the system makes up (SYSTEM_MAIL_DOMAIN).')
param systemMailDomain string

@description('Microsoft Graph base URL (GRAPH_API_URL).')
param graphApiUrl string

@description('Identity platform host (AZURE_AUTHORITY_HOST).')
param authorityHost string

@description('Minutes after which a Last Fetch is stale (FETCH_STALE_MINUTES; decimals allowed).')
param fetchStaleMinutes string

@description('What proves a staff From address (TRUSTED_SENDER_SIGNALS).')
param trustedSenderSignals string

@description('Senders never discarded as auto-replies (AUTO_REPLY_ALLOWED_SENDERS).')
param autoReplyAllowedSenders string

@description('Whether the platform itself refuses anonymous requests (except /health, /api/notifications and /api/graph/notifications) instead of letting the app answer them.')
param requirePlatformSignIn bool = false

@description('More app settings, or overrides of the ones below (docs/configuration.md).')
param extraAppSettings object = {}

// paths that stay anonymous when requirePlatformSignIn is on: uptime checks, and machine
// callers of POST /api/notifications, which use a function key, and Graph's change
// notifications (POST /api/graph/notifications, proven by their clientState)
var platformSignInExceptions = [
  '/health'
  '/api/notifications'
  '/api/graph/notifications'
]

// the issuer needs exactly one slash between host and tenant
var authority = endsWith(authorityHost, '/') ? authorityHost : '${authorityHost}/'

resource site 'Microsoft.Web/sites@2024-04-01' existing = {
  name: siteName
}

// Every setting shared_code/config.py and shared_code/web/settings.py read
// (tests/infra/test_bicep.py checks the list). Flex Consumption refuses
// FUNCTIONS_WORKER_RUNTIME and FUNCTIONS_EXTENSION_VERSION: functionAppConfig.runtime says both.
var appSettings = {
  // storage by identity (the Functions host and shared_code/adapters/storage.py)
  AzureWebJobsStorage__accountName: storageAccountName
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD'
  KEY_VAULT_URL: keyVaultUri
  GRAPH_API_URL: graphApiUrl
  AZURE_AUTHORITY_HOST: authorityHost
  // the public address written into mail (ticket links)
  TICKET_URL_BASE: 'https://${hostName}/tickets'
  // push ingestion: Graph posts change notifications here (docs/architecture.md)
  GRAPH_NOTIFICATION_URL: 'https://${hostName}/api/graph/notifications'
  SYSTEM_MAIL_DOMAIN: systemMailDomain
  // the web face: Easy Auth signs people in; the app refuses to start unless the platform
  // feature is on (WEBSITE_AUTH_ENABLED=True, set by the platform from authsettingsV2 below)
  DESKMAIL_AUTH: 'easyauth'
  DESKMAIL_SESSION_KEY: '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=${sessionKeySecretName})'
  FETCH_STALE_MINUTES: fetchStaleMinutes
  // content and fetching: the code's defaults, stated so the portal shows them
  REPLY_SEPARATOR: '-- reply above this line --'
  MAX_ATTACHMENT_BYTES: '26214400'
  MAX_ATTACHMENTS: '50'
  FETCH_TIME_BUDGET_SECONDS: '240'
  FETCH_OVERLAP_SECONDS: '300'
  FETCH_LOOKBACK_HOURS: '24'
  FETCH_MAILS_IN_FLIGHT: '4'
  GRAPH_MAX_CONCURRENCY: '4'
  GRAPH_MAX_RETRIES: '4'
  MAX_PROCESSING_ATTEMPTS: '3'
  AUTO_REPLY_ALLOWED_SENDERS: autoReplyAllowedSenders
  TRUSTED_SENDER_SIGNALS: trustedSenderSignals
  NO_REPLY_PATTERN: ''
  AUTO_RESPONSE_LIMIT: '5'
  AUTO_RESPONSE_WINDOW_MINUTES: '60'
  // a reply to a ticket closed longer ago, with a new subject, starts a linked new ticket
  REOPEN_WINDOW_DAYS: '30'
}

resource settings 'Microsoft.Web/sites/config@2024-04-01' = {
  // checkov:skip=CKV_AZURE_13: false positive: this is the appsettings resource; authentication is the authsettingsV2 resource below
  // checkov:skip=CKV_AZURE_63: false positive: HTTP logging is a property of a site's web config, not of this resource; on Flex Consumption requests are logged by Application Insights
  // checkov:skip=CKV_AZURE_65: false positive: a web-config property (detailed error pages) this resource does not have; errors go to Application Insights
  // checkov:skip=CKV_AZURE_66: false positive: a web-config property (failed request tracing, IIS) this resource does not have
  // checkov:skip=CKV_AZURE_80: false positive: .NET Framework version does not apply to a Python app
  // checkov:skip=CKV_AZURE_88: false positive: Azure Files mounts do not apply; the app's data lives in Table and Blob storage reached by identity
  // checkov:skip=CKV_AZURE_222: the app is the staff's web app and must be reachable; sign-in is App Service Authentication with Microsoft Entra ID (authsettingsV2) and the app's role checks
  parent: site
  name: 'appsettings'
  properties: union(appSettings, extraAppSettings)
}

// App Service Authentication with Microsoft Entra ID: the platform validates every sign-in
// and bearer token and is the only source of the X-MS-CLIENT-PRINCIPAL headers (it strips
// any a client sends), which is why the app trusts them only when this is on. By default it
// lets anonymous requests through to the app, which answers them as issue 8 specifies (401
// JSON on /api/ and /attachments/, a redirect to sign-in on pages, /health open); its access
// rules are tested route by route. requirePlatformSignIn makes the platform refuse them too
// (defence in depth), except /health (uptime checks) and /api/notifications (function key).
// No client secret: sign-in uses ID tokens (enable "ID tokens" on the app registration,
// docs/deployment.md); the token store is off (the app never calls Graph as the user).
resource auth 'Microsoft.Web/sites/config@2024-04-01' = {
  // checkov:skip=CKV_AZURE_13: false positive: the check reads the retired authsettings schema (properties.enabled); authsettingsV2 says platform.enabled: true (tests/infra/test_bicep.py checks it)
  // checkov:skip=CKV_AZURE_63: false positive: HTTP logging is a property of a site's web config, not of this resource; on Flex Consumption requests are logged by Application Insights
  // checkov:skip=CKV_AZURE_65: false positive: a web-config property (detailed error pages) this resource does not have; errors go to Application Insights
  // checkov:skip=CKV_AZURE_66: false positive: a web-config property (failed request tracing, IIS) this resource does not have
  // checkov:skip=CKV_AZURE_80: false positive: .NET Framework version does not apply to a Python app
  // checkov:skip=CKV_AZURE_88: false positive: Azure Files mounts do not apply; the app's data lives in Table and Blob storage reached by identity
  // checkov:skip=CKV_AZURE_222: the app is the staff's web app and must be reachable; sign-in is App Service Authentication with Microsoft Entra ID (authsettingsV2) and the app's role checks
  parent: site
  name: 'authsettingsV2'
  // two config writes to one site at once can fail with a conflict
  dependsOn: [
    settings
  ]
  properties: {
    platform: {
      enabled: true
      runtimeVersion: '~1'
    }
    globalValidation: {
      requireAuthentication: requirePlatformSignIn
      unauthenticatedClientAction: requirePlatformSignIn ? 'RedirectToLoginPage' : 'AllowAnonymous'
      redirectToProvider: 'azureactivedirectory'
      excludedPaths: requirePlatformSignIn ? platformSignInExceptions : []
    }
    httpSettings: {
      requireHttps: true
      routes: {
        apiPrefix: '/.auth'
      }
      forwardProxy: {
        convention: 'NoProxy'
      }
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: webAuthClientId
          openIdIssuer: '${authority}${webAuthTenantId}/v2.0'
        }
        validation: {
          allowedAudiences: [
            'api://${webAuthClientId}'
            webAuthClientId
          ]
        }
      }
    }
    login: {
      tokenStore: {
        enabled: false
      }
      preserveUrlFragmentsForLogins: true
    }
  }
}
