"""The Argo CD health-check harness (e2e/tools/luahealth: gopher-lua, the Lua engine Argo CD uses),
built once per version of its sources into the cache, as e2e/build-tools.sh builds the cluster."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from hostprep.facts import cache_dir, luahealth_dir
from support.paths import REPO

HARNESS = REPO / "e2e" / "tools" / "luahealth"


def luahealth_binary() -> Path:
    # Keyed in hostprep.facts, which `make clean-cache` and the preflight read too.
    binary = luahealth_dir(cache_dir()) / "luahealth"
    if not binary.is_file():
        binary.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "CGO_ENABLED": "0"}
        subprocess.run(["go", "build", "-trimpath", "-o", str(binary), "."], cwd=HARNESS, env=env, check=True)
    return binary
