"""Graph errors: what a failed request or token request tells the caller, never a secret."""
from __future__ import annotations


class GraphError(Exception):
    """A Graph request failed. `status` is the HTTP status (None without a response), `code` the
    Graph error code (or ours: DeadlineExceeded, FolderNotFound, ConnectionError ...)."""

    def __init__(self, status: int | None, code: str, message: str, *,
                 request_id: str | None = None, retry_after: float | None = None) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id
        #: seconds Graph asked us to wait (429/503 Retry-After), when it said
        self.retry_after = retry_after
        super().__init__(self._text())

    @property
    def throttled(self) -> bool:
        """Graph refused the request for now (429, or a 503 with Retry-After): nothing was
        done, so waiting and sending again is safe and is not a failure of the request."""
        return self.status == 429 or (self.status == 503 and self.retry_after is not None)

    def _text(self) -> str:
        status = f"HTTP {self.status} " if self.status is not None else ""
        text = f"Graph {status}{self.code}: {self.message}"
        return f"{text} (request-id {self.request_id})" if self.request_id else text


class GraphAuthError(GraphError):
    """No token: the identity platform refused (consent revoked, wrong secret, unknown tenant ...).

    `code` is the AADSTS code (e.g. "AADSTS7000215") when the platform gave one, else the OAuth
    error; `error` is the OAuth error ("invalid_client") and `description` the platform's text.
    `transient` is True when the platform could not be reached or said "try again later".
    """

    def __init__(self, status: int | None, code: str, message: str, *, error: str = "",
                 description: str = "", correlation_id: str | None = None,
                 request_id: str | None = None, transient: bool = False) -> None:
        self.error = error
        self.description = description
        self.correlation_id = correlation_id
        self.transient = transient
        super().__init__(status, code, message, request_id=request_id)

    def _text(self) -> str:
        status = f"HTTP {self.status} " if self.status is not None else ""
        return f"Graph token {status}{self.code}: {self.message}"


def _scrub(text: str, *secrets: str | None) -> str:
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text
