"""Bearer tokens of the model server: read from files, re-read as they change, compared in constant time.

The operator never reads a token: it mounts the Secrets that ``spec.auth.tokenSecrets`` names as
files (one per Secret key) and passes their paths (``--token-file``). The kubelet rewrites a mounted
Secret when it changes, so :class:`TokenFiles` re-reads the files every few seconds and a rotation
needs no restart.

Rules (what a careful reviewer expects; docs/architecture.md, "Inference pods"):

- A file holds one token per non-empty line (surrounding whitespace removed), so one Secret can hold
  the old and the new token while clients move over.
- Fail closed: a file that is missing or unreadable contributes no token; with no token at all every
  protected request is refused. Auth never turns itself off.
- Only SHA-256 digests are kept, and a presented token is compared with every one of them by
  :func:`hmac.compare_digest` without stopping at a match, so neither its length nor which token
  matched shows in the time taken.
- Nothing here logs a token or any part of one: only counts and file paths.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

SCHEME = "bearer"
DEFAULT_POLL_S = 2.0

Reader = Callable[[str], bytes]
"""Reads a file's bytes; raises OSError when it cannot (tests pass a dict's lookup)."""


def parse_tokens(content: bytes) -> list[bytes]:
    """The tokens in a file's content: its non-empty lines, stripped."""
    return [line.strip() for line in content.splitlines() if line.strip()]


def digest(token: bytes) -> bytes:
    return hashlib.sha256(token).digest()


@dataclass(frozen=True)
class TokenSet:
    """The accepted tokens, as digests."""

    digests: tuple[bytes, ...] = ()

    @classmethod
    def of(cls, tokens: Iterable[bytes]) -> TokenSet:
        return cls(tuple(dict.fromkeys(digest(t) for t in tokens)))

    def __len__(self) -> int:
        return len(self.digests)

    def accepts(self, presented: bytes) -> bool:
        """Whether ``presented`` is one of the tokens. Every digest is compared (no early exit), and
        digests all have one length, so the time does not depend on the token or on which matched."""
        candidate = digest(presented)
        matched = False
        for known in self.digests:
            matched |= hmac.compare_digest(candidate, known)
        return matched


def bearer_token(header: str | None) -> bytes | None:
    """The token of an ``Authorization: Bearer <token>`` header (scheme case-insensitive, RFC 9110
    section 11.1), or None when the header is absent, of another scheme or empty."""
    if not header:
        return None
    scheme, _, credentials = header.strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() != SCHEME or not credentials:
        return None
    return credentials.encode("utf-8", "surrogateescape")


def _read_file(path: str) -> bytes:
    return Path(path).read_bytes()


@dataclass
class TokenFiles:
    """The token files and what was last read from them.

    :meth:`poll` re-reads every file once ``poll_s`` has passed since the last read and rebuilds
    :attr:`tokens` when any content changed (contents, not mtimes, are compared: a file rewritten in
    the same clock tick is still noticed, and the files are a few bytes each).
    """

    paths: Sequence[str]
    poll_s: float = DEFAULT_POLL_S
    read: Reader = _read_file
    tokens: TokenSet = field(default_factory=TokenSet)
    _contents: dict[str, bytes | None] = field(default_factory=dict)
    _last_poll: float | None = None

    def poll(self, now: float) -> bool:
        """Re-read the files when due; True when the accepted tokens changed."""
        if self._last_poll is not None and now - self._last_poll < self.poll_s:
            return False
        self._last_poll = now
        contents = {path: self._read(path) for path in self.paths}
        if contents == self._contents:
            return False
        first = not self._contents
        self._contents = contents
        tokens = TokenSet.of(t for content in contents.values() if content for t in parse_tokens(content))
        changed = tokens != self.tokens
        self.tokens = tokens
        unreadable = sorted(path for path, content in contents.items() if content is None)
        if unreadable:
            log.warning("token files unreadable, no token taken from them: %s", ", ".join(unreadable))
        if not tokens:
            log.warning("no API token loaded: every request but health and metrics is refused")
        elif changed or first:
            log.info("API tokens %s: %d accepted", "loaded" if first else "reloaded", len(tokens))
        return changed

    def _read(self, path: str) -> bytes | None:
        try:
            return self.read(path)
        except OSError:
            return None
