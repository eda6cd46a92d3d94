// The operations workbook (issue 9 §2): per account Last Fetch, mail fetched and tickets
// created over time, discards by rule, quarantine, send failures by error code, spoof
// rejections and queue depths, all from the app's customEvents. Its content is
// infra/workbook/deskmail.workbook.json (the Advanced Editor's JSON), its placeholder
// __APPLICATION_INSIGHTS_ID__ replaced by the component it reads.

@description('Azure region of the workbook.')
param location string

@description('Tags for every resource.')
param tags object = {}

@description('Application Insights component the workbook reads.')
param applicationInsightsName string

@description('Name shown in the portal.')
param displayName string = 'deskmail operations'

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: guid(resourceGroup().id, applicationInsightsName, 'deskmail-operations-workbook')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: displayName
    category: 'workbook'
    sourceId: applicationInsights.id
    serializedData: replace(loadTextContent('../workbook/deskmail.workbook.json'), '__APPLICATION_INSIGHTS_ID__', applicationInsights.id)
  }
}

output workbookId string = workbook.id
