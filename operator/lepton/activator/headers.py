"""Which headers a proxy passes on (RFC 9110 section 7.6.1): everything end-to-end, nothing hop-by-hop.

End-to-end headers such as ``Authorization``, ``Content-Type`` and the binary tensor extension's
``Inference-Header-Content-Length`` pass unchanged. ``Host`` and ``Content-Length`` are dropped as
well: the HTTP client sets them for the backend (and the server for the client) from the body
actually sent, so a stale value cannot desynchronise a connection.
"""

from __future__ import annotations

from collections.abc import Iterable

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
_SET_BY_TRANSPORT = frozenset({"host", "content-length"})


def _named_by_connection(headers: Iterable[tuple[str, str]]) -> set[str]:
    """Headers a sender declared hop-by-hop by listing them in ``Connection``."""
    named: set[str] = set()
    for name, value in headers:
        if name.lower() == "connection":
            named.update(token.strip().lower() for token in value.split(",") if token.strip())
    return named


def end_to_end(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The headers to pass on, in order, repeated ones kept (``Set-Cookie``, ``Vary``, ...)."""
    items = list(headers)
    drop = HOP_BY_HOP | _SET_BY_TRANSPORT | _named_by_connection(items)
    return [(name, value) for name, value in items if name.lower() not in drop]


def forwarded_for(existing: str | None, client: str | None) -> str | None:
    """``X-Forwarded-For`` with the client's address appended, so the backend's logs see who asked."""
    if not client:
        return existing
    return f"{existing}, {client}" if existing else client
