"""The fresh-clone check, made cheap: `make check` and `make demo` with nothing set up get as far as
their first test (or the demo) rather than failing late.

A cold set-up takes about an hour, so it is not run. Instead:
- `make -n` transcripts (a dry run walks the same recipes, recursive makes included) show that the
  preflight comes first and that every set-up step comes before anything that uses what it makes;
- every Go build the suite or the demo triggers on first use is known to the preflight, which
  refuses at once when it could not be built (no Go) rather than when a test first needs it;
- the preflight itself runs in seconds on a machine where Go is missing and the cache is empty.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from hostprep import facts, preflight
from support.paths import REPO

SETUP = ("e2e/setup-host.sh", "e2e/build-tools.sh", "e2e/build-prometheus.sh", "e2e/python-env.sh")
# What uses the set-up's outputs: the env, the cluster (tools, Prometheus), the images (buildah).
USERS = re.compile(r"\.venv/bin/|localcluster up|e2e/images/build\.sh|realnode\.demo")


def dry_run(target: str, tmp_path: Path, **env: str) -> list[str]:
    environ = {**os.environ, "LEPTON_CACHE": str(tmp_path / "cache"), "MAKEFLAGS": "", **env}
    out = subprocess.run(
        ["make", "-n", "--no-print-directory", target],
        cwd=REPO,
        env=environ,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return out.stdout.splitlines()


def first(lines: list[str], pattern: str | re.Pattern[str]) -> int:
    for i, line in enumerate(lines):
        if re.search(pattern, line):
            return i
    raise AssertionError(f"{pattern!r} is not in the transcript:\n" + "\n".join(lines))


@pytest.mark.parametrize(
    ("target", "env", "goal"),
    [
        ("check", {}, "check"),
        ("demo", {}, "demo"),
        ("demo", {"IN_CLUSTER": "1"}, "demo-in-cluster"),
    ],
)
def test_preflight_then_setup_then_what_uses_it(target, env, goal, tmp_path):
    lines = dry_run(target, tmp_path, **env)
    assert re.search(rf"-m hostprep preflight {goal}$", lines[0]), lines[:3]
    use = first(lines, USERS)
    for step in SETUP:
        assert first(lines, re.escape(step)) < use, f"{step} runs after {lines[use]!r}"


def test_check_reaches_the_tests_after_lint_and_cluster(tmp_path):
    lines = dry_run("check", tmp_path)
    order = [
        first(lines, p)
        for p in (
            r"-m ruff check",
            r"localcluster up",
            r'-m pytest -m "not e2e"',
            r"e2e/images/build\.sh",
            r"-m pytest -m e2e",
        )
    ]
    assert order == sorted(order)


def test_check_starts_traefiks_build_before_the_suite(tmp_path):
    """A cold Traefik build takes 12-32 min here: started before the suite, it runs beside it instead
    of after it, in the e2e stage, where the Gateway tests would wait for it."""
    lines = dry_run("check", tmp_path)
    assert first(lines, r"e2e/build-traefik\.sh") < first(lines, r'-m pytest -m "not e2e"')


def _referrers(token: str, roots: list[Path]) -> list[Path]:
    own = {REPO / s for s in facts.GO_BUILDS.values() if s} | set((REPO / "e2e" / "hostprep").rglob("*"))
    own.add(Path(__file__).resolve())
    return [
        p
        for root in roots
        for p in root.rglob("*")
        if p.suffix in (".py", ".sh", ".mk") and p not in own and token in p.read_text()
    ]


def test_every_go_build_script_is_known_to_the_preflight():
    scripts = {str(p.relative_to(REPO)) for p in (REPO / "e2e").rglob("build*.sh")}
    scripts.discard("e2e/images/build.sh")  # buildah and root, which the preflight checks for real nodes
    assert scripts == {s for s in facts.GO_BUILDS.values() if s}


@pytest.mark.parametrize("name", sorted(facts.GO_BUILDS))
def test_builds_the_suite_triggers_are_in_the_check_goal(name):
    script = facts.GO_BUILDS[name]
    token = Path(script).name if script else "luahealth_binary"
    if script == "e2e/tools/keda/build.sh":
        token = "keda/build.sh"
    suite = _referrers(token, [REPO / "tests", REPO / "e2e"])
    if suite:
        assert name in preflight.GOAL_BUILDS["check"], f"{name} is built by {suite} during make check"
    demo = _referrers(token, [REPO / "e2e" / "localcluster", REPO / "e2e" / "realnode"])
    if demo:
        assert name in preflight.GOAL_BUILDS["demo-in-cluster"], f"{name} is built by {demo} during make demo"


def test_preflight_refuses_in_seconds_without_go_on_an_empty_cache(tmp_path):
    path = ":".join(d for d in os.environ["PATH"].split(":") if not (Path(d) / "go").exists())
    started = time.monotonic()
    out = subprocess.run(
        ["python3", "-m", "hostprep", "preflight", "check"],
        cwd=REPO,
        env={**os.environ, "PATH": path, "PYTHONPATH": "e2e", "LEPTON_CACHE": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    took = time.monotonic() - started
    assert out.returncode == 2, out.stderr
    assert "Go is not installed" in out.stderr
    assert "then `make check`" in out.stderr
    assert took < 15, f"the preflight took {took:.1f} s"
    assert not any(tmp_path.iterdir()), "the preflight must build nothing"
