#!/usr/bin/env bash
# Builds the pinned Traefik (e2e/tools/traefik: v3.6.12, the Gateway API implementation of the local
# cluster) from the Go module proxy into the tools cache, keyed by a hash of its pins, and prints the
# binary's path. A second run only checks it is there. A cold build takes about 12 min on two cores
# and gives a ~178 MB binary that has --providers.kubernetesgateway.
#
#   e2e/build-traefik.sh            build when missing, print the binary
#   e2e/build-traefik.sh --print    print the binary's path without building
#   e2e/build-traefik.sh --crds     print the folder of Gateway API's standard CRDs at the release
#                                   Traefik was built against (from the Go module cache)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
module="$here/tools/traefik"
cache=${LEPTON_CACHE:-$HOME/.cache/lepton}
GO_MIN=1.26.0

key=$(cat "$0" "$module/go.mod" "$module/go.sum" | sha256sum | cut -c1-16)
bin="$cache/bin/traefik-$key/traefik"

need_go() {
  if ! command -v go >/dev/null 2>&1; then
    echo "error: Go is not installed; install Go >= $GO_MIN (https://go.dev/dl) and retry" >&2
    exit 2
  fi
  local have
  have=$(go env GOVERSION | sed 's/^go//')
  if [[ "$(printf '%s\n%s\n' "$GO_MIN" "$have" | sort -V | head -n1)" != "$GO_MIN" ]]; then
    echo "error: Go $have is too old; Traefik's wrapper module needs Go >= $GO_MIN" >&2
    exit 2
  fi
}

case "${1:-}" in
  --print) echo "$bin"; exit 0 ;;
  --crds)
    need_go
    # The CRDs must match the gateway-api release Traefik's go.mod requires (v1.4.0): a newer
    # release's CRDs carry fields and versions this Traefik does not know.
    gwapi=$(cd "$module" && go list -m -f '{{.Version}}' sigs.k8s.io/gateway-api)
    dir=$(cd "$module" && go mod download -json "sigs.k8s.io/gateway-api@$gwapi" |
      sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')
    [[ -d "$dir/config/crd/standard" ]] || { echo "error: no CRDs in $dir" >&2; exit 1; }
    echo "$dir/config/crd/standard"
    exit 0 ;;
esac

if [[ -x "$bin" ]]; then
  echo "$bin"
  exit 0
fi
need_go

# One build at a time: callers that arrive meanwhile wait, then find the binary there.
mkdir -p "$(dirname "$bin")"
exec 9>"$(dirname "$bin")/.lock"
flock 9
if [[ -x "$bin" ]]; then
  echo "$bin"
  exit 0
fi

cd "$module"
version=$(go list -m -f '{{.Version}}' github.com/traefik/traefik/v3)
echo ">> building Traefik $version" >&2
start=$(date +%s)
v=github.com/traefik/traefik/v3/pkg/version
CGO_ENABLED=0 go build -trimpath \
  -ldflags "-s -w -X $v.Version=$version" \
  -o "$bin.partial" github.com/traefik/traefik/v3/cmd/traefik
mv "$bin.partial" "$bin"
echo ">> Traefik built in $(( $(date +%s) - start )) s into $bin" >&2
echo "$bin"
