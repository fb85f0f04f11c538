"""The command line the operator's Deployment uses, and what a log line may show of a URL."""

from __future__ import annotations

import pytest

from lepton.activator.cli import config_from_args
from lepton.activator.control import loggable

REQUIRED = [
    "--service", "demo", "--namespace", "team",
    "--backend", "http://demo-private.team.svc:80/", "--activate-url", "http://op.lepton:8081/activate",
]  # fmt: skip


def test_the_required_flags_and_the_documented_defaults() -> None:
    config = config_from_args(REQUIRED)
    assert (config.service, config.namespace) == ("demo", "team")
    assert config.backend_base == "http://demo-private.team.svc:80"
    assert config.activate_url == "http://op.lepton:8081/activate"
    assert (config.host, config.port) == ("0.0.0.0", 8080)
    assert (config.queue_size, config.timeout_s) == (100, 60.0)
    assert (config.ready_path, config.poll_interval_s) == ("/v2/health/ready", 0.25)
    assert config.max_body_bytes == 64 * 1024 * 1024
    assert config.drain_delay_s == 0.0


def test_every_optional_flag_is_read() -> None:
    config = config_from_args(
        [*REQUIRED, "--port", "9000", "--host", "127.0.0.1", "--queue-size", "5", "--timeout-seconds", "2.5",
         "--ready-path", "/healthz", "--poll-interval", "0.5", "--max-body-bytes", "1024",
         "--drain-delay-s", "5"]
    )  # fmt: skip
    assert (config.port, config.host, config.queue_size, config.timeout_s) == (9000, "127.0.0.1", 5, 2.5)
    assert (config.ready_path, config.poll_interval_s, config.max_body_bytes) == ("/healthz", 0.5, 1024)
    assert config.drain_delay_s == 5.0


@pytest.mark.parametrize(
    "extra",
    [
        ["--queue-size", "0"],
        ["--timeout-seconds", "0"],
        ["--poll-interval", "-1"],
        ["--ready-path", "health"],
        ["--backend", "demo-private:80"],
        ["--drain-delay-s", "-1"],
    ],
)
def test_nonsense_is_refused_at_startup(extra: list[str]) -> None:
    with pytest.raises(SystemExit):
        config_from_args([*REQUIRED, *extra])


def test_a_logged_url_shows_no_credentials_or_query() -> None:
    shown = loggable("https://user:pa55@op.lepton:8443/activate?token=s3cret#x")
    assert shown == "https://op.lepton:8443/activate"
