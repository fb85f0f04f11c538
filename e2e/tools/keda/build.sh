#!/usr/bin/env bash
# Builds the pinned KEDA operator and metrics API server (adapter) from the Go module proxy into a
# cache folder outside git, keyed by a hash of this script and the pins (like e2e/build-tools.sh),
# and prints that folder. Used only by bench/bench_autoscaling.py; a cold build takes 15-30 min on
# two cores, a second run with the same pins only checks that the binaries are there.
#
#   e2e/tools/keda/build.sh            build what is missing, print the bin directory
#   e2e/tools/keda/build.sh --print    print the bin directory without building
#   e2e/tools/keda/build.sh --crds     print the folder of KEDA's CRDs (config/crd/bases) in the module
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${LEPTON_CACHE:-$HOME/.cache/lepton}
KEDA_VERSION=v2.21.0

key=$(cat "$0" "$here"/go.{mod,sum} | sha256sum | cut -c1-16)
bin="$cache/bin/keda-$KEDA_VERSION-$key"

case "${1:-}" in
  --print) echo "$bin"; exit 0 ;;
  --crds)
    dir=$(cd "$here" && go list -m -f '{{.Dir}}' github.com/kedacore/keda/v2)
    echo "$dir/config/crd/bases"
    exit 0 ;;
esac

need=(keda keda-adapter)
missing=()
for b in "${need[@]}"; do [[ -x "$bin/$b" ]] || missing+=("$b"); done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "$bin"
  exit 0
fi

command -v go >/dev/null 2>&1 || { echo "error: Go is not installed (need >= 1.26.0)" >&2; exit 2; }

# One build at a time: a second caller waits, then finds the binaries there.
mkdir -p "$cache/bin"
exec 9>"$cache/bin/.lock-keda"
flock 9
missing=()
for b in "${need[@]}"; do [[ -x "$bin/$b" ]] || missing+=("$b"); done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "$bin"
  exit 0
fi

rm -rf "$bin.partial"
mkdir -p "$bin.partial"
export CGO_ENABLED=0 GOFLAGS=-trimpath
start=$(date +%s)
# The same version stamps KEDA's Makefile sets, so the binaries log what they are.
commit=$(cd "$here" && go mod download -json github.com/kedacore/keda/v2@$KEDA_VERSION |
  sed -n 's/.*"Hash": "\([0-9a-f]*\)".*/\1/p')
ldflags="-X=github.com/kedacore/keda/v2/version.GitCommit=$commit -X=github.com/kedacore/keda/v2/version.Version=$KEDA_VERSION"
echo ">> building KEDA $KEDA_VERSION (operator, metrics API server)" >&2
(cd "$here" && go build -ldflags "$ldflags" -o "$bin.partial/keda" github.com/kedacore/keda/v2/cmd/operator)
(cd "$here" && go build -ldflags "$ldflags" -o "$bin.partial/keda-adapter" github.com/kedacore/keda/v2/cmd/adapter)
rm -rf "$bin"
mv "$bin.partial" "$bin"
echo ">> KEDA built in $(( $(date +%s) - start )) s into $bin" >&2
echo "$bin"
