"""Storage queues, base64-encoded as the Functions queue trigger expects by default."""
from __future__ import annotations

import json

from .storage import StorageConnection

#: Update Message accepts a visibility timeout of at most 7 days.
MAX_HIDE_SECONDS = 7 * 24 * 3600 - 1


class QueueSender:
    def __init__(self, connection: StorageConnection):
        self._connection = connection
        self._clients: dict[str, object] = {}

    def _client(self, name: str):
        client = self._clients.get(name)
        if client is None:
            from azure.storage.queue import BinaryBase64DecodePolicy, BinaryBase64EncodePolicy

            client = self._connection.queue_service.get_queue_client(
                name,
                message_encode_policy=BinaryBase64EncodePolicy(),
                message_decode_policy=BinaryBase64DecodePolicy(),
            )
            self._connection.ensure_once("queue", name, client.create_queue)
            self._clients[name] = client
        return client

    def send(self, queue: str, message: dict, visibility_timeout: int | None = None) -> None:
        """Enqueue; `visibility_timeout` delays delivery (seconds), e.g. to pace sending."""
        self._client(queue).send_message(json.dumps(message, sort_keys=True).encode("utf-8"),
                                         visibility_timeout=visibility_timeout)

    def receive(self, queue: str, max_messages: int = 32, visibility_timeout: int = 60) -> list[tuple[dict, object]]:
        """Messages with their handles, for `delete`; used by the CLI and tests to drain a queue."""
        client = self._client(queue)
        batch = client.receive_messages(messages_per_page=min(max_messages, 32), max_messages=max_messages,
                                        visibility_timeout=visibility_timeout)
        out = []
        for item in batch:
            out.append((json.loads(bytes(item.content).decode("utf-8")), item))
            if len(out) >= max_messages:
                break
        return out

    def delete(self, queue: str, handle) -> None:
        """Remove a received message; one already gone (taken again after its visibility
        timeout, or deleted by another worker) is not an error."""
        from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

        try:
            self._client(queue).delete_message(handle)
        except ResourceNotFoundError:
            pass
        except HttpResponseError as error:
            if getattr(error, "error_code", None) != "PopReceiptMismatch":
                raise

    def hide(self, queue: str, message_id: str, pop_receipt: str, seconds: int) -> bool:
        """Make a received message visible again in `seconds` (Update Message: the same message,
        its id and dequeue count kept; the next receive adds one to the count). False when the
        pop receipt no longer holds the message (taken over, renewed by the host, or gone)."""
        from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

        try:
            self._client(queue).update_message(message_id, pop_receipt=pop_receipt,
                                               visibility_timeout=min(MAX_HIDE_SECONDS,
                                                                      max(0, int(seconds))))
        except ResourceNotFoundError:
            return False
        except HttpResponseError as error:
            if getattr(error, "error_code", None) in ("PopReceiptMismatch", "MessageNotFound"):
                return False
            raise
        return True

    def approximate_count(self, queue: str) -> int:
        """How many messages the queue holds, hidden ones included (Azure's approximate count:
        enough for /health and monitoring, never for a decision about one message)."""
        return int(self._client(queue).get_queue_properties().approximate_message_count or 0)

    def peek_all(self, queue: str) -> list[dict]:
        client = self._client(queue)
        return [json.loads(bytes(m.content).decode("utf-8")) for m in client.peek_messages(max_messages=32)]

    def peek_notifications(self, queue: str) -> list[dict]:
        """The notifications of the visible messages, out of their batches (CLI and tests)."""
        from ..domain.notifications import unbatch

        return [n for message in self.peek_all(queue) for n in unbatch(message)]
