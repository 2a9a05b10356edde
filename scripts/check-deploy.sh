#!/usr/bin/env bash
# Checks the deploy files other than Kubernetes':
# - deploy/systemd: systemd-analyze verify, a security exposure of at most 1.1, and the
#   units' own command lines run as the hearth user (migrate, serve with reload and stop,
#   the backup chain);
# - deploy/ansible: ansible-lint (production profile), --syntax-check, a real run on this
#   machine into a scratch root (users created for real), owners and modes, idempotence,
#   and a binary that does not run refused;
# - compose.yaml: the compose-spec schema, deploy/compose.env.example complete, hearth's
#   environment accepted by `hearth config`, yamllint.
# Installs its tools when missing; runs as root; needs the built binary.
#   scripts/check-deploy.sh     (HEARTH_BIN=path overrides target/debug/hearth)
set -euo pipefail
cd "$(dirname "$0")/.."

HEARTH_BIN=${HEARTH_BIN:-target/debug/hearth}
# systemd-analyze's scale is tenths: 11 means an exposure level of at most 1.1.
EXPOSURE_MAX=11
UNITS=(hearth.service hearth-backup.service hearth-backup.timer)

fail() {
  echo "error: $*" >&2
  exit 1
}

[[ $(id -u) == 0 ]] || fail "run as root: the Ansible run creates the hearth system user"

# The tools.
pip_install() { python3 -m pip install -q --root-user-action=ignore "$@"; }
if ! ansible-playbook --version 2>/dev/null | grep -q '^ansible-playbook \[core 2\.19\.' ||
  ! command -v ansible-lint >/dev/null; then
  echo "==> installing ansible-core 2.19 and ansible-lint"
  pip_install 'ansible-core>=2.19,<2.20' ansible-lint
fi
if ! command -v yamllint >/dev/null || ! command -v check-jsonschema >/dev/null; then
  echo "==> installing yamllint and check-jsonschema"
  pip_install yamllint check-jsonschema
fi
if ! command -v systemd-analyze >/dev/null; then
  echo "==> installing systemd (for systemd-analyze; it is not started)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends systemd >/dev/null
fi
if ! command -v curl >/dev/null; then
  echo "==> installing curl"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends curl >/dev/null
fi

[[ -x $HEARTH_BIN ]] ||
  fail "$HEARTH_BIN is missing: build it first (cargo build --locked), or set HEARTH_BIN"
HEARTH_BIN=$(realpath "$HEARTH_BIN")

scratch=$(mktemp -d)
chmod 755 "$scratch" # the hearth user walks into it
server_pid=""
cleanup() {
  if [[ -n $server_pid ]]; then kill "$server_pid" 2>/dev/null || true; fi
  rm -rf "$scratch"
}
trap cleanup EXIT

echo "==> systemd-analyze verify deploy/systemd"
# Copies whose commands name the binary under test, so that every path resolves.
mkdir "$scratch/units"
for unit in "${UNITS[@]}"; do
  sed "s#/usr/local/bin/hearth#$HEARTH_BIN#g" "deploy/systemd/$unit" >"$scratch/units/$unit"
done
# verify exits 0 on keys it ignores: any message is a failure.
verify_out=$(cd "$scratch/units" && systemd-analyze verify --man=no "${UNITS[@]}" 2>&1) ||
  fail "systemd-analyze verify: $verify_out"
[[ -z $verify_out ]] || fail "systemd-analyze verify: $verify_out"

echo "==> systemd-analyze security (exposure at most $((EXPOSURE_MAX / 10)).$((EXPOSURE_MAX % 10)))"
for unit in hearth.service hearth-backup.service; do
  if ! systemd-analyze security --offline=true --threshold="$EXPOSURE_MAX" \
    "deploy/systemd/$unit" >"$scratch/security.txt" 2>&1; then
    grep -E '✗|exposure' "$scratch/security.txt" >&2 || cat "$scratch/security.txt" >&2
    fail "$unit: exposure above the threshold"
  fi
  grep -o "Overall exposure level for .*" "$scratch/security.txt"
done

echo "==> ansible-lint --offline (production profile)"
(cd deploy/ansible && ansible-lint --offline --profile production -q)

echo "==> ansible-playbook --syntax-check"
(cd deploy/ansible && ansible-playbook --syntax-check -i inventory.example.yml site.yml >/dev/null)

# A real run on this machine into a scratch root: users are created for real, systemctl
# is skipped (systemd is not PID 1 here).
root=$scratch/root
# shellcheck disable=SC2016 # literally: the characters env files must escape
secret='s3cr3t-$HOME-"quoted"-`tick`-\back'
python3 - "$scratch/vars.json" "$root" "$HEARTH_BIN" "$secret" <<'EOF'
import json, sys
path, root, binary, secret = sys.argv[1:]
json.dump({
    "hearth_root": root,
    "hearth_binary_src": binary,
    "hearth_manage_services": False,
    "hearth_backup_timer": True,
    "hearth_config_extra": {"server": {"shutdown_grace": "20s"}},
    "hearth_env": {"HEARTH_WEBHOOK_SECRET": secret, "HEARTH_LOG_FORMAT": "json"},
}, open(path, "w"))
EOF
cat >"$scratch/inventory.yml" <<EOF
hearth:
  hosts:
    localhost:
      ansible_connection: local
      ansible_become: false
      ansible_python_interpreter: $(python3 -c 'import sys; print(sys.executable)')
EOF
playbook() {
  (cd deploy/ansible &&
    ANSIBLE_NOCOLOR=1 ansible-playbook --diff -i "$scratch/inventory.yml" -e "@$scratch/vars.json" \
      "$@" site.yml)
}
recap() { grep -E '^localhost +: ' "$1"; }

echo "==> ansible-playbook site.yml into a scratch root"
playbook >"$scratch/run1.txt" 2>&1 || {
  cat "$scratch/run1.txt" >&2
  fail "the playbook failed"
}
recap "$scratch/run1.txt"
if grep -qF -- 's3cr3t' "$scratch/run1.txt"; then fail "the playbook's output shows a secret"; fi

echo "==> installed files: owners and modes"
expect() { # expect PATH OWNER:GROUP MODE
  local got
  got=$(stat -c '%U:%G %a' "$root$1" 2>/dev/null) || fail "$1 was not installed"
  [[ $got == "$2 $3" ]] || fail "$1 is $got, expected $2 $3"
}
expect /usr/local/bin/hearth root:root 755
expect /etc/hearth root:hearth 750
expect /etc/hearth/hearth.toml root:hearth 640
expect /etc/hearth/hearth.env root:hearth 640
expect /var/lib/hearth hearth:hearth 750
for unit in "${UNITS[@]}"; do
  expect "/etc/systemd/system/$unit" root:root 644
  cmp -s "deploy/systemd/$unit" "$root/etc/systemd/system/$unit" ||
    fail "/etc/systemd/system/$unit differs from deploy/systemd/$unit"
done
cmp -s "$HEARTH_BIN" "$root/usr/local/bin/hearth" || fail "the installed binary differs"
IFS=: read -r _ _ uid _ _ home shell < <(getent passwd hearth) || fail "no hearth user"
[[ $home == /var/lib/hearth && $shell == /usr/sbin/nologin && $uid -lt 1000 ]] ||
  fail "the hearth user is uid $uid, home $home, shell $shell: expected a system user"

echo "==> the installed binary and configuration"
"$root/usr/local/bin/hearth" --version
# The environment file reads back, as a shell reads it, to the very values given.
# shellcheck disable=SC2016 # expanded by the inner shell
got=$(env -i bash -c 'set -a; . "$1"; printf %s "$HEARTH_WEBHOOK_SECRET"' _ "$root/etc/hearth/hearth.env")
[[ $got == "$secret" ]] || fail "hearth.env gives HEARTH_WEBHOOK_SECRET=$got"
# hearth reads the configuration as written, with the environment file over it.
# as_hearth CMD…: runs CMD as the units do: as hearth, in its state folder, with the
# configuration and the environment file (the scratch root's data folder over /var/lib).
# It execs, so a backgrounded `(as_hearth …) &` is CMD's own process.
# shellcheck disable=SC2016 # expanded by the inner shell
as_hearth() {
  cd "$root/var/lib/hearth"
  exec env -i PATH=/usr/bin:/bin HOME=/var/lib/hearth \
    HEARTH_CONFIG="$root/etc/hearth/hearth.toml" HEARTH_DATA="$root/var/lib/hearth" \
    setpriv --reuid=hearth --regid=hearth --init-groups --inh-caps=-all \
    bash -c 'set -a; . "$1"; set +a; shift; exec "$@"' _ "$root/etc/hearth/hearth.env" "$@"
}
(as_hearth "$root/usr/local/bin/hearth" config) >"$scratch/config.txt" ||
  fail "hearth config refuses the installed configuration"
for want in 'listen = "127.0.0.1:8080"' 'schedule = "off"' 'shutdown_grace = "20s"'; do
  grep -qF "$want" "$scratch/config.txt" || fail "hearth config does not show $want"
done
if grep -qF 's3cr3t' "$scratch/config.txt"; then fail "hearth config shows the secret"; fi

# The units' own command lines, as systemd would run them ($$ is $), as the hearth user.
unit_commands() { # unit_commands UNIT KEY
  sed -n "s/^$2=//p" "deploy/systemd/$1" |
    sed -e 's/\$\$/$/g' -e "s#/usr/local/bin/hearth#$root/usr/local/bin/hearth#g"
}
run_unit_command() {
  local line=$1
  (as_hearth bash -c "$line") >"$scratch/unit.log" 2>&1 || {
    cat "$scratch/unit.log" >&2
    fail "as the unit runs it, this failed: $line"
  }
}

echo "==> hearth.service: its commands run"
while read -r line; do run_unit_command "$line"; done < <(unit_commands hearth.service ExecStartPre)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
start_line=$(unit_commands hearth.service ExecStart)
(as_hearth env HEARTH_LISTEN="127.0.0.1:$port" bash -c "exec $start_line") >"$scratch/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 600); do
  curl -fsS "http://127.0.0.1:$port/ping" >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$port/ping" >/dev/null || {
  cat "$scratch/serve.log" >&2
  fail "serve does not answer /ping as hearth.service starts it"
}
reload_line=$(unit_commands hearth.service ExecReload)
as_root_reload=${reload_line//\$MAINPID/$server_pid}
bash -c "$as_root_reload" || fail "ExecReload failed: $reload_line"
sleep 1
curl -fsS "http://127.0.0.1:$port/ping" >/dev/null || fail "serve stopped answering after ExecReload"
stop_timeout=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)s$/\1/p' deploy/systemd/hearth.service)
[[ -n $stop_timeout ]] || fail "hearth.service has no TimeoutStopSec in seconds"
kill -TERM "$server_pid"
status=0
timeout "$stop_timeout" tail --pid="$server_pid" -f /dev/null || fail "serve outlived TimeoutStopSec"
wait "$server_pid" || status=$?
server_pid=""
[[ $status == 0 ]] || fail "serve exited $status on SIGTERM"

echo "==> hearth-backup.service: its commands run"
while read -r line; do run_unit_command "$line"; done < <(unit_commands hearth-backup.service ExecStart)
(as_hearth "$root/usr/local/bin/hearth" backup list) | grep -q verified ||
  fail "hearth-backup.service left no verified backup"

echo "==> ansible-playbook site.yml again: nothing changes"
playbook >"$scratch/run2.txt" 2>&1 || {
  cat "$scratch/run2.txt" >&2
  fail "the second run failed"
}
recap "$scratch/run2.txt"
recap "$scratch/run2.txt" | grep -q ' changed=0 ' || {
  grep -B1 -E '^changed:' "$scratch/run2.txt" >&2 || true
  fail "the second run changed something"
}

echo "==> ansible-playbook site.yml with a binary that does not run: refused"
printf '\x7fELF not really\n' >"$scratch/hearth-broken"
if playbook --start-at-task "Install the hearth binary" \
  -e "hearth_binary_src=$scratch/hearth-broken" >"$scratch/run3.txt" 2>&1; then
  fail "the playbook installed a binary that does not run"
fi
grep -q 'FAILED!.*--version' "$scratch/run3.txt" || {
  cat "$scratch/run3.txt" >&2
  fail "the playbook failed, but not by refusing the binary"
}
cmp -s "$HEARTH_BIN" "$root/usr/local/bin/hearth" || fail "the broken binary replaced the good one"

echo "==> compose.yaml: compose-spec schema"
check-jsonschema --builtin-schema vendor.compose-spec compose.yaml

echo "==> compose.yaml: deploy/compose.env.example is complete, hearth accepts its environment"
# Interpolated as compose does from .env, here deploy/compose.env.example; every variable
# without a default must be there. Then the hearth service's environment goes to
# `hearth config`, which refuses a bad value and warns about an unknown HEARTH_* name.
python3 - "$scratch/compose-hearth.env" <<'EOF'
import re, sys, yaml
text = open("compose.yaml").read()
example = dict(l.rstrip("\n").split("=", 1) for l in open("deploy/compose.env.example")
               if re.match(r"\w+=", l))
needed = set(re.findall(r"(?<!\$)\$\{(\w+)(?:\}|:\?)", text))
missing = sorted(needed - example.keys())
if missing:
    sys.exit(f"error: deploy/compose.env.example lacks {', '.join(missing)}")
def value(m):
    return example.get(m.group(1), m.group(3) or "")
env = yaml.safe_load(text)["services"]["hearth"]["environment"]
with open(sys.argv[1], "w") as out:
    for key, raw in env.items():
        raw = re.sub(r"(?<!\$)\$\{(\w+)(?:(:-|:\?)([^}]*))?\}", value, str(raw))
        out.write(f"{key}={raw.replace('$$', '$')}\0")
EOF
mapfile -d '' compose_env <"$scratch/compose-hearth.env"
(cd "$scratch" && env -i "${compose_env[@]}" "$HEARTH_BIN" config) \
  >/dev/null 2>"$scratch/compose-config.txt" || {
  cat "$scratch/compose-config.txt" >&2
  fail "hearth refuses the environment compose.yaml gives it"
}
if grep -q WARN "$scratch/compose-config.txt"; then
  cat "$scratch/compose-config.txt" >&2
  fail "hearth warns about the environment compose.yaml gives it"
fi

echo "==> yamllint"
yamllint -s -c deploy/yamllint.yaml compose.yaml deploy/ansible

echo "==> deploy checks passed"
