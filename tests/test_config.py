"""Settings fail fast with the setting's name; storage settings follow the Functions host's forms."""
import re

import pytest

from shared_code.adapters.storage import DEVELOPMENT_CONNECTION_STRING, StorageConnection
from shared_code.config import DEFAULT_AUTHORITY_HOST, DEFAULT_GRAPH_API_URL, Settings, SettingError


def test_defaults(monkeypatch):
    for name in ("GRAPH_API_URL", "AZURE_AUTHORITY_HOST", "KEY_VAULT_URL", "MAX_ATTACHMENTS"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings.from_env()
    assert settings.graph_api_url == DEFAULT_GRAPH_API_URL
    assert settings.authority_host == DEFAULT_AUTHORITY_HOST
    assert settings.key_vault_url is None
    assert settings.max_attachments == 50
    assert settings.fetch_mails_in_flight == 4
    assert settings.fetch_stale_minutes == 5.0
    assert settings.reopen_window_days == 30


def test_the_stale_limit_takes_decimals_for_the_monitor_and_the_web(monkeypatch):
    from shared_code.web.settings import WebSettings

    monkeypatch.setenv("FETCH_STALE_MINUTES", "0.25")
    assert Settings.from_env().fetch_stale_minutes == 0.25
    assert WebSettings.from_env().fetch_stale_minutes == 0.25


@pytest.mark.parametrize("name,value,expected", [
    ("GRAPH_API_URL", "http://graph.example", "GRAPH_API_URL must be an https URL"),
    ("AZURE_AUTHORITY_HOST", "not a url", "AZURE_AUTHORITY_HOST must be an https URL"),
    ("KEY_VAULT_URL", "ftp://vault", "KEY_VAULT_URL must be an https URL"),
    ("MAX_ATTACHMENTS", "many", "MAX_ATTACHMENTS must be an integer"),
    ("GRAPH_MAX_CONCURRENCY", "9", "GRAPH_MAX_CONCURRENCY must be between 1 and 4"),
    ("FETCH_MAILS_IN_FLIGHT", "0", "FETCH_MAILS_IN_FLIGHT must be between 1 and 16"),
    ("FETCH_MAILS_IN_FLIGHT", "four", "FETCH_MAILS_IN_FLIGHT must be an integer"),
    ("FETCH_STALE_MINUTES", "five", "FETCH_STALE_MINUTES must be a number of minutes"),
    ("FETCH_STALE_MINUTES", "0", "FETCH_STALE_MINUTES must be a number >= 0.001"),
    ("REOPEN_WINDOW_DAYS", "-1", "REOPEN_WINDOW_DAYS must be between 0 and 3650"),
    ("REOPEN_WINDOW_DAYS", "a month", "REOPEN_WINDOW_DAYS must be an integer"),
])
def test_malformed_settings_name_themselves(monkeypatch, name, value, expected):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingError, match=expected):
        Settings.from_env()


def test_storage_setting_is_required():
    with pytest.raises(SettingError, match="AzureWebJobsStorage is required"):
        StorageConnection({})


def test_development_storage_means_azurite_defaults():
    connection = StorageConnection({"AzureWebJobsStorage": "UseDevelopmentStorage=true"})
    assert connection._connection_string == DEVELOPMENT_CONNECTION_STRING


def test_identity_based_storage_by_account_name():
    connection = StorageConnection({"AzureWebJobsStorage__accountName": "deskmailprod"})
    assert connection._uri("table") == "https://deskmailprod.table.core.windows.net"
    assert connection._uri("blob") == "https://deskmailprod.blob.core.windows.net"


def test_identity_based_storage_by_service_uris():
    env = {f"AzureWebJobsStorage__{kind}ServiceUri": f"https://{kind}.example"
           for kind in ("blob", "queue", "table")}
    assert StorageConnection(env)._uri("queue") == "https://queue.example"
    partial = {"AzureWebJobsStorage__blobServiceUri": "https://blob.example"}
    with pytest.raises(SettingError):
        StorageConnection(partial)


def test_no_reply_pattern_must_be_a_regex(monkeypatch):
    monkeypatch.setenv("NO_REPLY_PATTERN", "(unclosed")
    with pytest.raises(SettingError, match="NO_REPLY_PATTERN is not a valid regular expression"):
        Settings.from_env()


# --- public addresses in Azure ----------------------------------------------------------------

PUBLIC = {"TICKET_URL_BASE": "https://help.contoso.com/tickets.php",
          "SYSTEM_MAIL_DOMAIN": "desk.contoso.com"}
AZURE_MARKERS = ("WEBSITE_INSTANCE_ID", "WEBSITE_SITE_NAME")


@pytest.fixture
def local(monkeypatch):
    """A developer machine: no platform marker, none of the public settings."""
    for name in AZURE_MARKERS + tuple(PUBLIC):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture(params=AZURE_MARKERS)
def azure(request, local):
    """An Azure-hosted instance, told apart by a variable the platform sets and `func start` does not."""
    local.setenv(request.param, "5a7f0c2e1b9d" if request.param == "WEBSITE_INSTANCE_ID" else "deskmail-prod")
    for name, value in PUBLIC.items():
        local.setenv(name, value)
    return local


def test_local_defaults_keep_working(local):
    local.setenv("CONTAINER_NAME", "dev-container")  # set by container runtimes: not taken for Azure
    local.setenv("WEBSITE_HOSTNAME", "localhost:7071")  # set by `func start`
    settings = Settings.from_env()
    assert settings.ticket_url_base == "http://localhost:7071/tickets"
    assert settings.system_domain == "deskmail.local"


def test_azure_with_public_settings(azure):
    settings = Settings.from_env()
    assert settings.ticket_url_base == PUBLIC["TICKET_URL_BASE"]
    assert settings.system_domain == PUBLIC["SYSTEM_MAIL_DOMAIN"]


@pytest.mark.parametrize("value", ["http://localhost:7071/api/attachments", "javascript:alert(1)"])
def test_a_leftover_attachment_base_url_is_ignored_even_in_azure(azure, value):
    """ATTACHMENT_BASE_URL is no longer read: an old deployment's setting must not stop start-up."""
    azure.setenv("ATTACHMENT_BASE_URL", value)
    settings = Settings.from_env()
    assert settings.ticket_url_base == PUBLIC["TICKET_URL_BASE"]
    assert not hasattr(settings, "attachment_base_url")


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_azure_refuses_the_local_default(azure, name):
    azure.delenv(name)
    with pytest.raises(SettingError, match=f"setting {name} is required when the app runs in Azure"):
        Settings.from_env()


@pytest.mark.parametrize("name, value, expected", [
    ("TICKET_URL_BASE", "http://localhost:7071/tickets.php", "must be an https URL"),
    ("TICKET_URL_BASE", "http://help.contoso.com/tickets.php", "must be an https URL"),
    ("TICKET_URL_BASE", "https://localhost/tickets.php", "must be a public address"),
    ("TICKET_URL_BASE", "https://127.0.0.1:7071/tickets.php", "must be a public address"),
    ("TICKET_URL_BASE", "https://[::1]/tickets.php", "must be a public address"),
    ("SYSTEM_MAIL_DOMAIN", "deskmail.local", "must be a public domain"),
    ("SYSTEM_MAIL_DOMAIN", "localhost", "must be a public domain"),
])
def test_azure_refuses_local_or_plain_http_values(azure, name, value, expected):
    azure.setenv(name, value)
    with pytest.raises(SettingError, match=f"setting {name} {expected}"):
        Settings.from_env()


@pytest.mark.parametrize("name, value, expected", [
    ("TICKET_URL_BASE", "help.contoso.com/t", "TICKET_URL_BASE must be an http(s) URL"),
    ("TICKET_URL_BASE", "javascript:alert(1)", "TICKET_URL_BASE must be an http(s) URL"),
    ("SYSTEM_MAIL_DOMAIN", "desk mail>.com", "SYSTEM_MAIL_DOMAIN must be a domain name"),
    ("SYSTEM_MAIL_DOMAIN", "a@b.com", "SYSTEM_MAIL_DOMAIN must be a domain name"),
])
def test_malformed_public_settings_fail_locally_too(local, name, value, expected):
    local.setenv(name, value)
    with pytest.raises(SettingError, match=re.escape(expected)):
        Settings.from_env()
