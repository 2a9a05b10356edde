#!/usr/bin/env bash
# Render benchmark: how long a running hearth takes to re-render the whole demo site
# (pages, assets, their compressed forms, the PDF) after a content change.
#
# Starts `hearth serve --watch` on a copy of the demo content, changes the résumé RUNS
# times, and reads each re-render's timings from the server's log: the whole re-render
# (reading and parsing the files included), the pages, and the PDF (rendered beside the
# pages on a second thread). Prints the median and the fastest. Figures only: it never
# fails on a timing. See bench/README.md.
#
# Environment:
#   HEARTH_BIN=path   use this binary instead of building target/release/hearth
#   RUNS=15           how many re-renders to time
set -euo pipefail
export LC_ALL=C

RUNS=${RUNS:-15}
script_dir=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
root=$(cd -- "$script_dir/.." && pwd)
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }

if [[ -n ${HEARTH_BIN:-} ]]; then
    bin=$HEARTH_BIN
else
    (cd "$root" && cargo build --release --locked >&2)
    bin=${CARGO_TARGET_DIR:-$root/target}/release/hearth
fi
[[ -x $bin ]] || die "no hearth binary at $bin"
bin=$(cd -- "$(dirname -- "$bin")" && pwd)/$(basename -- "$bin")

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hearth-render.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# A folder outside any git repository, so the revision is the files' hash, as on a server.
cp -r "$root/examples/site" "$tmp/site"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
(cd "$tmp" && exec env -u HEARTH_BIN HEARTH_LOG_FORMAT=json "$bin" serve --watch \
    --listen "127.0.0.1:$port" --data "$tmp/data" --content "$tmp/site" >"$tmp/log" 2>&1) &
pid=$!
trap 'kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
rendered() { grep -c '"content rendered".*site::watch' "$tmp/log" || true; }
wait_for() { # until the watcher has rendered $1 times (10 s at most)
    local deadline=$((SECONDS + 10))
    until (($(rendered) >= $1)); do
        ((SECONDS < deadline)) || { cat "$tmp/log" >&2; die "no re-render logged"; }
        kill -0 "$pid" 2>/dev/null || { cat "$tmp/log" >&2; die "hearth exited"; }
        sleep 0.05
    done
}
deadline=$((SECONDS + 30))
until grep -q '"watching the content folder' "$tmp/log"; do
    ((SECONDS < deadline)) || { cat "$tmp/log" >&2; die "hearth did not start"; }
    sleep 0.05
done

for ((i = 1; i <= RUNS; i++)); do
    # A content change each time: the résumé's summary gains a word.
    sed -i "s/\"summary\": \"Platform engineer/\"summary\": \"Platform engineer $i/" "$tmp/site/resume.json"
    wait_for "$i"
done
grep '"content rendered".*site::watch' "$tmp/log" | python3 -c '
import json, sys
for line in sys.stdin:
    e = json.loads(line)
    print(e["duration_ms"], e["pages_ms"], e["pdf_ms"])' >"$tmp/times"

stats() { # column name
    sort -n -k"$1" "$tmp/times" | awk -v c="$1" -v name="$2" '
        { v[NR] = $c }
        END { printf "%-28s median %7.1f ms   fastest %7.1f ms\n", name, v[int((NR + 1) / 2)], v[1] }'
}
printf 'hearth render — %s, %s cores, %s, %d runs of the demo site\n' \
    "$(date -u)" "$(nproc)" "$("$bin" --version)" "$RUNS"
stats 1 "whole re-render"
stats 2 "pages, assets, compression"
stats 3 "PDF"
