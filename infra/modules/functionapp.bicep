// The Function App on the Flex Consumption plan (FC1), Python 3.11, with a system-assigned
// managed identity. Its code is deployed to a blob container that the platform reads with
// that identity. The app settings and App Service Authentication are set by appconfig.bicep,
// after rbac.bicep has given the identity its roles (Key Vault references resolve at start).

@description('Azure region.')
param location string

@description('Tags for every resource.')
param tags object = {}

@description('Tags of the site only (azd finds the service to deploy by azd-service-name).')
param siteTags object = {}

@description('Function App name (its host is <name>.azurewebsites.net).')
param name string

@description('Flex Consumption plan name.')
param planName string

@description('Blob endpoint of the storage account (https://<account>.blob.core.windows.net/).')
param storageBlobEndpoint string

@description('Container of the deployment package.')
param deploymentContainerName string

@description('Most instances the app scales out to.')
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

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225: zone redundancy of Flex Consumption is a per-region option and changes pricing; a zone outage delays fetching by minutes, and queued work is kept in storage
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
  // checkov:skip=CKV_AZURE_17: staff sign in with Microsoft Entra ID (App Service Authentication); client certificates would lock out browsers and /health uptime checks
  // checkov:skip=CKV_AZURE_212: Flex Consumption scales instances by itself; there is no worker count to set
  // checkov:skip=CKV_AZURE_213: the app's /health answers 503 when a mailbox's fetch is stale, which the platform's health check would take for a broken instance and replace; fetch health is watched by alerts
  // checkov:skip=CKV_AZURE_222: the app is the staff's web app and must be reachable; sign-in is App Service Authentication with Microsoft Entra ID and the app's role checks (appconfig.bicep)
  name: name
  location: location
  tags: union(tags, siteTags)
  kind: 'functionapp,linux'
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    publicNetworkAccess: 'Enabled'
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storageBlobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'SystemAssignedIdentity'
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
  }
}

// No FTP or basic-auth deployment: azd and the CLI deploy with an Entra token.
resource ftpPolicy 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmPolicy 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}

output name string = site.name
output principalId string = site.identity.principalId
output defaultHostName string = site.properties.defaultHostName
