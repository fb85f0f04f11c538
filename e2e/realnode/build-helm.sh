#!/usr/bin/env bash
# Builds the pinned helm (renders charts/lepton for `make demo IN_CLUSTER=1`) from the Go module
# proxy into the tools cache and prints its path; a second run only checks it is there.
set -euo pipefail

HELM_VERSION=v3.19.4
cache=${LEPTON_CACHE:-$HOME/.cache/lepton}
bin="$cache/bin/helm-$HELM_VERSION/helm"
if [[ "${1:-}" == "--print" || -x "$bin" ]]; then
  echo "$bin"
  exit 0
fi
command -v go >/dev/null 2>&1 || { echo "error: Go is not installed; helm is built with it" >&2; exit 2; }
echo ">> building helm $HELM_VERSION" >&2
start=$(date +%s)
GOBIN="$(dirname "$bin")" CGO_ENABLED=0 go install -trimpath \
  -ldflags "-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
echo ">> helm built in $(($(date +%s) - start)) s" >&2
echo "$bin"
