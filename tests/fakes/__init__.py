"""Fakes of the Microsoft cloud services deskmail talks to, speaking their real REST protocols
over TLS, so the real SDKs (msal, azure-identity, azure-keyvault-secrets, requests) work
against them. Storage is real Azurite (see :mod:`tests.fakes.azurite`).

Usable outside pytest (the local run serves demo mail with it)::

    cloud = FakeCloud().start()       # also points SSL_CERT_FILE / REQUESTS_CA_BUNDLE at
    ...                               # a bundle that trusts the throwaway CA
    cloud.stop()                      # restores those variables
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from .graph import FakeGraph, SentMessage
from .identity import FakeIdentity
from .keyvault import REAL_VAULT_RESOURCE, FakeKeyVault
from .server import RequestRecord
from .tls import CA_ENV_VARS, CAEnvironment, ThrowawayCA

__all__ = ["FakeCloud", "FakeGraph", "FakeIdentity", "FakeKeyVault", "RequestRecord",
           "SentMessage", "REAL_VAULT_RESOURCE", "CA_ENV_VARS"]


class FakeCloud:
    """Identity platform, Graph and Key Vault fakes sharing one throwaway CA.

    After `start()`: ``authority_host`` (https://localhost:P1), ``graph_url``
    (https://localhost:P2/v1.0), ``key_vault_url`` (https://127.0.0.1:P3), ``ca`` (the
    trustme CA), ``tls`` (its :class:`ThrowawayCA`, whose ``server_context()`` serves extra
    fakes), ``ca_bundle_path`` (system CAs + the test CA) and ``ca_env`` (the variables
    to give a child process).
    """

    def __init__(self, *, set_ca_env: bool = True, identity_port: int = 0, graph_port: int = 0,
                 keyvault_port: int = 0) -> None:
        self._set_ca_env = set_ca_env
        self._ports = (identity_port, graph_port, keyvault_port)
        self._tmp: Path | None = None
        self._env: CAEnvironment | None = None
        self.ca = None
        self.tls: ThrowawayCA | None = None
        self.ca_bundle_path: str | None = None
        self.identity: FakeIdentity | None = None
        self.graph: FakeGraph | None = None
        self.keyvault: FakeKeyVault | None = None

    @property
    def authority_host(self) -> str:
        return self.identity.base_url

    @property
    def graph_url(self) -> str:
        return self.graph.graph_url

    @property
    def key_vault_url(self) -> str:
        return self.keyvault.vault_url

    @property
    def ca_env(self) -> dict[str, str]:
        """``{SSL_CERT_FILE: bundle, REQUESTS_CA_BUNDLE: bundle}`` for child processes."""
        return {name: self.ca_bundle_path for name in CA_ENV_VARS}

    def start(self) -> "FakeCloud":
        """Create the CA and bundle, start the three servers, set the CA env (if asked)."""
        self.tls = throwaway = ThrowawayCA()
        self.ca = throwaway.ca
        self._tmp = Path(tempfile.mkdtemp(prefix="deskmail-fakes-"))
        self.ca_bundle_path = str(throwaway.write_bundle(self._tmp / "ca-bundle.pem"))
        try:
            self.identity = FakeIdentity(throwaway.server_context(), port=self._ports[0]).start()
            self.graph = FakeGraph(throwaway.server_context(), self.identity,
                                   port=self._ports[1]).start()
            self.keyvault = FakeKeyVault(throwaway.server_context(), self.identity,
                                         port=self._ports[2]).start()
        except BaseException:
            self.stop()
            raise
        if self._set_ca_env:
            self._env = CAEnvironment(self.ca_bundle_path)
            self._env.install()
        return self

    def reset(self) -> None:
        """Reset all three fakes (data, faults, logs, registered apps, tokens)."""
        for fake in (self.identity, self.graph, self.keyvault):
            if fake is not None:
                fake.reset()

    def stop(self) -> None:
        """Stop the servers, restore the CA env, delete the bundle."""
        for fake in (self.keyvault, self.graph, self.identity):
            if fake is not None:
                fake.stop()
        if self._env is not None:
            self._env.restore()
            self._env = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> "FakeCloud":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
