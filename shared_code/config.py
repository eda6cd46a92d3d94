"""Settings: every one is an environment variable (= a Functions app setting).

A missing or malformed setting raises `SettingError` naming it, so a broken
deployment fails on its first call instead of misbehaving quietly. The public addresses
(TICKET_URL_BASE, SYSTEM_MAIL_DOMAIN) have localhost defaults for a local run; in Azure they
must be set, to an https URL and a real domain (see `running_in_azure`). Settings not read here
(ATTACHMENT_BASE_URL of earlier versions, anything else) are ignored, never an error.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from urllib.parse import urlparse

from .domain.sender_auth import DEFAULT_TRUSTED_SIGNALS, TrustSignal
from .domain.templates import DEFAULT_TICKET_URL_BASE

DEFAULT_GRAPH_API_URL = "https://graph.microsoft.com/v1.0"
DEFAULT_AUTHORITY_HOST = "https://login.microsoftonline.com"
DEFAULT_SYSTEM_MAIL_DOMAIN = "deskmail.local"

# Set by the Azure Functions / App Service platform on every hosted instance, and not by Core
# Tools (`func start` sets WEBSITE_HOSTNAME=localhost:7071, AzureWebJobsScriptRoot and
# AZURE_FUNCTIONS_ENVIRONMENT, which are therefore useless here). CONTAINER_NAME, which the
# Functions host uses for Linux Consumption, is also set by ordinary container runtimes, so it
# is not used: a local container must not be taken for Azure.
AZURE_MARKERS = ("WEBSITE_INSTANCE_ID", "WEBSITE_SITE_NAME")
_LOCAL_HOSTS = re.compile(r"^(?:localhost|.*\.localhost|127(?:\.\d{1,3}){3}|0\.0\.0\.0|::1?|\[::1?\])$", re.I)
_DOMAIN = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$", re.I)
_LOCAL_DOMAIN = re.compile(r"(?:^|\.)(?:localhost|local|invalid|internal|localdomain)$", re.I)


class SettingError(ValueError):
    """A setting is missing or malformed; the message names it."""


def _https_url(name: str, default: str | None) -> str:
    value = os.environ.get(name, "").strip() or default
    if value is None:
        raise SettingError(f"setting {name} is required")
    parsed = urlparse(value)
    if parsed.scheme != "https" or not parsed.netloc:
        raise SettingError(f"setting {name} must be an https URL, got {value!r}")
    return value.rstrip("/")


def running_in_azure() -> bool:
    """Whether the platform marks this process as an Azure-hosted instance (AZURE_MARKERS)."""
    return any(os.environ.get(name, "").strip() for name in AZURE_MARKERS)


def _web_url(name: str, default: str, azure: bool = False) -> str:
    """An http(s) URL; in Azure a required https URL that is not a local address, because it
    is written into mail and ticket HTML that people outside this machine open."""
    raw = os.environ.get(name, "").strip()
    if azure and not raw:
        raise SettingError(f"setting {name} is required when the app runs in Azure (the default "
                           f"{default} only works on a developer machine): set it to the public https URL")
    value = raw or default
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise SettingError(f"setting {name} must be an http(s) URL, got {value!r}")
    if azure and parsed.scheme != "https":
        raise SettingError(f"setting {name} must be an https URL when the app runs in Azure, got {value!r}")
    if azure and _LOCAL_HOSTS.match(parsed.hostname or ""):
        raise SettingError(f"setting {name} must be a public address when the app runs in Azure, got {value!r}")
    return value


def _mail_domain(name: str, default: str, azure: bool) -> str:
    """A domain name for the Message-IDs the system makes up; in Azure a required, real one."""
    raw = os.environ.get(name, "").strip().lower().rstrip(".")
    if azure and not raw:
        raise SettingError(f"setting {name} is required when the app runs in Azure (the default "
                           f"{default} only works on a developer machine): set it to your mail domain")
    value = raw or default
    if not _DOMAIN.match(value):
        raise SettingError(f"setting {name} must be a domain name like desk.contoso.com, got {value!r}")
    if azure and ("." not in value or _LOCAL_DOMAIN.search(value)):
        raise SettingError(f"setting {name} must be a public domain when the app runs in Azure, got {value!r}")
    return value


def _int(name: str, default: int, minimum: int = 0, maximum: int | None = None) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingError(f"setting {name} must be an integer, got {raw!r}") from None
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
        raise SettingError(f"setting {name} must be {bound}, got {value}")
    return value


def minutes_setting(name: str, default: float, minimum: float) -> float:
    """A number of minutes; decimals allowed (tests use fractions of a minute). Also read by
    the web settings (FETCH_STALE_MINUTES), so the rule is one."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingError(f"setting {name} must be a number of minutes, got {raw!r}") from None
    if not value >= minimum or value == float("inf"):
        raise SettingError(f"setting {name} must be a number >= {minimum}, got {raw!r}")
    return value


def _list(name: str) -> tuple[str, ...]:
    raw = os.environ.get(name, "")
    return tuple(item.strip().lower() for item in raw.split(",") if item.strip())


def _signals(name: str) -> tuple[TrustSignal, ...]:
    """A comma-separated list of TrustSignal values; empty: the default; `none`: trust none."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return DEFAULT_TRUSTED_SIGNALS
    items = [item.strip().lower() for item in raw.split(",") if item.strip()]
    if items == ["none"]:
        return ()
    known = ", ".join(signal.value for signal in TrustSignal)
    signals: list[TrustSignal] = []
    for item in items:
        try:
            signal = TrustSignal(item)
        except ValueError:
            raise SettingError(f"setting {name} has an unknown signal {item!r} "
                               f"(known: {known}; or none alone)") from None
        if signal not in signals:
            signals.append(signal)
    return tuple(signals)


def _host_port(name: str) -> str | None:
    """`host:port` (an IPv6 host in brackets), or None when unset."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    host, _, port = raw.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise SettingError(f"setting {name} must be host:port, e.g. 127.0.0.1:53, got {raw!r}")
    return raw


def _regex(name: str) -> str | None:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        re.compile(raw)
    except re.error as error:
        raise SettingError(f"setting {name} is not a valid regular expression: {error}") from None
    return raw


def _notification_url(azure: bool) -> str | None:
    """GRAPH_NOTIFICATION_URL: Graph only posts to https; plain http is for a local run."""
    if not os.environ.get("GRAPH_NOTIFICATION_URL", "").strip():
        return None
    return _web_url("GRAPH_NOTIFICATION_URL", "", azure)


@dataclass(frozen=True)
class Settings:
    graph_api_url: str
    authority_host: str
    key_vault_url: str | None
    system_domain: str
    reply_separator: str
    max_attachment_bytes: int
    max_attachments: int
    fetch_time_budget_seconds: int
    fetch_overlap_seconds: int
    fetch_lookback_hours: int
    graph_max_concurrency: int
    graph_max_retries: int
    max_processing_attempts: int
    auto_reply_allowed_senders: tuple[str, ...]
    ticket_url_base: str
    auto_response_limit: int
    auto_response_window_minutes: int
    no_reply_pattern: str | None  # None: the built-in pattern of domain/autoreply.py
    # What proves a staff (or helpdesk) From address; see domain/sender_auth.py
    trusted_sender_signals: tuple[TrustSignal, ...] = DEFAULT_TRUSTED_SIGNALS
    # Mails of one mailbox processed at once by a fetch run (chains of one conversation in order)
    fetch_mails_in_flight: int = 4
    # An account without a successful fetch for longer is stale (domain/fetch_health.py)
    fetch_stale_minutes: float = 5.0
    # The name server the doctor asks for SPF, DKIM and DMARC (host:port); None: the system's
    doctor_dns_server: str | None = None
    # Push ingestion: the public URL of the Graph webhook (empty: push off, the timer alone)
    graph_notification_url: str | None = None
    # A reply to a ticket closed (or last active) longer ago, with a new subject, starts a new
    # ticket linked to it (pipeline/thread_match.py); 0: such replies always reopen
    reopen_window_days: int = 30

    @classmethod
    def from_env(cls) -> "Settings":
        key_vault = os.environ.get("KEY_VAULT_URL", "").strip()
        azure = running_in_azure()
        return cls(
            graph_api_url=_https_url("GRAPH_API_URL", DEFAULT_GRAPH_API_URL),
            authority_host=_https_url("AZURE_AUTHORITY_HOST", DEFAULT_AUTHORITY_HOST),
            key_vault_url=_https_url("KEY_VAULT_URL", None) if key_vault else None,
            system_domain=_mail_domain("SYSTEM_MAIL_DOMAIN", DEFAULT_SYSTEM_MAIL_DOMAIN, azure),
            reply_separator=os.environ.get("REPLY_SEPARATOR", "").strip()
            or "-- reply above this line --",
            max_attachment_bytes=_int("MAX_ATTACHMENT_BYTES", 25 * 1024 * 1024, minimum=1),
            max_attachments=_int("MAX_ATTACHMENTS", 50, minimum=0),
            fetch_time_budget_seconds=_int("FETCH_TIME_BUDGET_SECONDS", 240, minimum=5),
            fetch_overlap_seconds=_int("FETCH_OVERLAP_SECONDS", 300, minimum=0),
            fetch_lookback_hours=_int("FETCH_LOOKBACK_HOURS", 24, minimum=0),
            graph_max_concurrency=_int("GRAPH_MAX_CONCURRENCY", 4, minimum=1, maximum=4),
            graph_max_retries=_int("GRAPH_MAX_RETRIES", 4, minimum=0, maximum=10),
            max_processing_attempts=_int("MAX_PROCESSING_ATTEMPTS", 3, minimum=1),
            auto_reply_allowed_senders=_list("AUTO_REPLY_ALLOWED_SENDERS"),
            ticket_url_base=_web_url("TICKET_URL_BASE", DEFAULT_TICKET_URL_BASE, azure),
            auto_response_limit=_int("AUTO_RESPONSE_LIMIT", 5, minimum=0),
            auto_response_window_minutes=_int("AUTO_RESPONSE_WINDOW_MINUTES", 60, minimum=1),
            no_reply_pattern=_regex("NO_REPLY_PATTERN"),
            trusted_sender_signals=_signals("TRUSTED_SENDER_SIGNALS"),
            fetch_mails_in_flight=_int("FETCH_MAILS_IN_FLIGHT", 4, minimum=1, maximum=16),
            fetch_stale_minutes=minutes_setting("FETCH_STALE_MINUTES", 5.0, minimum=0.001),
            doctor_dns_server=_host_port("DOCTOR_DNS_SERVER"),
            graph_notification_url=_notification_url(azure),
            reopen_window_days=_int("REOPEN_WINDOW_DAYS", 30, minimum=0, maximum=3650),
        )
