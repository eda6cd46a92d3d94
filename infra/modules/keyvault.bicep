// The Key Vault: the mailbox accounts' Graph client secrets (written by the admin pages or
// the portal, read by the app) and the web session key. RBAC authorization (no access
// policies), soft delete and purge protection: a deleted secret can be recovered and no one
// can purge it before the retention period ends.

@description('Azure region.')
param location string

@description('Tags for every resource.')
param tags object = {}

@description('Key Vault name (3-24 characters).')
@minLength(3)
@maxLength(24)
param name string

@description('Days a deleted vault or secret can be recovered (7-90).')
@minValue(7)
@maxValue(90)
param softDeleteRetentionInDays int = 90

@description('Name of the secret that holds the web session key (DESKMAIL_SESSION_KEY).')
param sessionKeySecretName string

@secure()
@description('The web session key (at least 32 characters). Empty: the secret is left as it is (set it on the first deployment).')
param sessionKey string = ''

@description('Name of the secret that signs the thread markers of outbound mail (deskmail-thread-key).')
param threadKeySecretName string

@secure()
@description('The thread-marker key (at least 32 characters). Empty: the secret is left as it is (set it on the first deployment).')
param threadKey string = ''

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  // checkov:skip=CKV_AZURE_109: Flex Consumption without a virtual network reaches the vault over its public endpoint; every request needs an Entra token and an RBAC role on this vault
  // checkov:skip=CKV_AZURE_189: same as CKV_AZURE_109
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: softDeleteRetentionInDays
    enablePurgeProtection: true
    enabledForDeployment: false
    enabledForDiskEncryption: false
    enabledForTemplateDeployment: false
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource sessionKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(sessionKey)) {
  // checkov:skip=CKV_AZURE_114: false positive: contentType is set below; checkov does not look inside a conditional (if) resource
  // checkov:skip=CKV_AZURE_41: the session key is rotated by deploying a new one; an expiry date would stop every sign-in the day it passed
  parent: vault
  name: sessionKeySecretName
  properties: {
    value: sessionKey
    contentType: 'deskmail web session key'
  }
}

resource threadKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(threadKey)) {
  // checkov:skip=CKV_AZURE_114: false positive: contentType is set below; checkov does not look inside a conditional (if) resource
  // checkov:skip=CKV_AZURE_41: rotated by moving it to deskmail-thread-key-previous (docs/configuration.md); an expiry date would stop every send the day it passed
  parent: vault
  name: threadKeySecretName
  properties: {
    value: threadKey
    contentType: 'deskmail thread-marker key'
  }
}

output name string = vault.name
output uri string = vault.properties.vaultUri
