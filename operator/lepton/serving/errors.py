"""The model server's errors and the one table that maps them to HTTP status codes.

The data plane raises these; the REST layer turns any of them into ``{"error": "<message>"}`` with
the status from :func:`http_status`. Anything else that escapes a handler is a server bug: also a
JSON 500, logged with its traceback.
"""

from __future__ import annotations


class ServingError(Exception):
    """Base of the errors a client can cause or be told about; ``str(exc)`` is the client message."""


class InvalidInput(ServingError):
    """The request is malformed or does not fit the model (shape, datatype, data length, JSON)."""


class ModelNotFound(ServingError):
    """No model with that name, or the model has no such version."""


class PayloadTooLarge(ServingError):
    """The request body is larger than the server's configured limit."""


class ServerNotReady(ServingError):
    """The model is still loading past the wait bound, failed to load, or the server is draining."""


class InferenceFailed(ServingError):
    """The model raised on an input that passed validation: a model or server fault."""


_STATUS: tuple[tuple[type[ServingError], int], ...] = (
    (InvalidInput, 400),
    (ModelNotFound, 404),
    (PayloadTooLarge, 413),
    (ServerNotReady, 503),
    (InferenceFailed, 500),
)


def http_status(exc: ServingError) -> int:
    """The HTTP status code for ``exc``; an unlisted ServingError subclass is a client error (400)."""
    for kind, status in _STATUS:
        if isinstance(exc, kind):
            return status
    return 400
