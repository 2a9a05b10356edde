#!/usr/bin/env bash
# Makes the Kubernetes Secret "hearth" (type Opaque) from the environment variables
# HEARTH_DATABASE_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and HEARTH_WEBHOOK_SECRET
# (those that are set and not empty), in the namespace of overlay ENV, and applies it with kubectl, or
# prints it with --dry-run. The values are never written to disk nor passed as command
# arguments.
#   scripts/secret.sh [--dry-run] ENV        (make secret ENV=prod)
# NAMESPACE overrides the namespace; KUBECTL names the kubectl command (default: kubectl).
set -euo pipefail
cd "$(dirname "$0")/.."

KEYS=(HEARTH_DATABASE_URL AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY HEARTH_WEBHOOK_SECRET)

usage() { echo "usage: scripts/secret.sh [--dry-run] ENV" >&2; }
die() {
  echo "error: $*" >&2
  exit 1
}

dry_run="" env=""
while (($#)); do
  case $1 in
  --dry-run) dry_run=1; shift ;;
  -*) usage; exit 2 ;;
  *)
    [[ -z $env ]] || { usage; exit 2; }
    env=$1
    shift
    ;;
  esac
done
[[ -n $env ]] || { usage; exit 2; }
kubectl=${KUBECTL:-kubectl}

overlay=deploy/k8s/overlays/$env
[[ -f $overlay/kustomization.yaml ]] || die "no overlay $overlay/kustomization.yaml"

# The namespace the overlay puts hearth's objects in.
namespace=${NAMESPACE:-}
if [[ -z $namespace ]]; then
  namespaces=$("$kubectl" kustomize "$overlay" | sed -n 's/^  namespace:[[:space:]]*//p' | tr -d "\"'" | sort -u)
  if [[ $namespaces == *$'\n'* ]]; then
    die "$overlay uses several namespaces ($(paste -sd ' ' - <<<"$namespaces")); set NAMESPACE"
  fi
  namespace=$namespaces
fi

# Each value reaches kubectl through a pipe (printf is a shell builtin: no argument list).
args=()
set_keys=()
for key in "${KEYS[@]}"; do
  if [[ -n ${!key:-} ]]; then
    exec {fd}< <(printf '%s' "${!key}")
    args+=("--from-file=$key=/dev/fd/$fd")
    set_keys+=("$key")
  fi
done
((${#set_keys[@]})) || die "none of ${KEYS[*]} is set"
if [[ -n $namespace ]]; then
  args+=(--namespace "$namespace")
fi

if [[ -n $dry_run ]]; then
  "$kubectl" create secret generic hearth --type=Opaque "${args[@]}" --dry-run=client -o yaml
else
  echo "==> applying Secret hearth (${set_keys[*]})${namespace:+ in namespace $namespace}" >&2
  # Server-side apply keeps no copy of the data in a last-applied annotation.
  "$kubectl" create secret generic hearth --type=Opaque "${args[@]}" --dry-run=client -o yaml |
    "$kubectl" apply --server-side --force-conflicts --field-manager=hearth-make -f -
fi
