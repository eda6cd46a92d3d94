"""The Bicep of infra/ says what issue 9 asks, checked on the parse tree (the Bicep compiler
cannot run here): Flex Consumption with Python 3.11 and a managed identity, identity-based
connections only, hardened storage and Key Vault, data roles scoped to single resources,
Easy Auth on, no secret in any file, and every setting the code reads."""
from __future__ import annotations

import base64
import math
import re
from collections import Counter

import pytest

from shared_code.adapters import names
from tests.infra import bicep as t

# Built-in role definitions the app's identity may hold (data roles only), by id.
DATA_ROLES = {
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": "Storage Blob Data Owner",
    "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3": "Storage Table Data Contributor",
    "974c5e8b-45b9-4653-ba55-5f855dd0fb88": "Storage Queue Data Contributor",
    "b86a8fe4-44ce-4948-aee5-eccb2c155cd7": "Key Vault Secrets Officer",
    "3913510d-42f4-4e42-8a64-420c390055eb": "Monitoring Metrics Publisher",
}
FORBIDDEN_ROLES = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": "Owner",
    "b24988ac-6180-42a0-ab88-20f7382dd24c": "Contributor",
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": "User Access Administrator",
}


def test_every_template_parses_and_main_uses_every_module():
    files = t.bicep_files()
    assert t.MAIN in files and len(files) >= 6
    for path in files:
        assert t.parse(path), path
    modules = t.parse(t.MAIN)["modules"]
    used = {body["detail"]["path"] for body in modules.values()}
    assert used == {f"modules/{p.name}" for p in (t.INFRA / "modules").glob("*.bicep")}
    for path in files:
        assert t.parse(path)["globals"]["scope"]["value"] == "resourceGroup", path


def test_function_app_runs_on_flex_consumption_with_python_311_and_a_managed_identity():
    plan = t.one("Microsoft.Web/serverfarms")
    assert plan.config["sku"] == {"name": "FC1", "tier": "FlexConsumption"}
    site = t.one("Microsoft.Web/sites")
    assert site.config["kind"] == "functionapp,linux"
    assert site.config["identity"] == {"type": "SystemAssigned"}
    assert site.properties["httpsOnly"] is True
    assert site.properties["siteConfig"]["minTlsVersion"] == "1.2"
    assert site.properties["siteConfig"]["ftpsState"] == "Disabled"
    config = site.properties["functionAppConfig"]
    assert config["runtime"] == {"name": "python", "version": "3.11"}
    storage = config["deployment"]["storage"]
    assert storage["type"] == "blobContainer"
    assert storage["authentication"] == {"type": "SystemAssignedIdentity"}
    policies = t.resources("Microsoft.Web/sites/basicPublishingCredentialsPolicies")
    assert sorted(p.config["name"] for p in policies) == ["ftp", "scm"]
    assert all(p.properties["allow"] is False for p in policies)


def test_storage_account_refuses_keys_anonymous_blobs_and_old_tls():
    account = t.one("Microsoft.Storage/storageAccounts").properties
    assert account["allowSharedKeyAccess"] is False
    assert account["allowBlobPublicAccess"] is False
    assert account["minimumTlsVersion"] == "TLS1_2"
    assert account["supportsHttpsTrafficOnly"] is True
    assert account["defaultToOAuthAuthentication"] is True
    blob = t.one("Microsoft.Storage/storageAccounts/blobServices").properties
    assert blob["deleteRetentionPolicy"] == {"enabled": True, "days": "blobSoftDeleteDays"}
    assert blob["containerDeleteRetentionPolicy"]["enabled"] is True
    for container in t.resources("Microsoft.Storage/storageAccounts/blobServices/containers"):
        assert container.properties["publicAccess"] == "None", container.symbol


def test_raw_mail_retention_is_a_lifecycle_rule_set_by_a_parameter():
    policy = t.one("Microsoft.Storage/storageAccounts/managementPolicies").properties["policy"]
    (rule,) = policy["rules"]
    assert rule["enabled"] is True
    assert rule["definition"]["filters"]["prefixMatch"] == [f"{names.RAW_MAIL}/"]
    delete = rule["definition"]["actions"]["baseBlob"]["delete"]
    assert delete == {"daysAfterCreationGreaterThan": "rawMailRetentionDays"}
    assert "rawMailRetentionDays" in t.parameters("storage.bicep")
    passed = t.parse(t.MAIN)["modules"]["storage"]["config"]["params"]
    assert passed["rawMailRetentionDays"] == "rawMailRetentionDays"
    assert t.parameters("main.bicep")["rawMailRetentionDays"]["type"] == "int"


def test_storage_layout_is_the_one_names_py_lists():
    layout = t.variables("storage.bicep")
    assert tuple(layout["tableNames"]) == names.TABLES
    assert tuple(layout["containerNames"]) == names.CONTAINERS
    assert tuple(layout["queueNames"]) == names.QUEUES
    assert {names.OUTBOUND_POISON, names.FETCH_POISON} <= set(layout["queueNames"])
    loops = {r.loop["detail"]["array_name"] for r in t.resources() if r.loop}
    assert {"tableNames", "containerNames", "queueNames"} <= loops
    # the Flex Consumption deployment container is there too, and is the one the app reads
    deployment = t.by_symbol("storage.bicep", "deploymentContainer")
    assert deployment.config["name"] == "deploymentContainerName"


def test_key_vault_uses_rbac_soft_delete_and_purge_protection():
    vault = t.one("Microsoft.KeyVault/vaults").properties
    assert vault["enableRbacAuthorization"] is True
    assert vault["enableSoftDelete"] is True
    assert vault["enablePurgeProtection"] is True
    assert "accessPolicies" not in vault


def test_the_thread_marker_key_is_a_secure_parameter_kept_in_key_vault():
    """deskmail-thread-key (domain/thread_marker.py): made by the preprovision hook, passed as
    a @secure() parameter, written only when given (a later empty deploy keeps it)."""
    from shared_code.domain.thread_marker import THREAD_KEY_SECRET

    main = t.parameters("main.bicep")
    assert {"type": "secure"} in main["threadKey"]["decorators"] and main["threadKey"]["default"] == ""
    assert t.parameter_file()["threadKey"]["value"] == "${DESKMAIL_THREAD_KEY}"
    text = (t.INFRA / "main.bicep").read_text()
    assert f"threadKeySecretName: '{THREAD_KEY_SECRET}'" in text
    vault = (t.INFRA / "modules" / "keyvault.bicep").read_text()
    assert "resource threadKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(threadKey))" in vault


def test_application_insights_is_workspace_based_with_entra_ingestion_only():
    component = t.one("Microsoft.Insights/components").properties
    assert component["WorkspaceResourceId"]
    assert component["DisableLocalAuth"] is True
    settings = t.app_settings()
    assert settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"] == "Authorization=AAD"


def _role_id(file_name: str, definition) -> str:
    call = definition["function"]
    assert call["type"] == "subscription_resource_id"
    assert call["parameters"]["resource_type"] == "Microsoft.Authorization/roleDefinitions"
    return t.variables(file_name)[call["parameters"]["resource_name_1"]]


def test_each_role_assignment_names_a_data_role_on_one_resource():
    assignments = t.resources("Microsoft.Authorization/roleAssignments")
    assert assignments
    granted = set()
    for item in assignments:
        scope = item.config.get("scope")
        assert isinstance(scope, str), f"{item.symbol}: scope must be one resource"
        target = t.by_symbol(item.file, scope)
        assert target.existing and target.loop is None, f"{item.symbol}: {scope} is not one resource"
        role = _role_id(item.file, item.properties["roleDefinitionId"])
        assert role not in FORBIDDEN_ROLES, f"{item.symbol}: {FORBIDDEN_ROLES.get(role)}"
        assert role in DATA_ROLES, f"{item.symbol}: {role} is not a data role"
        if item.properties["principalId"] == "principalId":  # the app's identity
            granted.add((DATA_ROLES[role], target.type))
    assert granted == {
        ("Storage Blob Data Owner", "Microsoft.Storage/storageAccounts"),
        ("Storage Table Data Contributor", "Microsoft.Storage/storageAccounts"),
        ("Storage Queue Data Contributor", "Microsoft.Storage/storageAccounts"),
        ("Key Vault Secrets Officer", "Microsoft.KeyVault/vaults"),
        ("Monitoring Metrics Publisher", "Microsoft.Insights/components"),
    }
    text = "\n".join(p.read_text() for p in t.bicep_files())
    assert "targetScope = 'subscription'" not in text
    assert not re.search(r"scope:\s*(subscription|resourceGroup|managementGroup|tenant)\(", text)
    passed = t.parse(t.MAIN)["modules"]["rbac"]["config"]["params"]["principalId"]
    assert "functionApp" in str(passed) and "principalId" in str(passed)


def test_easy_auth_is_on_with_entra_id_and_the_app_trusts_it():
    auth = [r for r in t.resources("Microsoft.Web/sites/config") if r.config["name"] == "authsettingsV2"]
    assert len(auth) == 1
    properties = auth[0].properties
    assert properties["platform"]["enabled"] is True
    validation = properties["globalValidation"]
    # by default anonymous requests reach the app (issue 8: 401 on the API, a redirect on
    # pages); with requirePlatformSignIn the platform refuses them, /health and the
    # function-key endpoint excepted
    assert validation["requireAuthentication"] == "requirePlatformSignIn"
    action = validation["unauthenticatedClientAction"]["operator"]
    assert action["operands"] == {"condition": "requirePlatformSignIn",
                                  "true_value": "RedirectToLoginPage", "false_value": "AllowAnonymous"}
    excluded = validation["excludedPaths"]["operator"]["operands"]
    assert excluded["condition"] == "requirePlatformSignIn" and excluded["false_value"] == []
    assert t.variables("appconfig.bicep")[excluded["true_value"]] == ["/health", "/api/notifications",
                                                                       "/api/graph/notifications"]
    assert t.parameters("main.bicep")["requirePlatformSignIn"]["default"] is False
    assert t.parse(t.MAIN)["modules"]["appConfig"]["config"]["params"]["requirePlatformSignIn"] == "requirePlatformSignIn"
    entra = properties["identityProviders"]["azureActiveDirectory"]
    assert entra["enabled"] is True
    assert entra["registration"]["clientId"] == "webAuthClientId"
    assert properties["httpSettings"]["requireHttps"] is True
    assert properties["login"]["tokenStore"]["enabled"] is False
    main_params = t.parameters("main.bicep")
    assert main_params["webAuthClientId"]["default"] is None  # the admin must give it
    assert t.parse(t.MAIN)["modules"]["appConfig"]["config"]["params"]["webAuthClientId"] == "webAuthClientId"
    assert t.app_settings()["DESKMAIL_AUTH"] == "easyauth"


def test_storage_is_reached_by_identity_only():
    settings = t.app_settings()
    assert settings["AzureWebJobsStorage__accountName"] == "storageAccountName"
    assert "AzureWebJobsStorage" not in settings
    text = "\n".join(p.read_text() for p in t.INFRA.rglob("*") if p.is_file())
    for marker in ("AccountKey", "listKeys", "listAccountSas", "listServiceSas",
                   "DefaultEndpointsProtocol", "SharedAccessSignature", "UseDevelopmentStorage"):
        assert marker.lower() not in text.lower(), marker


def _entropy(text: str) -> float:
    """Bits per character: a random key has over 5, a long camelCase name about 4."""
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def test_the_key_detector_tells_a_key_from_a_name():
    assert _entropy(base64.b64encode(bytes(range(7, 55))).decode()) > 4.3
    assert _entropy("applicationInsightsConnectionString") < 4.3


def test_no_secret_value_in_any_template_or_parameter_file():
    for path in t.bicep_files():
        for name, body in t.parse(path)["parameters"].items():
            if any(d["type"] == "secure" for d in body["decorators"]):
                assert body.get("default") in (None, ""), f"{path.name}: {name} has a default"
    for name, entry in t.parameter_file().items():
        value = entry.get("value")
        assert isinstance(value, str) and re.fullmatch(r"\$\{[A-Z_]+(=[^}]*)?\}", value), name
        assert "reference" not in entry
    settings = t.app_settings()
    assert settings["DESKMAIL_SESSION_KEY"].startswith("@Microsoft.KeyVault(")
    files = [*t.bicep_files(), t.INFRA / "main.parameters.json", t.ROOT / "azure.yaml",
             *(t.INFRA / "hooks").iterdir()]
    for path in files:
        for token in re.findall(r"[A-Za-z0-9+/=]{32,}", path.read_text()):
            assert _entropy(token) < 4.3, f"{path.name}: {token[:6]}... looks like a key"
    for path in t.bicep_files():
        for text in t.walk(t.parse(path)):
            assert not re.search(r"(password|secret|key)\s*=\s*\S{8,}", text, re.I), (path.name, text)


SETTINGS_SOURCES = ("shared_code/config.py", "shared_code/web/settings.py")
# read by the code, not set by the Bicep, and why
NOT_IN_BICEP = {
    "WEBSITE_INSTANCE_ID": "set by the platform on every instance",
    "WEBSITE_SITE_NAME": "set by the platform on every instance",
    "WEBSITE_AUTH_ENABLED": "set by the platform when authsettingsV2 is on",
    "DESKMAIL_DEV_USERS": "the local sign-in, refused in Azure",
    "DOCTOR_DNS_SERVER": "the doctor's name server for tests; in Azure the platform's resolver",
}
# local.settings.sample.json entries Azure does not get
LOCAL_ONLY = {
    "FUNCTIONS_WORKER_RUNTIME": "Flex Consumption refuses it: functionAppConfig.runtime says python",
    "AzureWebJobsStorage": "a connection string: Azure uses AzureWebJobsStorage__accountName",
    "DESKMAIL_GRAPH_SECRET": "a client secret in the environment, for local runs: Azure uses KEY_VAULT_URL",
    "DESKMAIL_THREAD_KEY": "the thread-marker key in the environment, for local runs: Azure uses "
                           "KEY_VAULT_URL (secret deskmail-thread-key)",
}


def settings_the_code_reads() -> set[str]:
    found = set()
    call = re.compile(r"\w\(\s*\"([A-Z][A-Z0-9_]{3,})\"")
    for source in SETTINGS_SOURCES:
        found |= set(call.findall((t.ROOT / source).read_text()))
    environ = re.compile(r"(?:environ\.get|getenv|environ\[)\(?\s*\"([A-Za-z][A-Za-z0-9_]{3,})\"")
    for path in (t.ROOT / "shared_code").rglob("*.py"):
        found |= set(environ.findall(path.read_text()))
    found |= {"WEBSITE_INSTANCE_ID", "WEBSITE_SITE_NAME"}  # config.AZURE_MARKERS
    return found


def test_every_setting_the_code_reads_is_set():
    read = settings_the_code_reads()
    assert {"KEY_VAULT_URL", "TICKET_URL_BASE", "DESKMAIL_SESSION_KEY", "FETCH_STALE_MINUTES",
            "TRUSTED_SENDER_SIGNALS", "WEBSITE_AUTH_ENABLED"} <= read  # the scan works
    settings = t.app_settings()
    missing = sorted(read - set(settings) - set(NOT_IN_BICEP))
    assert not missing, f"settings the code reads that the Bicep does not set: {missing}"
    import json

    sample = json.loads((t.ROOT / "local.settings.sample.json").read_text())["Values"]
    assert not sorted(set(sample) - set(settings) - set(LOCAL_ONLY) - set(NOT_IN_BICEP))
    for refused in ("FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_EXTENSION_VERSION", "WEBSITE_RUN_FROM_PACKAGE"):
        assert refused not in settings  # Flex Consumption rejects these


def test_parameters_file_gives_every_required_parameter():
    main = t.parameters("main.bicep")
    required = {name for name, body in main.items() if body.get("default") is None}
    given = set(t.parameter_file())
    assert required <= given
    assert given <= set(main)


def test_outputs_give_the_admin_what_comes_next():
    outputs = {name: body["value"] for name, body in t.parse(t.MAIN)["outputs"].items()}
    host = "${functionApp.outputs.defaultHostName}"
    assert outputs["APP_URL"] == f"https://{host}"
    assert outputs["AUTHORIZE_REDIRECT_URI"] == f"https://{host}/admin/emails/consent"
    assert outputs["EASY_AUTH_CALLBACK_URI"] == f"https://{host}/.auth/login/aad/callback"
    assert outputs["AZURE_KEY_VAULT_NAME"]
    settings = t.app_settings()
    assert settings["TICKET_URL_BASE"] == "https://${hostName}/tickets"
    assert "ATTACHMENT_BASE_URL" not in settings  # no longer read (attachment: references)


def test_azure_yaml_deploys_this_folder_as_a_python_function_app():
    import yaml

    project = yaml.safe_load((t.ROOT / "azure.yaml").read_text())
    assert project["services"]["api"] == {"project": ".", "language": "python", "host": "function",
                                          "remoteBuild": True}
    assert project["infra"]["path"] == "infra"
    site = t.one("Microsoft.Web/sites")
    assert "siteTags" in str(site.config["tags"])
    passed = t.parse(t.MAIN)["modules"]["functionApp"]["config"]["params"]["siteTags"]
    assert {key.strip("'"): value for key, value in passed.items()} == {"azd-service-name": "api"}
    for hook in project["hooks"]["preprovision"].values():
        assert (t.ROOT / hook["run"]).is_file()


@pytest.fixture
def azure_env(monkeypatch):
    """The environment the Bicep gives the app in Azure, with made-up resource names, the
    platform's own variables, and the Key Vault reference resolved as the platform would."""
    host = "func-deskmail-abc123.azurewebsites.net"
    main = t.parameters("main.bicep")
    values = {
        "storageAccountName": "stdeskabc123",
        "applicationInsightsConnectionString": "InstrumentationKey=00000000-0000-0000-0000-000000000000",
        "keyVaultUri": "https://kv-desk-abc123.vault.azure.net/",
        "graphApiUrl": main["graphApiUrl"]["default"],
        "authorityHost": "https://login.microsoftonline.com/",
        "systemMailDomain": "desk.contoso.com",
        "fetchStaleMinutes": main["fetchStaleMinutes"]["default"],
        "trustedSenderSignals": main["trustedSenderSignals"]["default"],
        "autoReplyAllowedSenders": main["autoReplyAllowedSenders"]["default"],
    }
    declared = t.parameters("appconfig.bicep")
    env = {}
    for name, value in t.app_settings().items():
        if value in declared:
            value = values[value]
        env[name] = value.replace("${hostName}", host)
    env["DESKMAIL_SESSION_KEY"] = "k" * 64  # what the Key Vault reference resolves to
    env.update(WEBSITE_SITE_NAME="func-deskmail-abc123", WEBSITE_INSTANCE_ID="0" * 64,
               WEBSITE_AUTH_ENABLED="True")
    monkeypatch.delenv("AzureWebJobsStorage", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def test_the_app_starts_on_the_settings_the_bicep_gives_it(azure_env):
    from shared_code.adapters.storage import StorageConnection
    from shared_code.config import Settings, running_in_azure
    from shared_code.web.settings import AuthMode, WebSettings

    assert running_in_azure()
    settings = Settings.from_env()  # raises SettingError naming a bad or missing setting
    assert settings.ticket_url_base == "https://func-deskmail-abc123.azurewebsites.net/tickets"
    assert settings.key_vault_url == "https://kv-desk-abc123.vault.azure.net"
    web = WebSettings.from_env()
    assert web.auth is AuthMode.EASY_AUTH and web.secure_cookies
    connection = StorageConnection()
    assert connection.table_service.url.startswith("https://stdeskabc123.table.core.windows.net")
    assert type(connection._credential).__name__ == "DefaultAzureCredential"
