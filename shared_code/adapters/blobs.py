"""Blob Storage: raw mail, attachments, large bodies, and the per-account fetch lease."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from .names import LEASES
from .storage import StorageConnection


@dataclass
class BlobFile:
    """An open blob: its stored content type and size, and its bytes in chunks (so a large
    attachment is streamed to a browser, not held in memory)."""

    content_type: str
    size: int
    chunks: Iterator[bytes]


class BlobStore:
    def __init__(self, connection: StorageConnection):
        self._connection = connection

    def _container(self, name: str):
        client = self._connection.blob_service.get_container_client(name)
        self._connection.ensure_once("container", name, client.create_container)
        return client

    def put(self, container: str, name: str, data: bytes, content_type: str = "application/octet-stream",
            metadata: dict[str, str] | None = None) -> None:
        from azure.storage.blob import ContentSettings

        self._container(container).upload_blob(
            name, data, overwrite=True, metadata=metadata,
            content_settings=ContentSettings(content_type=content_type),
        )

    def put_once(self, container: str, name: str, data: bytes, content_type: str) -> None:
        """Upload unless present: content-addressed blobs are identical by name."""
        from azure.core.exceptions import ResourceExistsError
        from azure.storage.blob import ContentSettings

        try:
            self._container(container).upload_blob(
                name, data, overwrite=False, content_settings=ContentSettings(content_type=content_type))
        except ResourceExistsError:
            pass

    def get(self, container: str, name: str) -> bytes:
        return self._container(container).download_blob(name).readall()

    def exists(self, container: str, name: str) -> bool:
        return self._container(container).get_blob_client(name).exists()

    def open(self, container: str, name: str) -> BlobFile | None:
        """The blob to stream, or None when there is none by that name."""
        from azure.core.exceptions import ResourceNotFoundError

        try:
            downloader = self._container(container).download_blob(name)
        except ResourceNotFoundError:
            return None
        properties = downloader.properties
        return BlobFile(properties.content_settings.content_type or "application/octet-stream",
                        properties.size, downloader.chunks())

    def delete(self, container: str, name: str) -> bool:
        """Delete one blob; False when there was none."""
        from azure.core.exceptions import ResourceNotFoundError

        try:
            self._container(container).delete_blob(name)
        except ResourceNotFoundError:
            return False
        return True

    def names(self, container: str, prefix: str | None = None) -> list[str]:
        return [blob.name for blob in self._container(container).list_blobs(name_starts_with=prefix)]

    def acquire_lease(self, name: str, seconds: int = 60) -> "Lease | None":
        """Take the exclusive lease of `name`, or None when another worker holds it."""
        from azure.core.exceptions import HttpResponseError, ResourceExistsError

        blob = self._container(LEASES).get_blob_client(name)
        try:
            blob.upload_blob(b"", overwrite=False)
        except ResourceExistsError:
            pass
        try:
            return Lease(blob.acquire_lease(lease_duration=seconds), seconds)
        except HttpResponseError as error:
            if error.status_code == 409:
                return None
            raise


class Lease:
    """A held blob lease, renewed by a background thread until released, so a slow
    mail (big attachments, Graph throttling) never lets it lapse mid-run."""

    def __init__(self, lease, seconds: int):
        import threading

        self._lease = lease
        self.lost = False  # set when a renewal failed: the holder must stop
        self._stopped = threading.Event()
        self._keeper = threading.Thread(target=self._keep, args=(seconds / 3,), daemon=True,
                                        name="lease-keeper")
        self._keeper.start()

    def _keep(self, interval: float) -> None:
        from azure.core.exceptions import AzureError

        while not self._stopped.wait(interval):
            try:
                self._lease.renew()
            except AzureError:
                self.lost = True
                return

    def release(self) -> None:
        from azure.core.exceptions import HttpResponseError

        self._stopped.set()
        self._keeper.join()
        try:
            self._lease.release()
        except HttpResponseError:
            pass  # expired or taken over: nothing left to release
