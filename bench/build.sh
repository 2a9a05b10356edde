#!/usr/bin/env bash
# Build benchmark: hearth build --out against Hugo, on the same 10,000 Markdown posts.
#
# Generates POSTS posts (TOML front matter, a few paragraphs, a list, a code block, two
# tags from a pool of 50), builds them with `hearth build --out` and with `hugo` (Debian's
# package) into temporary folders, RUNS times each, and prints the median times and the
# ratio. Figures only: it never fails on a timing. See bench/README.md.
#
# Environment:
#   HEARTH_BIN=path   use this binary instead of building target/release/hearth
#   POSTS=10000       how many posts
#   RUNS=3            builds of each
set -euo pipefail
export LC_ALL=C

POSTS=${POSTS:-10000}
RUNS=${RUNS:-3}
script_dir=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
root=$(cd -- "$script_dir/.." && pwd)
log() { printf 'bench: %s\n' "$*" >&2; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }

if ! command -v hugo >/dev/null 2>&1; then
    log "installing hugo"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends hugo >&2
fi
if [[ -n ${HEARTH_BIN:-} ]]; then
    bin=$HEARTH_BIN
else
    (cd "$root" && cargo build --release --locked >&2)
    bin=${CARGO_TARGET_DIR:-$root/target}/release/hearth
fi
[[ -x $bin ]] || die "no hearth binary at $bin"
bin=$(cd -- "$(dirname -- "$bin")" && pwd)/$(basename -- "$bin")

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hearth-build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

log "generating $POSTS posts"
mkdir -p "$tmp/hearth/posts" "$tmp/hugo/content/posts" "$tmp/hugo/layouts/_default"
printf 'title = "Bench"\nbase_url = "https://bench.example.org"\n' >"$tmp/hearth/site.toml"
printf '{"basics": {"name": "Bench"}}\n' >"$tmp/hearth/resume.json"
python3 - "$tmp" "$POSTS" <<'PY'
import os, sys, random
tmp, n = sys.argv[1], int(sys.argv[2])
random.seed(1)
words = ("server deploy rust cache latency page index tree commit backup restore query "
         "schema replica metric alert feed tag post render template markdown static").split()
def para():
    return " ".join(random.choice(words) for _ in range(60)).capitalize() + "."
for i in range(n):
    tags = random.sample(range(50), 2)
    front = (f'+++\ntitle = "Post number {i}"\ndate = 2020-01-01T00:00:00Z\n'
             f'tags = ["tag{tags[0]}", "tag{tags[1]}"]\n+++\n')
    body = (f"{para()}\n\n## Details\n\n{para()}\n\n- {random.choice(words)}\n- "
            f"{random.choice(words)}\n- {random.choice(words)}\n\n"
            "```rust\nfn main() {\n    println!(\"hello {}\", 42);\n}\n```\n\n" + para() + "\n")
    text = front + body
    for path in (f"{tmp}/hearth/posts/post-{i}.md", f"{tmp}/hugo/content/posts/post-{i}.md"):
        with open(path, "w") as f:
            f.write(text)
PY
cat >"$tmp/hugo/hugo.toml" <<'TOML'
baseURL = "https://bench.example.org/"
title = "Bench"
disableKinds = ["RSS"]
[taxonomies]
tag = "tags"
[markup.highlight]
noClasses = false
TOML
cat >"$tmp/hugo/layouts/_default/baseof.html" <<'HTML'
<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{{ .Title }}</title></head>
<body><main>{{ block "main" . }}{{ end }}</main></body></html>
HTML
cat >"$tmp/hugo/layouts/_default/single.html" <<'HTML'
{{ define "main" }}<article><h1>{{ .Title }}</h1><time>{{ .Date.Format "2 Jan 2006" }}</time>
{{ range .Params.tags }}<a href="/tags/{{ . | urlize }}">{{ . }}</a>{{ end }}{{ .Content }}</article>{{ end }}
HTML
cat >"$tmp/hugo/layouts/_default/list.html" <<'HTML'
{{ define "main" }}<h1>{{ .Title }}</h1>{{ range .Paginator.Pages }}<h2><a href="{{ .RelPermalink }}">{{ .Title }}</a></h2>{{ end }}{{ end }}
HTML

times() { # name command...: runs RUNS times, prints the median seconds
    local name=$1 i start end
    shift
    : >"$tmp/$name.times"
    for ((i = 0; i < RUNS; i++)); do
        start=$(date +%s.%N)
        "$@" >"$tmp/$name.log" 2>&1 || { cat "$tmp/$name.log" >&2; die "$name failed"; }
        end=$(date +%s.%N)
        echo "$end - $start" | bc >>"$tmp/$name.times"
    done
    sort -n "$tmp/$name.times" | awk '{ v[NR] = $1 } END { printf "%.2f", v[int((NR + 1) / 2)] }'
}

log "building with hearth ($RUNS runs)"
hearth_s=$(times hearth env -u HEARTH_BIN "$bin" build --content "$tmp/hearth" --out "$tmp/hearth-out")
hearth_files=$(find "$tmp/hearth-out" -type f | wc -l)
log "building with hugo ($RUNS runs)"
hugo_s=$(times hugo hugo --quiet --source "$tmp/hugo" --destination "$tmp/hugo-out" --cleanDestinationDir)
hugo_files=$(find "$tmp/hugo-out" -type f | wc -l)

printf 'hearth build — %s, %s cores, %s, %s\n' "$(date -u)" "$(nproc)" "$("$bin" --version)" "$(hugo version | cut -d' ' -f1-2)"
printf '%s posts, median of %s builds each\n' "$POSTS" "$RUNS"
printf 'hearth build --out  %7.2f s  (%s files)\n' "$hearth_s" "$hearth_files"
printf 'hugo                %7.2f s  (%s files)\n' "$hugo_s" "$hugo_files"
awk -v h="$hearth_s" -v g="$hugo_s" 'BEGIN { printf "hugo time / hearth time: %.2f (above 1: hearth is faster)\n", g / h }'
