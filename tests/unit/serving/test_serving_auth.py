"""API tokens of the model server: file parsing, the Bearer header, the constant-time comparison,
rotation with a fake clock and filesystem, and the REST layer's answers (401/403/200, open paths)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from lepton.serving import auth
from lepton.serving.auth import TokenFiles, TokenSet, bearer_token, parse_tokens
from lepton.serving.dataplane import DataPlane
from lepton.serving.metrics import ServingMetrics
from lepton.serving.rest import create_app

OLD, NEW = b"old-token-0123456789", b"new-token-9876543210"


@pytest.mark.parametrize(
    ("content", "tokens"),
    [
        (b"abc", [b"abc"]),
        (b"abc\n", [b"abc"]),  # kubectl create secret --from-file keeps the file's newline
        (b"  abc \r\n", [b"abc"]),
        (b"abc\n\ndef\n", [b"abc", b"def"]),  # old and new side by side during a rotation
        (b"", []),
        (b"\n \n\t\n", []),
    ],
)
def test_a_token_file_holds_one_token_a_line(content: bytes, tokens: list[bytes]) -> None:
    assert parse_tokens(content) == tokens


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc", b"abc"),
        ("bearer abc", b"abc"),  # the scheme is case-insensitive
        ("BEARER   abc  ", b"abc"),
        (None, None),
        ("", None),
        ("Bearer", None),
        ("Bearer ", None),
        ("Basic YWxhZGRpbjpvcGVuc2VzYW1l", None),
        ("abc", None),
    ],
)
def test_the_bearer_token_is_taken_from_the_authorization_header(
    header: str | None, token: bytes | None
) -> None:
    assert bearer_token(header) == token


def test_a_token_set_accepts_exactly_its_tokens() -> None:
    tokens = TokenSet.of([OLD, NEW, OLD])
    assert len(tokens) == 2
    assert tokens.accepts(OLD)
    assert tokens.accepts(NEW)
    assert not tokens.accepts(OLD[:-1])
    assert not tokens.accepts(OLD + b"x")
    assert not tokens.accepts(b"")
    assert not TokenSet().accepts(b"")  # no token at all: nothing is accepted, not even the empty one


@pytest.mark.parametrize("presented", [OLD, NEW, b"wrong", b"x" * 4096])
def test_every_token_is_compared_in_constant_time_whatever_matches(
    presented: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No early exit at the first match and equal-length operands to compare_digest: the time taken
    says neither which token matched nor how long the right one is."""
    calls: list[tuple[int, int]] = []
    real = auth.hmac.compare_digest

    def recording(a: bytes, b: bytes) -> bool:
        calls.append((len(a), len(b)))
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", recording)
    TokenSet.of([OLD, NEW, b"third"]).accepts(presented)
    assert calls == [(32, 32)] * 3


class FakeFiles:
    """A filesystem of token files: path -> content, absent paths raise as a missing file does."""

    def __init__(self, **files: bytes) -> None:
        self.files = dict(files)
        self.reads = 0

    def read(self, path: str) -> bytes:
        self.reads += 1
        if path not in self.files:
            raise FileNotFoundError(path)
        return self.files[path]


def watcher(fs: FakeFiles, *paths: str, poll_s: float = 2.0) -> TokenFiles:
    return TokenFiles(paths, poll_s, fs.read)


def test_rotation_is_seen_at_the_next_poll_and_not_before() -> None:
    fs = FakeFiles(a=OLD + b"\n")
    files = watcher(fs, "a")
    assert files.poll(0.0)
    assert files.tokens.accepts(OLD)
    fs.files["a"] = OLD + b"\n" + NEW + b"\n"  # step 1: both tokens while clients move over
    assert not files.poll(1.9)  # not due yet: the file is not read
    assert fs.reads == 1
    assert files.poll(2.0)
    assert files.tokens.accepts(OLD)
    assert files.tokens.accepts(NEW)
    fs.files["a"] = NEW  # step 2: the old token is revoked
    assert files.poll(4.0)
    assert not files.tokens.accepts(OLD)
    assert files.tokens.accepts(NEW)
    assert not files.poll(6.0)  # read again, unchanged: nothing to do
    assert fs.reads == 4


def test_several_files_each_add_their_tokens() -> None:
    fs = FakeFiles(a=OLD, b=NEW)
    files = watcher(fs, "a", "b")
    files.poll(0.0)
    assert files.tokens.accepts(OLD)
    assert files.tokens.accepts(NEW)
    del fs.files["b"]  # a key gone: its token is no longer accepted (fail closed), the other still is
    assert files.poll(2.0)
    assert files.tokens.accepts(OLD)
    assert not files.tokens.accepts(NEW)


@pytest.mark.parametrize("content", [None, b"", b"\n"])
def test_no_token_at_all_refuses_everyone_and_says_so(
    content: bytes | None, caplog: pytest.LogCaptureFixture
) -> None:
    fs = FakeFiles() if content is None else FakeFiles(a=content)
    files = watcher(fs, "a")
    with caplog.at_level(logging.INFO, logger=auth.__name__):
        files.poll(0.0)
    assert len(files.tokens) == 0
    assert not files.tokens.accepts(b"")
    assert "no API token loaded" in caplog.text


def test_logs_say_how_many_tokens_never_which(caplog: pytest.LogCaptureFixture) -> None:
    fs = FakeFiles(a=OLD, b=b"")
    files = watcher(fs, "a", "b", "missing")
    with caplog.at_level(logging.DEBUG, logger=auth.__name__):
        files.poll(0.0)
        fs.files["a"] = NEW
        files.poll(5.0)
    assert "loaded: 1 accepted" in caplog.text
    assert "reloaded: 1 accepted" in caplog.text
    assert "missing" in caplog.text  # the unreadable file is named
    for secret in (OLD, NEW):
        assert secret.decode() not in caplog.text
        assert secret.decode()[:6] not in caplog.text


# --- the REST layer ---------------------------------------------------------------------------


def _answers(files: TokenFiles | None, requests: list[tuple[str, str, dict[str, str]]]) -> list[Any]:
    async def run() -> list[Any]:
        dataplane = DataPlane(ServingMetrics())
        answers = []
        async with TestClient(TestServer(create_app(dataplane, auth=files))) as client:
            for method, path, headers in requests:
                response = await client.request(method, path, headers=headers)
                answers.append((response.status, response.headers.get("WWW-Authenticate")))
            metrics = await (await client.get("/metrics")).text()
        return [*answers, metrics]

    return asyncio.run(run())


def test_the_rest_layer_needs_a_token_except_for_health_and_metrics() -> None:
    files = TokenFiles(("a",), 2.0, FakeFiles(a=OLD).read)
    good = {"Authorization": f"Bearer {OLD.decode()}"}
    bad = {"Authorization": f"Bearer {NEW.decode()}"}
    *answers, metrics = _answers(
        files,
        [
            ("GET", "/v2/health/live", {}),
            ("GET", "/v2/health/ready", {}),
            ("GET", "/metrics", {}),
            ("GET", "/v2", {}),
            ("GET", "/v2", {"Authorization": "Basic abc"}),
            ("GET", "/v2", bad),
            ("GET", "/v2", good),
            ("POST", "/v2/models/m/infer", {}),
            ("POST", "/v2/models/m/infer", bad),
            ("POST", "/v2/models/m/infer", good),  # 404: no model m, but let through
            ("GET", "/v2/health/live/", {}),  # not an open path: refused, not matched loosely
        ],
    )
    challenge = 'Bearer realm="lepton-serve"'
    assert answers == [
        (200, None),
        (200, None),
        (200, None),
        (401, challenge),
        (401, challenge),
        (403, None),
        (200, None),
        (401, challenge),
        (403, None),
        (404, None),
        (401, challenge),
    ]
    assert 'lepton_serving_unauthorized_requests_total{code="401"} 4.0' in metrics
    assert 'lepton_serving_unauthorized_requests_total{code="403"} 2.0' in metrics
    assert 'code="401",model=' not in metrics  # refusals stay out of the autoscaler's counter


def test_without_token_files_the_endpoint_stays_open() -> None:
    *answers, _ = _answers(None, [("GET", "/v2", {}), ("GET", "/v2", {"Authorization": "Bearer x"})])
    assert answers == [(200, None), (200, None)]
