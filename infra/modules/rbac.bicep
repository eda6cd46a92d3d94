// Role assignments of the Function App's managed identity: exactly the data roles it uses,
// each scoped to the one resource it is used on. No Owner, no Contributor, nothing at
// resource group or subscription scope. Built-in role definition ids (they are the same in
// every tenant): https://learn.microsoft.com/azure/role-based-access-control/built-in-roles

@description('Object id of the Function App\'s system-assigned identity.')
param principalId string

@description('Storage account the app uses.')
param storageAccountName string

@description('Key Vault the app uses.')
param keyVaultName string

@description('Application Insights component the app sends telemetry to.')
param applicationInsightsName string

@description('Optional: object id of a person or group who manages the Graph client secrets in the vault (Key Vault Secrets Officer on this vault only). Empty: none.')
param keyVaultAdminPrincipalId string = ''

@description('Type of keyVaultAdminPrincipalId.')
@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param keyVaultAdminPrincipalType string = 'User'

// Storage Blob Data Owner: the app's containers and the deployment package, and blob leases
// (fetch-leases, the Functions host's own leases); Owner rather than Contributor because the
// Functions host's identity-based AzureWebJobsStorage needs it (Microsoft's guidance).
var storageBlobDataOwner = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
// Storage Table Data Contributor: tickets, accounts, the logs and indexes (names.py TABLES).
var storageTableDataContributor = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
// Storage Queue Data Contributor: fetch-jobs, outbound-mail and their poison queues (the
// queue triggers read and delete, the app sends and hides messages).
var storageQueueDataContributor = '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
// Key Vault Secrets Officer: the app reads the mailbox accounts' client secrets AND writes
// them (the admin page's Remote mailbox form stores a new client secret; Secrets User could
// only read). Also covers the DESKMAIL_SESSION_KEY Key Vault reference.
var keyVaultSecretsOfficer = 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'
// Monitoring Metrics Publisher: telemetry ingestion with Entra ID (local auth is off).
var monitoringMetricsPublisher = '3913510d-42f4-4e42-8a64-420c390055eb'

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource blobDataOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, principalId, storageBlobDataOwner)
  scope: storage
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataOwner)
  }
}

resource tableDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, principalId, storageTableDataContributor)
  scope: storage
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageTableDataContributor)
  }
}

resource queueDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, principalId, storageQueueDataContributor)
  scope: storage
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageQueueDataContributor)
  }
}

resource secretsOfficer 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, principalId, keyVaultSecretsOfficer)
  scope: vault
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsOfficer)
  }
}

resource metricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, principalId, monitoringMetricsPublisher)
  scope: applicationInsights
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringMetricsPublisher)
  }
}

resource adminSecretsOfficer 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(keyVaultAdminPrincipalId)) {
  name: guid(vault.id, keyVaultAdminPrincipalId, keyVaultSecretsOfficer)
  scope: vault
  properties: {
    principalId: keyVaultAdminPrincipalId
    principalType: keyVaultAdminPrincipalType
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsOfficer)
  }
}
