#!/usr/bin/env bash
# Builds hearth's image from a binary built here: the Dockerfile's final stage over a
# context folder with a static binary, CA certificates and the empty /data and /tmp.
#
#   scripts/image.sh                  # release build (static), then localhost/hearth:dev
#   HEARTH_BIN=path scripts/image.sh  # pack this binary instead (it must be static)
#   TARGET=dev scripts/image.sh       # the image for Tilt's live update (Dockerfile)
#
# Environment: IMAGE (localhost/hearth), TAG (dev), TARGET (release, or dev: adds
# Debian's static busybox and deploy/dev/hearth-live.sh), PODMAN (podman; docker works too),
# PODMAN_FLAGS (global options, such as `--runtime runc --storage-driver vfs` where the
# default storage does not work), CARGO_FLAGS (for the release build:
# --no-default-features leaves out the PDF engine), MAX_MB (fail when the image is larger).
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=${IMAGE:-localhost/hearth}
TAG=${TAG:-dev}
TARGET=${TARGET:-release}
PODMAN=${PODMAN:-podman}
log() { printf '==> %s\n' "$*"; }

triple=$(rustc -vV | sed -n 's/^host: //p')
if [ -z "${HEARTH_BIN:-}" ]; then
  log "cargo build --release (static, $triple)"
  read -r -a flags <<<"${CARGO_FLAGS:-}"
  # Static, with the relative relocations packed (RELR): 1.2 MB smaller, still a PIE.
  RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static -C link-arg=-Wl,-z,pack-relative-relocs" \
    cargo build --release --locked --target "$triple" "${flags[@]}"
  HEARTH_BIN=target/$triple/release/hearth
fi
if [ ! -x "$HEARTH_BIN" ]; then
  echo "error: $HEARTH_BIN is not an executable (build it, or unset HEARTH_BIN)" >&2
  exit 1
fi
is_static() { local headers; headers=$(readelf -l "$1") && [[ $headers != *'program interpreter'* ]]; }
if ! is_static "$HEARTH_BIN"; then
  echo "error: $HEARTH_BIN is not statically linked; a FROM scratch image cannot run it" \
    "(build with RUSTFLAGS='-C target-feature=+crt-static' --target $triple)" >&2
  exit 1
fi
case $TARGET in
  release) ;;
  dev)
    busybox=$(command -v busybox || true)
    if [ -z "$busybox" ] || ! is_static "$busybox"; then
      echo "error: the dev image needs a static busybox on PATH (Debian package busybox-static)" >&2
      exit 1
    fi
    ;;
  *)
    echo "error: TARGET is release or dev, not '$TARGET'" >&2
    exit 1
    ;;
esac
certs=/etc/ssl/certs/ca-certificates.crt
if [ ! -f "$certs" ]; then
  echo "error: $certs is missing (Debian package ca-certificates)" >&2
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
context=$work/context
mkdir "$context"
cp "$HEARTH_BIN" "$context/hearth"
# The profile's `strip` leaves the symbol table of a static-pie link in place: 20 MB.
strip --strip-all "$context/hearth"
cp "$certs" "$context/ca-certificates.crt"
mkdir "$context/data" "$context/tmp"
dev=()
if [ "$TARGET" = dev ]; then
  mkdir "$context/dev"
  cp "$busybox" "$context/dev/busybox"
  cp deploy/dev/hearth-live.sh "$context/dev/hearth-live"
  dev=(--build-arg DEV_FROM=local)
fi

read -r -a engine <<<"$PODMAN ${PODMAN_FLAGS:-}"
# podman writes OCI images unless told otherwise, and OCI has no HEALTHCHECK.
format=()
case "$(basename "$PODMAN")" in podman | buildah) format=(--format docker) ;; esac
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
revision=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
log "$PODMAN build $IMAGE:$TAG ($TARGET: $version, $revision)"
"${engine[@]}" build --quiet "${format[@]}" \
  --target "$TARGET" \
  --build-arg BINARY_FROM=local "${dev[@]}" \
  --build-arg VERSION="$version" \
  --build-arg REVISION="$revision" \
  --tag "$IMAGE:$TAG" \
  --file Dockerfile "$context" >/dev/null
bytes=$("${engine[@]}" image inspect --format '{{.Size}}' "$IMAGE:$TAG")
mb=$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1000000 }')
echo "$IMAGE:$TAG: $mb MB"
if [ -n "${MAX_MB:-}" ] && awk -v m="$mb" -v max="$MAX_MB" 'BEGIN { exit !(m > max) }'; then
  echo "error: the image is $mb MB, above $MAX_MB MB" >&2
  exit 1
fi
