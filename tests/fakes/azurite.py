"""Start and stop a real Azurite (blob, queue, table) on free ports, in memory.

Used by tests/conftest.py and the local-run script::

    azurite = Azurite(repo_root).start()
    azurite.connection_string   # for AzureWebJobsStorage
    azurite.stop()
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

ACCOUNT_NAME = "devstoreaccount1"
#: Azurite's published, well-known development account key.
ACCOUNT_KEY = ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/"
               "KBHBeksoGMGw==")


class AzuriteError(RuntimeError):
    """Azurite is missing or did not start."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


class Azurite:
    """One Azurite process (``--inMemoryPersistence``) for blob, queue and table."""

    def __init__(self, repo_root: str | os.PathLike, host: str = "127.0.0.1") -> None:
        self.repo_root = Path(repo_root)
        self.executable = self.repo_root / "node_modules" / ".bin" / "azurite"
        self.host = host
        self.blob_port = self.queue_port = self.table_port = 0
        self.process: subprocess.Popen | None = None
        self._workdir: Path | None = None

    @property
    def connection_string(self) -> str:
        base = f"http://{self.host}"
        return (f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT_NAME};"
                f"AccountKey={ACCOUNT_KEY};"
                f"BlobEndpoint={base}:{self.blob_port}/{ACCOUNT_NAME};"
                f"QueueEndpoint={base}:{self.queue_port}/{ACCOUNT_NAME};"
                f"TableEndpoint={base}:{self.table_port}/{ACCOUNT_NAME};")

    def start(self, timeout: float = 30.0) -> "Azurite":
        """Spawn Azurite and wait until its three ports accept connections."""
        if not self.executable.exists():
            raise AzuriteError(f"Azurite not found at {self.executable}: run scripts/setup.sh")
        self.blob_port, self.queue_port, self.table_port = (free_port(self.host) for _ in range(3))
        self._workdir = Path(tempfile.mkdtemp(prefix="deskmail-azurite-"))
        command = [
            str(self.executable), "--inMemoryPersistence", "--skipApiVersionCheck", "--loose",
            "--silent", "--disableTelemetry",
            "--blobHost", self.host, "--blobPort", str(self.blob_port),
            "--queueHost", self.host, "--queuePort", str(self.queue_port),
            "--tableHost", self.host, "--tablePort", str(self.table_port),
        ]
        self._log = open(self._workdir / "azurite.log", "w+b")
        self.process = subprocess.Popen(command, cwd=self._workdir, stdin=subprocess.DEVNULL,
                                        stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        ports = [self.blob_port, self.queue_port, self.table_port]
        while ports:
            if self.process.poll() is not None:
                output = self._output()
                self.stop()
                raise AzuriteError(f"Azurite exited with {self.process.returncode}:\n{output}")
            if time.monotonic() > deadline:
                output = self._output()
                self.stop()
                raise AzuriteError(f"Azurite did not open its ports in {timeout:.0f}s:\n{output}")
            ports = [p for p in ports if not _accepts(self.host, p)]
            if ports:
                time.sleep(0.05)
        return self

    def _output(self) -> str:
        self._log.flush()
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")[-4000:]

    def stop(self) -> None:
        """Terminate the process and remove the work folder."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self._workdir is not None:
            self._log.close()
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def __enter__(self) -> "Azurite":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def clear_storage(connection_string: str) -> None:
    """Delete every table, blob container and queue of the account."""
    from azure.data.tables import TableServiceClient
    from azure.storage.blob import BlobServiceClient
    from azure.storage.queue import QueueServiceClient

    with TableServiceClient.from_connection_string(connection_string) as tables:
        for table in list(tables.list_tables()):
            tables.delete_table(table.name)
    with BlobServiceClient.from_connection_string(connection_string) as blobs:
        for container in list(blobs.list_containers()):
            blobs.delete_container(container.name)
    with QueueServiceClient.from_connection_string(connection_string) as queues:
        for queue in list(queues.list_queues()):
            queues.delete_queue(queue.name)
