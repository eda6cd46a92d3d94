"""Throwaway TLS for the fakes: a trustme CA, server contexts and a combined CA bundle."""
from __future__ import annotations

import os
import ssl
from pathlib import Path

import trustme

#: Environment variables that point Python TLS clients (ssl, requests, azure-core) at a bundle.
CA_ENV_VARS = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")

#: Names the fakes' certificate is valid for.
SERVER_IDENTITIES = ("localhost", "127.0.0.1")


def system_bundle_path() -> str:
    """The CA bundle in use now: $SSL_CERT_FILE if it names a file, else certifi's."""
    current = os.environ.get("SSL_CERT_FILE", "")
    if current and Path(current).is_file():
        return current
    import certifi

    return certifi.where()


class ThrowawayCA:
    """A throwaway CA and one server certificate for :data:`SERVER_IDENTITIES`."""

    def __init__(self) -> None:
        self.ca = trustme.CA(organization_name="deskmail test CA")
        self._server_cert = self.ca.issue_cert(*SERVER_IDENTITIES)

    def server_context(self) -> ssl.SSLContext:
        """An SSL context for the server side of a fake."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._server_cert.configure_cert(ctx)
        return ctx

    def write_bundle(self, path: Path) -> Path:
        """Write the system bundle plus this CA's PEM to `path` (the bundle is read now)."""
        system = Path(system_bundle_path()).read_bytes()
        if system and not system.endswith(b"\n"):
            system += b"\n"
        path.write_bytes(system + self.ca.cert_pem.bytes())
        return path


class CAEnvironment:
    """Points :data:`CA_ENV_VARS` at a bundle in ``os.environ``; `restore()` undoes it."""

    def __init__(self, bundle_path: str) -> None:
        self.bundle_path = bundle_path
        self._saved: dict[str, str | None] | None = None

    def install(self) -> None:
        if self._saved is None:
            self._saved = {name: os.environ.get(name) for name in CA_ENV_VARS}
        for name in CA_ENV_VARS:
            os.environ[name] = self.bundle_path

    def restore(self) -> None:
        if self._saved is None:
            return
        for name, value in self._saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved = None
