// The alerts of issue 9 §2 and the action group that mails them. Each alert is a log search
// alert over Application Insights whose KQL lives in infra/alerts/*.kql (tested against the
// customEvents the app really emits: tests/telemetry/). Every query returns one row per thing
// that is wrong (an account, a poison queue, a function) and the rule fires when it returns
// any row, split by that thing, so each account or queue is its own alert, resolved on its
// own once its query stops returning it. docs/operations.md, "Telemetry, workbook and alerts",
// says what to do about each.

@description('Azure region of the alert rules.')
param location string

@description('Tags for every resource.')
param tags object = {}

@description('Name prefix of the rules and the action group, e.g. deskmail-prod.')
param namePrefix string

@description('Application Insights component the queries run on.')
param applicationInsightsName string

@description('E-mail addresses the alerts are sent to (the action group\'s receivers). Empty: the alerts still fire and show in the portal, but mail nobody.')
param alertEmailRecipients array = []

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: 'ag-${namePrefix}'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'deskmail'
    enabled: true
    emailReceivers: [for (address, index) in alertEmailRecipients: {
      name: 'recipient-${index}'
      emailAddress: address
      useCommonAlertSchema: true
    }]
  }
}

// No successful fetch for an account for more than 5 minutes.
resource fetchStale 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: '${namePrefix}-fetch-stale'
  location: location
  tags: tags
  properties: {
    displayName: 'deskmail: no successful fetch for an account for more than 5 minutes'
    description: 'An account\'s fetch runs keep failing (sign-in, Graph or storage). docs/operations.md, "Telemetry, workbook and alerts".'
    severity: 1
    enabled: true
    scopes: [
      applicationInsights.id
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT1H'
    criteria: {
      allOf: [
        {
          query: loadTextContent('../alerts/fetch-stale.kql')
          timeAggregation: 'Count'
          dimensions: [
            {
              name: 'account'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

// Any message in a poison queue.
resource poisonQueue 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: '${namePrefix}-poison-queue'
  location: location
  tags: tags
  properties: {
    displayName: 'deskmail: a message is in a poison queue'
    description: 'A notification or a fetch job gave up and waits in outbound-mail-poison or fetch-jobs-poison. docs/operations.md, "Telemetry, workbook and alerts".'
    severity: 2
    enabled: true
    scopes: [
      applicationInsights.id
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT10M'
    criteria: {
      allOf: [
        {
          query: loadTextContent('../alerts/poison-queue.kql')
          timeAggregation: 'Count'
          dimensions: [
            {
              name: 'queue'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

// Function executions that failed, and exceptions.
resource functionFailures 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: '${namePrefix}-function-failures'
  location: location
  tags: tags
  properties: {
    displayName: 'deskmail: function failures'
    description: 'A function execution failed or raised. docs/operations.md, "Telemetry, workbook and alerts".'
    severity: 2
    enabled: true
    scopes: [
      applicationInsights.id
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      allOf: [
        {
          query: loadTextContent('../alerts/function-failures.kql')
          timeAggregation: 'Count'
          dimensions: [
            {
              name: 'operation'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

// The app is not running at all: no fetch run of any account for 10 minutes.
resource appSilent 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: '${namePrefix}-app-silent'
  location: location
  tags: tags
  properties: {
    displayName: 'deskmail: no fetch run of any account for 10 minutes'
    description: 'The Function App is stopped, cannot start, or its timer does not run (also fires while no account is enabled for fetching). docs/operations.md, "Telemetry, workbook and alerts".'
    severity: 0
    enabled: true
    scopes: [
      applicationInsights.id
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT10M'
    criteria: {
      allOf: [
        {
          query: loadTextContent('../alerts/app-silent.kql')
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

output actionGroupName string = actionGroup.name
output alertRuleNames array = [
  fetchStale.name
  poisonQueue.name
  functionFailures.name
  appSilent.name
]
