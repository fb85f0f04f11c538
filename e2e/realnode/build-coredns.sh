#!/usr/bin/env bash
# Builds the pinned CoreDNS (e2e/tools/coredns: its version and plugin set) from the Go module proxy
# into the tools cache, keyed by a hash of its pins, and prints the binary's path. A second run only checks it is there.
#
#   e2e/realnode/build-coredns.sh            build when missing, print the binary
#   e2e/realnode/build-coredns.sh --print    print the binary's path without building
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
module="$here/../tools/coredns"
cache=${LEPTON_CACHE:-$HOME/.cache/lepton}
GO_MIN=1.26.0

key=$(cat "$0" "$module/go.mod" "$module/go.sum" "$module/main.go" | sha256sum | cut -c1-16)
bin="$cache/bin/coredns-$key/coredns"

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
  echo "error: Go $have is too old; CoreDNS needs Go >= $GO_MIN" >&2
  exit 2
fi

version=$(cd "$module" && go list -m -f '{{.Version}}' github.com/coredns/coredns)
echo ">> building CoreDNS $version" >&2
start=$(date +%s)
mkdir -p "$(dirname "$bin")"
(cd "$module" && CGO_ENABLED=0 go build -trimpath \
  -ldflags "-X github.com/coredns/coredns/coremain.GitCommit=$version" \
  -o "$bin.partial" .)
mv "$bin.partial" "$bin"
echo ">> CoreDNS built in $(( $(date +%s) - start )) s into $bin" >&2
echo "$bin"
