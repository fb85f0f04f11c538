#!/usr/bin/env bash
# Makes the project's Python environment: a virtualenv in the cache folder keyed by a hash of
# pyproject.toml (torch alone is 5.5 GB, so it is built once and reused across clones), linked as
# .venv, with this checkout installed editable into it. pip's cache is kept between runs.
#
#   e2e/python-env.sh            make (or reuse) the env, link it, print its folder
#   e2e/python-env.sh --print    print the env's folder without making it
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cache=${LEPTON_CACHE:-$HOME/.cache/lepton}
python=${PYTHON:-python3}
extras=${LEPTON_EXTRAS:-trainer,serve,dev}

if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "error: $python is missing or older than 3.11; install Python >= 3.11 or set PYTHON=" >&2
  exit 2
fi

# Keyed by the dependency lists only, so editing tool settings in pyproject.toml reuses the env.
key=$("$python" - "$root/pyproject.toml" "$extras" <<'PY' | sha256sum | cut -c1-16
import json, sys, tomllib
project = tomllib.load(open(sys.argv[1], "rb"))["project"]
print(json.dumps([project["dependencies"], project["optional-dependencies"], sys.argv[2], sys.version]))
PY
)
venv="$cache/venv/$key"
if [[ "${1:-}" == "--print" ]]; then
  echo "$venv"
  exit 0
fi
if [[ ! -x "$venv/bin/python" || ! -f "$venv/.complete" ]]; then
  echo ">> creating the Python environment in $venv (first time: torch takes a few minutes)" >&2
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install --quiet --upgrade pip
  "$venv/bin/pip" install --quiet -e "$root[$extras]"
  touch "$venv/.complete"
else
  # The environment is shared by clones; point its editable install at this checkout.
  "$venv/bin/pip" install --quiet --no-deps --no-build-isolation -e "$root" 2>/dev/null \
    || "$venv/bin/pip" install --quiet --no-deps -e "$root"
fi
ln -sfn "$venv" "$root/.venv"
echo "$venv"
