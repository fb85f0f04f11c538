#!/usr/bin/env bash
# Builds the project's images from images/{operator,trainer,server}/Dockerfile with buildah (no
# Docker engine here), FROM local bases: a Debian bookworm rootfs (debootstrap), Python on it, and a
# torch base that trainer and server share. Every image is rebuilt only when its inputs change (a
# hash in a stamp), pip's cache is kept in the cache folder, and each image is exported into one
# OCI layout for the real nodes' containerd (`python3 -m realnode import LAYOUT REF...`).
#
#   e2e/images/build.sh [operator|trainer|server ...]   (default: all three)
#   prints "<name> <oci layout> <image ref>" per image; progress and timings go to stderr
#
# Env: LEPTON_IMAGES_REUSE=1 keeps images whose inputs changed (a quick loop on other parts),
# LEPTON_CACHE (default ~/.cache/lepton), TORCH_VERSION (default: the one pyproject's env has
# pinned here, 2.15.0), DEBIAN_MIRROR (default http://deb.debian.org/debian).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
here="$root/e2e/images"
cache=${LEPTON_CACHE:-$HOME/.cache/lepton}/images
torch_version=${TORCH_VERSION:-2.15.0}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
images=("$@")
[[ ${#images[@]} -gt 0 ]] || images=(operator trainer server)

missing=()
[[ $(id -u) -eq 0 ]] || missing+=("root (buildah with the overlay driver and chroot isolation runs as root)")
command -v buildah >/dev/null || missing+=("buildah (Debian package buildah)")
command -v debootstrap >/dev/null || missing+=("debootstrap (Debian package debootstrap)")
grep -qw overlay /proc/filesystems || missing+=("the overlay filesystem (modprobe overlay)")
if [[ ${#missing[@]} -gt 0 ]]; then
  printf 'error: cannot build images here; missing: %s. `make setup` installs the packages.\n' \
    "$(IFS=';'; echo "${missing[*]}")" >&2
  exit 2
fi

mkdir -p "$cache/stamps" "$cache/pip" "$cache/tmp"
# pip inside RUN steps sees the host's pip cache and, where the host's pip trusts an extra CA
# (PIP_CERT or its config's cert, e.g. a proxy's), that CA too, via a pip.conf mounted for the build.
volumes=(-v "$cache/pip:/var/cache/pip")
cert=${PIP_CERT:-$(pip config get global.cert 2>/dev/null || true)}
if [[ -n $cert && -f $cert ]]; then
  printf '[global]\ncert = /etc/lepton-build/ca.crt\n' >"$cache/tmp/pip.conf"
  volumes+=(-v "$cert:/etc/lepton-build/ca.crt:ro" -v "$cache/tmp/pip.conf:/etc/pip.conf:ro")
fi
bh() { buildah --root "$cache/storage" --runroot "$cache/run" --storage-driver overlay "$@"; }
log() { echo ">> $*" >&2; }
image_id() { bh images --noheading --no-trunc --format '{{.ID}}' "$1" 2>/dev/null | head -n1; }
sha() { sha256sum | cut -c1-16; }
# Fresh only when the image exists and was built from inputs with the same hash.
fresh() { [[ -n "$(image_id "$1")" && "$(cat "$cache/stamps/$2" 2>/dev/null)" == "$3" ]]; }

# 1. Debian bookworm minbase with python3, committed from a debootstrap rootfs.
debian=lepton.local/debian:bookworm
key=$(printf '%s\n' "$mirror" "minbase python3 python3-venv ca-certificates" "v1" | sha)
if ! fresh "$debian" debian "$key"; then
  start=$(date +%s)
  log "debootstrap bookworm (minbase + python3) from $mirror"
  rootfs=$(mktemp -d "$cache/tmp/rootfs.XXXXXX")
  trap 'rm -rf "$rootfs"' EXIT
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$rootfs" \
    "$mirror" >"$cache/tmp/debootstrap.log" 2>&1 || {
    tail -n 20 "$cache/tmp/debootstrap.log" >&2
    exit 1
  }
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  ctr=$(bh from --quiet scratch)
  mnt=$(bh mount "$ctr")
  cp -a "$rootfs"/. "$mnt"/
  bh umount "$ctr" >/dev/null
  bh config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --cmd bash "$ctr"
  bh commit --quiet --rm "$ctr" "$debian" >/dev/null
  rm -rf "$rootfs"
  trap - EXIT
  echo "$key" >"$cache/stamps/debian"
  log "base $debian made in $(($(date +%s) - start)) s"
fi

# build NAME TAG DOCKERFILE CONTEXT BASE [build args...]: bud FROM the image BASE (passed as the
# BASE_IMAGE build arg) when the inputs' hash (base image id, args, Dockerfile, context) changed.
build() {
  local name=$1 tag=$2 dockerfile=$3 context=$4 base=$5
  shift 5
  local key
  key=$( (
    image_id "$base"
    printf '%s\n' "$@"
    cat "$dockerfile"
    tar -C "$context" --sort=name --mtime=@0 --owner=0 --group=0 -cf - . | sha256sum
  ) | sha)
  if fresh "$tag" "$name" "$key"; then
    log "$tag is up to date"
    return
  fi
  if [[ ${LEPTON_IMAGES_REUSE:-0} == 1 && -n "$(image_id "$tag")" ]]; then
    log "$tag: inputs changed, reused as it is (LEPTON_IMAGES_REUSE=1)"
    return
  fi
  local start args=()
  start=$(date +%s)
  for a in "BASE_IMAGE=$base" "$@"; do args+=(--build-arg "$a"); done
  log "building $tag"
  bh bud --isolation chroot --layers "${volumes[@]}" "${args[@]}" \
    -f "$dockerfile" -t "$tag" "$context" >"$cache/tmp/$name.log" 2>&1 || {
    tail -n 30 "$cache/tmp/$name.log" >&2
    echo "error: building $tag failed; full log: $cache/tmp/$name.log" >&2
    exit 1
  }
  echo "$key" >"$cache/stamps/$name"
  log "$tag built in $(($(date +%s) - start)) s"
}

empty="$cache/tmp/empty-context"
mkdir -p "$empty"
build python-base lepton.local/python-base:bookworm "$here/python-base/Dockerfile" "$empty" "$debian"

needs_torch=0
for i in "${images[@]}"; do [[ $i == trainer || $i == server ]] && needs_torch=1; done
if [[ $needs_torch -eq 1 ]]; then
  requirements=$(python3 - "$root/pyproject.toml" <<'PY'
import sys, tomllib
project = tomllib.load(open(sys.argv[1], "rb"))["project"]
extras = project["optional-dependencies"]
wanted = [*project["dependencies"], *extras["trainer"], *extras["serve"]]
print(" ".join(sorted({r.replace(" ", "") for r in wanted if not r.startswith("torch")})))
PY
)
  build torch-base "lepton.local/torch-base:$torch_version" "$here/torch-base/Dockerfile" "$empty" \
    lepton.local/python-base:bookworm "TORCH_VERSION=$torch_version" "REQUIREMENTS=$requirements"
fi

# The project's build context: what git tracks (or would) of the files the Dockerfiles copy.
context="$cache/tmp/context"
rm -rf "$context"
mkdir -p "$context"
(cd "$root" && git ls-files -z --cached --others --exclude-standard -- pyproject.toml README.md operator \
  | while IFS= read -r -d '' f; do if [[ -e $f ]]; then printf '%s\0' "$f"; fi; done \
  | tar --null -T - -cf - | tar -C "$context" -xf -)

for name in "${images[@]}"; do
  case $name in
    operator) base=lepton.local/python-base:bookworm ;;
    trainer | server) base=lepton.local/torch-base:$torch_version ;;
    *) echo "error: unknown image $name (operator, trainer, server)" >&2; exit 2 ;;
  esac
  tag=docker.io/lepton/$name:dev
  args=()
  [[ $name == operator ]] || args=("TORCH_VERSION=$torch_version")
  build "$name" "$tag" "$root/images/$name/Dockerfile" "$context" "$base" "${args[@]}"
  id=$(image_id "$tag")
  if [[ ! -f $cache/oci/index.json || "$(cat "$cache/stamps/$name.exported" 2>/dev/null)" != "$id" ]]; then
    start=$(date +%s)
    # One OCI layout for all images: blobs are files named by digest, so the torch layers the
    # trainer and server share are written once and a rebuild writes only its changed layers.
    # Uncompressed: containerd unpacks them at once, and gzip of torch's layers costs minutes.
    bh push --quiet --disable-compression "$tag" "oci:$cache/oci:$tag" >/dev/null
    echo "$id" >"$cache/stamps/$name.exported"
    log "$tag exported in $(($(date +%s) - start)) s"
  fi
  echo "$name $cache/oci $tag"
done

# Manifests whose name moved to a newer build go, with the blobs no named image uses: every rebuild
# of the torch base would otherwise leave its 3 GB layer behind.
python3 - "$cache/oci" <<'PY'
import json, os, sys

root = sys.argv[1]
index_path = os.path.join(root, "index.json")
if not os.path.exists(index_path):
    sys.exit(0)
with open(index_path) as f:
    index = json.load(f)
named = [m for m in index["manifests"] if (m.get("annotations") or {}).get("org.opencontainers.image.ref.name")]
keep = set()
for m in named:
    keep.add(m["digest"])
    with open(os.path.join(root, "blobs", *m["digest"].split(":"))) as f:
        manifest = json.load(f)
    keep.add(manifest["config"]["digest"])
    keep.update(layer["digest"] for layer in manifest["layers"])
if len(named) != len(index["manifests"]):
    index["manifests"] = named
    with open(index_path + ".tmp", "w") as f:
        json.dump(index, f)
    os.replace(index_path + ".tmp", index_path)
freed = 0
for algorithm in os.listdir(os.path.join(root, "blobs")):
    for name in os.listdir(os.path.join(root, "blobs", algorithm)):
        if f"{algorithm}:{name}" not in keep:
            path = os.path.join(root, "blobs", algorithm, name)
            freed += os.path.getsize(path)
            os.remove(path)
if freed:
    print(f">> pruned {freed / 1e9:.1f} GB of image blobs no named image uses", file=sys.stderr)
PY
