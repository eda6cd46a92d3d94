"""Settings fail fast with the setting's name; storage settings follow the Functions host's forms."""
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


@pytest.mark.parametrize("name,value,expected", [
    ("GRAPH_API_URL", "http://graph.example", "GRAPH_API_URL must be an https URL"),
    ("AZURE_AUTHORITY_HOST", "not a url", "AZURE_AUTHORITY_HOST must be an https URL"),
    ("KEY_VAULT_URL", "ftp://vault", "KEY_VAULT_URL must be an https URL"),
    ("MAX_ATTACHMENTS", "many", "MAX_ATTACHMENTS must be an integer"),
    ("GRAPH_MAX_CONCURRENCY", "9", "GRAPH_MAX_CONCURRENCY must be between 1 and 4"),
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
