#!/usr/bin/env bash
# Builds the pinned control-plane tools (Kubernetes, etcd, KWOK) from the Go module proxy into a
# cache folder outside git, keyed by a hash of the pins, and prints that folder. A second run with
# the same pins only checks that the binaries are there (seconds).
#
#   e2e/build-tools.sh            build what is missing, print the bin directory
#   e2e/build-tools.sh --print    print the bin directory without building
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
tools="$here/tools"
cache=${LEPTON_CACHE:-$HOME/.cache/lepton}

K8S_VERSION=v1.35.4
K8S_MAJOR=1
K8S_MINOR=35
GO_MIN=1.26.0

# Keyed by this script and the pins of what it builds (other tool modules under tools/ have their own).
key=$(cat "$0" "$tools"/{kubernetes,etcd,kwok}/go.{mod,sum} | sha256sum | cut -c1-16)
bin="$cache/bin/$key"

if [[ "${1:-}" == "--print" ]]; then
  echo "$bin"
  exit 0
fi

need=(etcd kube-apiserver kube-controller-manager kube-proxy kube-scheduler kubectl kubelet kwok)
missing=()
for b in "${need[@]}"; do [[ -x "$bin/$b" ]] || missing+=("$b"); done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "$bin"
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  echo "error: Go is not installed; install Go >= $GO_MIN (https://go.dev/dl) and retry" >&2
  exit 2
fi
have=$(go env GOVERSION | sed 's/^go//')
if [[ "$(printf '%s\n%s\n' "$GO_MIN" "$have" | sort -V | head -n1)" != "$GO_MIN" ]]; then
  echo "error: Go $have is too old; the pinned tools need Go >= $GO_MIN" >&2
  exit 2
fi

# One build at a time: callers that arrive meanwhile wait, then find the binaries there.
mkdir -p "$cache/bin"
exec 9>"$cache/bin/.lock"
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

echo ">> building Kubernetes $K8S_VERSION (kube-apiserver, kube-controller-manager, kube-proxy, kube-scheduler, kubectl, kubelet)" >&2
ldflags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=$K8S_MAJOR -X $pkg.gitMinor=$K8S_MINOR"
  ldflags+=" -X $pkg.gitTreeState=clean"
done
(cd "$tools/kubernetes" && go build -ldflags "$ldflags" -o "$bin.partial/" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-proxy \
  k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl k8s.io/kubernetes/cmd/kubelet)

echo ">> building etcd" >&2
(cd "$tools/etcd" && go build -o "$bin.partial/etcd" go.etcd.io/etcd/server/v3)

echo ">> building kwok" >&2
kwok_version=$(cd "$tools/kwok" && go list -m -f '{{.Version}}' sigs.k8s.io/kwok)
(cd "$tools/kwok" && go build -ldflags "-X sigs.k8s.io/kwok/pkg/consts.Version=$kwok_version" \
  -o "$bin.partial/kwok" sigs.k8s.io/kwok/cmd/kwok)

rm -rf "$bin"
mv "$bin.partial" "$bin"
echo ">> tools built in $(( $(date +%s) - start )) s into $bin" >&2
echo "$bin"
