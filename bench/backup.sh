#!/usr/bin/env bash
# Backup benchmark: `hearth backup run` and `hearth backup restore` of a PostgreSQL
# database holding ROWS rows across four tables, to a local-folder store. Prints the
# times, the stored size and the rows per second. Figures only: it never fails on a
# timing. The goal is under 15 s for the backup and 30 s for the restore of a million
# rows on a 2-core machine. See bench/README.md.
#
# Environment:
#   HEARTH_BIN=path   use this binary instead of building target/release/hearth
#   ROWS=1000000      rows in all (70 % audit_log, 20 % login_throttle, 5 % users, 5 % api_tokens)
#   PGURL=postgres://postgres@127.0.0.1:5432   the server (trust auth, as on this machine)
set -euo pipefail
export LC_ALL=C

ROWS=${ROWS:-1000000}
PGURL=${PGURL:-postgres://postgres@127.0.0.1:5432}
script_dir=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
root=$(cd -- "$script_dir/.." && pwd)
log() { printf 'bench: %s\n' "$*" >&2; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }

if [[ -n ${HEARTH_BIN:-} ]]; then
    bin=$HEARTH_BIN
else
    (cd "$root" && cargo build --release --locked >&2)
    bin=${CARGO_TARGET_DIR:-$root/target}/release/hearth
fi
[[ -x $bin ]] || die "no hearth binary at $bin"
bin=$(cd -- "$(dirname -- "$bin")" && pwd)/$(basename -- "$bin")

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hearth-backup.XXXXXX")
source_db="hearth_bench_src_$$"
target_db="hearth_bench_dst_$$"
cleanup() {
    psql -q "$PGURL/postgres" -c "DROP DATABASE IF EXISTS $source_db WITH (FORCE)" -c "DROP DATABASE IF EXISTS $target_db WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$tmp"
}
trap cleanup EXIT
psql -q "$PGURL/postgres" -c "CREATE DATABASE $source_db" -c "CREATE DATABASE $target_db" >/dev/null

export HEARTH_DATABASE_URL="$PGURL/$source_db"
export HEARTH_STORAGE_URL="file://$tmp/objects"
export HEARTH_LOG=warn
(cd "$tmp" && "$bin" migrate >/dev/null)

audit=$((ROWS * 70 / 100)); throttle=$((ROWS * 20 / 100)); users=$((ROWS * 5 / 100)); tokens=$((ROWS - audit - throttle - users))
log "filling $source_db: $audit audit_log, $throttle login_throttle, $users users, $tokens api_tokens"
psql -q "$PGURL/$source_db" <<SQL
INSERT INTO audit_log (at, actor, action, target, detail)
  SELECT now() - (i || ' seconds')::interval, 'user' || (i % 1000), 'photo.upload', (i % 50000)::text,
         '{"title": "Photo number ' || i || '", "album": "Holidays"}'
  FROM generate_series(1, $audit) AS i;
INSERT INTO login_throttle (subject, failures, blocked_until, updated_at)
  SELECT 'addr:10.' || (i / 65536 % 256) || '.' || (i / 256 % 256) || '.' || (i % 256) || '.' || i, i % 7, 0, 1795000000000 + i
  FROM generate_series(1, $throttle) AS i;
INSERT INTO users (name, password_hash, role, created_at, updated_at)
  SELECT 'user' || i, '\$argon2id\$v=19\$m=19456,t=2,p=1\$c2FsdHNhbHRzYWx0\$' || md5(i::text), 'editor', 1795000000000 + i, 1795000000000 + i
  FROM generate_series(1, $users) AS i;
INSERT INTO api_tokens (name, hash, created_at, last_used_at)
  SELECT 'token' || i, md5(i::text) || md5((i + 1)::text), 1795000000000 + i, NULL
  FROM generate_series(1, $tokens) AS i;
SQL

now() { date +%s.%N; }
log "backing up"
t0=$(now)
id=$(cd "$tmp" && HEARTH_BACKUP_SCHEDULE=off "$bin" backup run 2>/dev/null | tail -1)
t1=$(now)
size=$(du -sb "$tmp/objects/backups" | cut -f1)
log "restoring $id into $target_db"
t2=$(now)
(cd "$tmp" && "$bin" backup restore "$id" --to "$PGURL/$target_db" >/dev/null 2>&1)
t3=$(now)
count='SELECT (SELECT COUNT(*) FROM audit_log) + (SELECT COUNT(*) FROM login_throttle) + (SELECT COUNT(*) FROM users) + (SELECT COUNT(*) FROM api_tokens)'
backed_up=$(psql -qtA "$PGURL/$source_db" -c "$count")
restored=$(psql -qtA "$PGURL/$target_db" -c "$count")
[[ $restored == "$backed_up" ]] || die "restored $restored rows of $backed_up"

awk -v rows="$ROWS" -v b="$(echo "$t1 - $t0" | bc)" -v r="$(echo "$t3 - $t2" | bc)" -v size="$size" 'BEGIN {
    printf "rows            %d (PostgreSQL, 4 tables)\n", rows
    printf "backup run      %.2f s  (%.0f rows/s), stored %.1f MB\n", b, rows / b, size / 1e6
    printf "backup restore  %.2f s  (%.0f rows/s), into PostgreSQL\n", r, rows / r
}'
