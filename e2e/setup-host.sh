#!/usr/bin/env bash
# Installs the Debian packages the local cluster needs, when missing. Needs root (or sudo) only
# when something is missing; says what to install by hand otherwise.
set -euo pipefail

# containerd, runc, CNI plugins, gcc + libc6-dev (static pause), busybox-static, iptables (kube-proxy):
# real nodes; buildah + debootstrap: the images (e2e/images/build.sh). Prometheus is built from the Go
# module proxy (e2e/build-prometheus.sh): Debian's lacks Kubernetes service discovery.
packages=(openssl containerd runc containernetworking-plugins gcc libc6-dev busybox-static iptables
  buildah debootstrap)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "error: missing ${missing[*]} and this is not a Debian-like system: install them by hand" >&2
  exit 2
fi
sudo=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null 2>&1 || { echo "error: installing ${missing[*]} needs root" >&2; exit 2; }
  sudo=sudo
fi
echo ">> installing ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
