// The storage account: deskmail's tables, blob containers and queues (shared_code/adapters/
// names.py; tests/infra/test_bicep.py checks these lists against it) and the Flex Consumption
// deployment container. Reached by identity only: shared-key access off, so no connection
// string or account key exists anywhere; public blob access off; TLS 1.2 minimum.

@description('Azure region.')
param location string

@description('Tags for every resource.')
param tags object = {}

@description('Storage account name (3-24 lower-case letters and digits).')
@minLength(3)
@maxLength(24)
param name string

@description('Blob container Flex Consumption deploys the app package to.')
param deploymentContainerName string

@description('Days after which raw mail (the raw-mail container, every fetched mail as received) is deleted.')
@minValue(1)
@maxValue(36500)
param rawMailRetentionDays int = 365

@description('Days a deleted or overwritten blob (and a deleted container) can be restored.')
@minValue(1)
@maxValue(365)
param blobSoftDeleteDays int = 14

@description('Storage redundancy: geo-redundant by default, since the tables are the helpdesk\'s system of record.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
  'Standard_RAGRS'
  'Standard_RAGZRS'
])
param skuName string = 'Standard_GRS'

// shared_code/adapters/names.py: TABLES, CONTAINERS, QUEUES (poison queues included)
var tableNames = [
  'tickets'
  'messageindex'
  'ingestledger'
  'emailaccounts'
  'departments'
  'staff'
  'templates'
  'systemlog'
  'sendcounters'
  'deliveries'
  'quarantine'
  'apirequests'
  'reconcilemarks'
  'undeliverable'
  'filters'
  'graphsubscriptions'
  'systemmail'
]
var containerNames = [
  'raw-mail'
  'attachments'
  'bodies'
  'fetch-leases'
]
var queueNames = [
  'fetch-jobs'
  'outbound-mail'
  'outbound-mail-poison'
  'fetch-jobs-poison'
]

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_35: Flex Consumption without a virtual network reaches storage over its public endpoint; every request needs an Entra token (shared keys are off) and a data role
  // checkov:skip=CKV_AZURE_59: same as CKV_AZURE_35: the public endpoint stays reachable, anonymous and key access are off
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: skuName
  }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    allowCrossTenantReplication: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
    encryption: {
      keySource: 'Microsoft.Storage'
      requireInfrastructureEncryption: true
      services: {
        blob: {
          enabled: true
        }
        file: {
          enabled: true
        }
        queue: {
          enabled: true
          keyType: 'Account'
        }
        table: {
          enabled: true
          keyType: 'Account'
        }
      }
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: blobSoftDeleteDays
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: blobSoftDeleteDays
    }
  }
}

resource containers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [for containerName in containerNames: {
  parent: blobService
  name: containerName
  properties: {
    publicAccess: 'None'
  }
}]

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource tables 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = [for tableName in tableNames: {
  parent: tableService
  name: tableName
}]

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource queues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = [for queueName in queueNames: {
  parent: queueService
  name: queueName
}]

// Raw mail retention: every fetched mail is kept in raw-mail as received (docs/operations.md);
// this rule deletes it after rawMailRetentionDays. Tickets keep their text and attachments.
resource lifecycle 'Microsoft.Storage/storageAccounts/managementPolicies@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    policy: {
      rules: [
        {
          name: 'raw-mail-retention'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: {
              blobTypes: [
                'blockBlob'
              ]
              prefixMatch: [
                'raw-mail/'
              ]
            }
            actions: {
              baseBlob: {
                delete: {
                  daysAfterCreationGreaterThan: rawMailRetentionDays
                }
              }
            }
          }
        }
      ]
    }
  }
}

output name string = storage.name
output blobEndpoint string = storage.properties.primaryEndpoints.blob
output deploymentContainerName string = deploymentContainer.name
