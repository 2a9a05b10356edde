#!/usr/bin/env bash
# Render benchmark: how long hearth takes to render the whole demo site (pages, assets,
# the PDF) after a content change, as `serve --watch` and SIGHUP do.
#
# Runs `hearth build --check` on a copy of the demo content RUNS times and prints the
# median and the fastest of: the whole build (reading and parsing the files included),
# the pages, and the PDF (rendered beside the pages on a second thread). Figures only:
# it never fails on a timing. See bench/README.md.
#
# Environment:
#   HEARTH_BIN=path   use this binary instead of building target/release/hearth
#   RUNS=15           how many builds to time
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

: >"$tmp/times"
for ((i = 0; i < RUNS; i++)); do
    # A content change each time: the résumé's summary gains a word.
    sed -i "s/\"summary\": \"Platform engineer/\"summary\": \"Platform engineer $i/" "$tmp/site/resume.json"
    out=$(cd "$tmp" && env -u HEARTH_BIN "$bin" build --check --content "$tmp/site") || die "build failed: $out"
    # ok: … renders: 13 files, 64 KiB, in 80.1 ms (pages 12.3 ms, PDF 70.2 ms beside them; …)
    sed -E 's/.* in ([0-9.]+) ms \(pages ([0-9.]+) ms, PDF ([0-9.]+) ms.*/\1 \2 \3/' <<<"$out" >>"$tmp/times"
done

stats() { # column name
    sort -n -k"$1" "$tmp/times" | awk -v c="$1" -v name="$2" '
        { v[NR] = $c }
        END { printf "%-28s median %7.1f ms   fastest %7.1f ms\n", name, v[int((NR + 1) / 2)], v[1] }'
}
printf 'hearth render — %s, %s cores, %s, %d runs of the demo site\n' \
    "$(date -u)" "$(nproc)" "$("$bin" --version)" "$RUNS"
stats 1 "whole build (files → memory)"
stats 2 "pages, assets, compression"
stats 3 "PDF"
