#!/usr/bin/env bash
# Renders a Kubernetes overlay (deploy/k8s/overlays/ENV) with hearth's image set to
# IMAGE:TAG and applies it with kubectl, or prints it with --dry-run. The committed
# files are not changed: a temporary kustomization takes the overlay as its resource
# and overrides the image.
#   scripts/deploy.sh [--dry-run] --image IMAGE --tag TAG ENV      (make deploy ENV=prod)
# KUBECTL names the kubectl command (default: kubectl).
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { echo "usage: scripts/deploy.sh [--dry-run] --image IMAGE --tag TAG ENV" >&2; }
die() {
  echo "error: $*" >&2
  exit 1
}

dry_run="" image="" tag="" env=""
while (($#)); do
  case $1 in
  --dry-run) dry_run=1; shift ;;
  --image | --tag)
    [[ $# -ge 2 ]] || { usage; exit 2; }
    if [[ $1 == --image ]]; then image=$2; else tag=$2; fi
    shift 2
    ;;
  -*) usage; exit 2 ;;
  *)
    [[ -z $env ]] || { usage; exit 2; }
    env=$1
    shift
    ;;
  esac
done
[[ -n $image && -n $tag && -n $env ]] || { usage; exit 2; }
kubectl=${KUBECTL:-kubectl}

# A tag as registries accept it, and an image name without a tag or digest.
[[ $tag =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || die "\"$tag\" is not a valid image tag"
[[ $image =~ ^[a-z0-9]([a-z0-9._/:-]*[a-z0-9])?$ && ${image##*/} != *:* ]] ||
  die "\"$image\" is not an image name without a tag (like ghcr.io/hearth-web/hearth)"

overlay=deploy/k8s/overlays/$env
if [[ ! -f $overlay/kustomization.yaml ]]; then
  available=$(find deploy/k8s/overlays -mindepth 2 -maxdepth 2 -name kustomization.yaml 2>/dev/null |
    awk -F/ '{ print $(NF - 1) }' | sort | paste -sd ' ' -)
  die "no overlay $overlay/kustomization.yaml (ENV is one of: ${available:-none})"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Every image the overlay gives hearth's containers: a name whose last part is "hearth".
"$kubectl" kustomize "$overlay" >"$work/overlay.yaml"
names=$(sed -n 's/^[[:space:]-]*image:[[:space:]]*//p' "$work/overlay.yaml" |
  tr -d "\"'" | sed -e 's/@.*$//' -e 's#^\(.*/\)\{0,1\}\([^/:]*\):[^/]*$#\1\2#' |
  awk '$0 == "hearth" || $0 ~ /\/hearth$/' | sort -u)
[[ -n $names ]] || die "$overlay has no container whose image is hearth's"

# A Job named after the image tag (hearth-migrate-0.1.0: its pod template cannot change,
# so each image gets its own Job) is renamed after the new tag, as a valid Job name:
# lowercase, at most 63 characters, the tag's end (the commit) kept.
old_tags=$(sed -n 's/^[[:space:]-]*image:[[:space:]]*//p' "$work/overlay.yaml" | tr -d "\"'" |
  sed 's/@.*$//' | grep -E '(^|/)hearth:[^/]+$' | sed 's/.*://' | sort -u || true)
jobs=$(awk '/^---/ { kind = "" } /^kind: / { kind = $2 } kind == "Job" && /^  name: / { print $2 }' "$work/overlay.yaml")
job_name() { # job_name PREFIX TAG
  local suffix max head
  suffix=$(printf '%s' "$2" | LC_ALL=C tr '[:upper:]' '[:lower:]' | LC_ALL=C tr -c 'a-z0-9.-' '-')
  max=$((63 - ${#1} - 1))
  ((max >= 16)) || die "the Job name $1 is too long to take a tag"
  if ((${#suffix} > max)); then
    head=${suffix:0:$((max - 8))}
    while [[ $head == *[.-] ]]; do head=${head%?}; done
    suffix=$head-${suffix: -7}
  fi
  while [[ $suffix == *[.-] ]]; do suffix=${suffix%?}; done
  printf '%s-%s\n' "$1" "$suffix"
}
patches=""
for job in $jobs; do
  for old in $old_tags; do
    if [[ $job == *-"$old" ]]; then
      patches+="  - target:
      kind: Job
      name: ${job//./\\.}
    patch: |-
      - op: replace
        path: /metadata/name
        value: $(job_name "${job%-"$old"}" "$tag")
"
    fi
  done
done

# kustomize accepts an overlay outside the kustomization's folder by a relative path.
root=$(pwd -P)
up=$(cd "$work" && pwd -P | sed -e 's#[^/][^/]*#..#g' -e 's#^/##')
{
  echo "apiVersion: kustomize.config.k8s.io/v1beta1"
  echo "kind: Kustomization"
  echo "resources:"
  echo "  - $up$root/$overlay"
  echo "images:"
  while IFS= read -r name; do
    echo "  - name: $name"
    echo "    newName: $image"
    echo "    newTag: \"$tag\""
  done <<<"$names"
  if [[ -n $patches ]]; then
    echo "patches:"
    printf '%s' "$patches"
  fi
} >"$work/kustomization.yaml"
"$kubectl" kustomize "$work" >"$work/rendered.yaml"

if [[ -n $dry_run ]]; then
  cat "$work/rendered.yaml"
else
  echo "==> applying $overlay with image $image:$tag" >&2
  "$kubectl" apply -f "$work/rendered.yaml"
fi
