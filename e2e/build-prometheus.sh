#!/usr/bin/env bash
# Builds the pinned Prometheus (e2e/tools/prometheus: its version, and Kubernetes as its only optional
# service discovery) from the Go module proxy into the tools cache, keyed by a hash of its pins, and
# prints the binary's path. A second run only checks it is there. Debian's prometheus package lacks
# Kubernetes service discovery, which the local cluster's Prometheus uses to find pods.
#
#   e2e/build-prometheus.sh            build when missing, print the binary
#   e2e/build-prometheus.sh --print    print the binary's path without building
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
module="$here/tools/prometheus"
cache=${LEPTON_CACHE:-$HOME/.cache/lepton}
GO_MIN=1.26.0

key=$(cat "$0" "$module/go.mod" "$module/go.sum" "$module/plugins.go.in" | sha256sum | cut -c1-16)
bin="$cache/bin/prometheus-$key/prometheus"

if [[ "${1:-}" == "--print" || -x "$bin" ]]; then
  echo "$bin"
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  echo "error: Go is not installed; install Go >= $GO_MIN (https://go.dev/dl) and retry" >&2
  exit 2
fi
have=$(go env GOVERSION | sed 's/^go//')
if [[ "$(printf '%s\n%s\n' "$GO_MIN" "$have" | sort -V | head -n1)" != "$GO_MIN" ]]; then
  echo "error: Go $have is too old; Prometheus needs Go >= $GO_MIN" >&2
  exit 2
fi

# One build at a time: callers that arrive meanwhile wait, then find the binary there.
mkdir -p "$(dirname "$bin")"
exec 9>"$(dirname "$bin")/.lock"
flock 9
if [[ -x "$bin" ]]; then
  echo "$bin"
  exit 0
fi

cd "$module"
version=$(go list -m -f '{{.Version}}' github.com/prometheus/prometheus)
# `go list -m` names the module's folder only once it is in the module cache: on a machine that never
# built it, Dir is empty until the module is downloaded.
go mod download github.com/prometheus/prometheus
src=$(go list -m -f '{{.Dir}}' github.com/prometheus/prometheus)
# Module v0.305.1 is Prometheus v3.5.1.
release=$(echo "$version" | sed -E 's/^v0\.([0-9])0*([0-9]+)\.([0-9]+)$/\1.\2.\3/')
# Go refuses to overlay files of the module cache: build a copy of the module with our plugin list,
# through a copy of this module that replaces it.
work="$(dirname "$bin")/work"
rm -rf "$work"
mkdir -p "$work/tool"
cp -r "$src" "$work/prometheus"
chmod -R u+w "$work/prometheus"
cp "$module/plugins.go.in" "$work/prometheus/plugins/plugins.go"
cp "$module/go.mod" "$module/go.sum" "$work/tool/"
cd "$work/tool"
go mod edit -replace "github.com/prometheus/prometheus=$work/prometheus"
echo ">> building Prometheus $release (module $version; Kubernetes service discovery only)" >&2
start=$(date +%s)
v=github.com/prometheus/common/version
CGO_ENABLED=0 go build -trimpath \
  -ldflags "-X $v.Version=$release -X $v.Revision=$version -X $v.Branch=HEAD -X $v.BuildUser=lepton" \
  -o "$bin.partial" github.com/prometheus/prometheus/cmd/prometheus
mv "$bin.partial" "$bin"
rm -rf "$work"
echo ">> Prometheus built in $(( $(date +%s) - start )) s into $bin" >&2
echo "$bin"
