"""How a fetch run classifies failures: an outage of Graph or storage (stop the account's run,
count nothing) versus a mail's own failure, and the signals the run's parts pass each other.
"""
from __future__ import annotations


class TransientError(Exception):
    """Graph or storage is unavailable: stop this account's run, retry next run."""


def is_transient(error: Exception) -> bool:
    from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError

    from ..adapters.graph import GraphAuthError, GraphError

    if isinstance(error, GraphAuthError):
        return True  # the whole account is unusable: record it on the account
    if isinstance(error, GraphError):
        return error.status is None or error.status == 429 or error.status >= 500
    if isinstance(error, (ServiceRequestError, ServiceResponseError, ConnectionError)):
        return True
    return isinstance(error, HttpResponseError) and (error.status_code or 500) >= 500


def is_vanished(error: Exception) -> bool:
    """Graph says the mail itself is gone (deleted or moved since the listing)."""
    from ..adapters.graph import GraphError

    return isinstance(error, GraphError) and error.status == 404 and error.code == "ErrorItemNotFound"


class DownloadFailed(Exception):
    """Graph could not serve a mail's raw MIME (the error is `error`)."""

    def __init__(self, error: Exception):
        super().__init__(str(error))
        self.error = error


class Stopped(Exception):
    """Another mail of the chunk ended the run (a kill, in tests): start nothing more."""
