#!/usr/bin/env bash
# Load benchmark: hearth against nginx serving the same bytes on loopback.
#
# Prints requests/s, p50 and p99 latency for GET /ping, GET / and GET /pdf on both servers,
# with 64 connections and with one, plus hearth's peak RSS. It reports figures only:
# it never fails on a timing. See bench/README.md.
#
# Environment:
#   HEARTH_BIN=path   use this binary instead of building target/release/hearth
#   DURATION=10s      wrk duration of the 64-connection runs
#   DURATION1=5s      wrk duration of the single-connection runs
#   KEEP_TMP=1        keep the temp dir (logs, wrk outputs, nginx.conf) for a look
set -euo pipefail
export LC_ALL=C

DURATION=${DURATION:-10s}
DURATION1=${DURATION1:-5s}

script_dir=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
root=$(cd -- "$script_dir/.." && pwd)

log() { printf 'bench: %s\n' "$*" >&2; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }

# --- tools -------------------------------------------------------------------
need_pkgs=()
command -v wrk >/dev/null 2>&1 || need_pkgs+=(wrk)
command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]] || need_pkgs+=(nginx)
if ((${#need_pkgs[@]})); then
    log "installing ${need_pkgs[*]}"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >&2
fi
command -v curl >/dev/null 2>&1 || die "curl is required"
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
[[ -x $nginx_bin ]] || die "nginx not found after install"

# --- hearth binary -----------------------------------------------------------
if [[ -n ${HEARTH_BIN:-} ]]; then
    [[ -f $HEARTH_BIN && -x $HEARTH_BIN ]] || die "HEARTH_BIN=$HEARTH_BIN is not an executable"
    bin=$(cd -- "$(dirname -- "$HEARTH_BIN")" && pwd)/$(basename -- "$HEARTH_BIN")
else
    log "building release binary (cargo build --release --locked)"
    (cd "$root" && cargo build --release --locked >&2)
    target_dir=${CARGO_TARGET_DIR:-target}
    [[ $target_dir == /* ]] || target_dir=$root/$target_dir
    bin=$target_dir/release/hearth
    [[ -x $bin ]] || die "no binary at $bin after the build"
fi
version=$("$bin" --version)
version=${version#hearth }

# --- temp dir and cleanup ----------------------------------------------------
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hearth-bench.XXXXXX")
hearth_pid=
wrk_pid=
nginx_pidfile=$tmp/nginx.pid

stop_pid() { # pid: TERM, wait up to 5 s, then KILL
    local pid=$1 i
    kill "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    [[ -z $wrk_pid ]] || stop_pid "$wrk_pid"
    if [[ -n $hearth_pid ]]; then
        stop_pid "$hearth_pid"
        wait "$hearth_pid" 2>/dev/null || true
    fi
    if [[ -s $nginx_pidfile ]]; then
        stop_pid "$(cat "$nginx_pidfile")"
    fi
    if [[ ${KEEP_TMP:-} == 1 ]]; then
        log "kept $tmp"
    else
        rm -rf "$tmp"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- ports -------------------------------------------------------------------
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

free_port() {
    local p i
    if command -v python3 >/dev/null 2>&1 &&
        p=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null); then
        echo "$p"
        return
    fi
    for ((i = 0; i < 200; i++)); do
        p=$((20000 + RANDOM % 30000))
        port_in_use "$p" || { echo "$p"; return; }
    done
    die "no free port found"
}

hearth_port=$(free_port)
nginx_port=$(free_port)
while [[ $nginx_port == "$hearth_port" ]]; do nginx_port=$(free_port); done
hearth_url=http://127.0.0.1:$hearth_port
nginx_url=http://127.0.0.1:$nginx_port

# --- hearth ------------------------------------------------------------------
log "starting hearth on 127.0.0.1:$hearth_port"
mkdir -p "$tmp/data"
# Run from the temp dir so no stray ./hearth.toml is picked up; HEARTH_BIN is ours, not
# hearth's (it warns about unknown HEARTH_* variables). `exec` keeps $! the server's pid.
(cd "$tmp" && exec env -u HEARTH_BIN HEARTH_LOG=warn "$bin" serve \
    --listen "127.0.0.1:$hearth_port" --data "$tmp/data" >"$tmp/hearth.log" 2>&1) &
hearth_pid=$!

wait_ready() { # name url pid-or-empty logfile
    local name=$1 url=$2 pid=$3 logfile=$4 deadline=$((SECONDS + 10))
    while ((SECONDS < deadline)); do
        if [[ $(curl -s --max-time 1 "$url/ping" 2>/dev/null) == pong ]]; then
            return 0
        fi
        if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then
            printf -- '--- %s\n' "$logfile" >&2
            cat "$logfile" >&2 || true
            die "$name exited before answering /ping"
        fi
        sleep 0.1
    done
    printf -- '--- %s\n' "$logfile" >&2
    cat "$logfile" >&2 || true
    die "$name did not answer GET /ping with pong within 10 s"
}
wait_ready hearth "$hearth_url" "$hearth_pid" "$tmp/hearth.log"
rss_start_kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$hearth_pid/status")

# --- nginx, serving hearth's own bytes -----------------------------------------
mkdir -p "$tmp/html" "$tmp/nginx"
curl -sf --max-time 5 -o "$tmp/html/index.html" "$hearth_url/" || die "GET / on hearth failed"
curl -sf --max-time 5 -o "$tmp/html/ping" "$hearth_url/ping" || die "GET /ping on hearth failed"
curl -sf --max-time 5 -o "$tmp/html/pdf" "$hearth_url/pdf" || die "GET /pdf on hearth failed"

user_line=
if ((EUID == 0)); then
    # The master runs as root and would drop workers to `nobody`, who cannot read
    # the 0700 temp dir.
    user_line='user root;'
fi
cat >"$tmp/nginx.conf" <<EOF
$user_line
daemon on;
worker_processes auto;
pid $nginx_pidfile;
error_log $tmp/nginx-error.log warn;

events {
    worker_connections 1024;
}

http {
    access_log off;
    sendfile on;
    tcp_nodelay on;
    types {
        text/html html;
    }
    default_type application/octet-stream;
    charset utf-8;

    client_body_temp_path $tmp/nginx/body;
    proxy_temp_path $tmp/nginx/proxy;
    fastcgi_temp_path $tmp/nginx/fastcgi;
    uwsgi_temp_path $tmp/nginx/uwsgi;
    scgi_temp_path $tmp/nginx/scgi;

    server {
        listen 127.0.0.1:$nginx_port;

        # Both paths are static files holding hearth's own bytes.
        location = /ping {
            root $tmp/html;
            default_type text/plain;
        }

        location = /pdf {
            root $tmp/html;
            default_type application/pdf;
        }

        location / {
            root $tmp/html;
            index index.html;
        }
    }
}
EOF

log "starting nginx on 127.0.0.1:$nginx_port"
"$nginx_bin" -p "$tmp/nginx" -c "$tmp/nginx.conf" -e "$tmp/nginx-error.log" \
    >"$tmp/nginx-start.log" 2>&1 || {
    cat "$tmp/nginx-start.log" "$tmp/nginx-error.log" >&2 2>/dev/null || true
    die "nginx failed to start"
}
wait_ready nginx "$nginx_url" "" "$tmp/nginx-error.log"
curl -sf --max-time 5 -o "$tmp/nginx-index.html" "$nginx_url/" || die "GET / on nginx failed"
cmp -s "$tmp/html/index.html" "$tmp/nginx-index.html" || die "nginx does not serve hearth's / bytes"

# --- runs ----------------------------------------------------------------------
to_ms() { # wrk latency like 179.00us, 1.20ms, 2.01s, 1.00m -> milliseconds
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        if (u == "us") n /= 1000
        else if (u == "ms") n = n
        else if (u == "s") n *= 1000
        else if (u == "m") n *= 60000
        else if (u == "h") n *= 3600000
        else n = -1
        if (n < 0) print "?"; else printf "%.2f", n
    }'
}

rows=()
warnings=()
declare -A rps

run() { # server url path conns threads duration
    local server=$1 url=$2 path=$3 conns=$4 threads=$5 dur=$6 out req p50 p99 errs
    out=$tmp/wrk-$server-${path//\//_}-c$conns.txt
    log "wrk -t$threads -c$conns -d$dur --latency $url$path"
    # In the background and waited for, so a TERM/INT to this script is acted on at once.
    wrk "-t$threads" "-c$conns" "-d$dur" --latency "$url$path" >"$out" 2>&1 &
    wrk_pid=$!
    wait "$wrk_pid" || warnings+=("wrk exited non-zero for $server $path c$conns")
    wrk_pid=
    req=$(awk '/^Requests\/sec:/ {print $2}' "$out")
    p50=$(awk '$1 == "50%" {print $2}' "$out")
    p99=$(awk '$1 == "99%" {print $2}' "$out")
    if [[ -z $req || -z $p50 || -z $p99 ]]; then
        warnings+=("could not parse wrk output for $server $path c$conns:")
        warnings+=("$(cat "$out")")
        req=${req:-0}
    fi
    p50=$([[ -n $p50 ]] && to_ms "$p50" || echo "?")
    p99=$([[ -n $p99 ]] && to_ms "$p99" || echo "?")
    errs=$(grep -E 'Socket errors|Non-2xx' "$out" || true)
    [[ -z $errs ]] || warnings+=("$server $path c$conns: ${errs//$'\n'/; }")
    rps[$server,$path,$conns]=$req
    rows+=("$(printf '%-6s %-6s %-7s %-9.0f %-7s %s' "$path" "$conns" "$server" "$req" "$p50" "$p99")")
}

for conns in 64 1; do
    if ((conns == 1)); then threads=1 dur=$DURATION1; else threads=2 dur=$DURATION; fi
    for path in /ping / /pdf; do
        run hearth "$hearth_url" "$path" "$conns" "$threads" "$dur"
        run nginx "$nginx_url" "$path" "$conns" "$threads" "$dur"
    done
done

kill -0 "$hearth_pid" 2>/dev/null || die "hearth died during the runs (log: $tmp/hearth.log)"
hwm_kb=$(awk '/^VmHWM:/ {print $2}' "/proc/$hearth_pid/status")

ratio() { # path conns
    awk -v h="${rps[hearth,$1,$2]}" -v n="${rps[nginx,$1,$2]}" \
        'BEGIN { if (n > 0) printf "%.2f", h / n; else printf "n/a" }'
}

# --- report ------------------------------------------------------------------
mem_gib=$(awk '/^MemTotal:/ {printf "%.1f", $2 / 1048576}' /proc/meminfo)
printf 'hearth bench — %s, %s cores, %s GiB, hearth %s\n' "$(date -u)" "$(nproc)" "$mem_gib" "$version"
printf '%-6s %-6s %-7s %-9s %-7s %s\n' path conns server req/s "p50 ms" "p99 ms"
printf '%s\n' "${rows[@]}"
printf 'ratio hearth/nginx req/s: /ping c64 %s, / c64 %s, /pdf c64 %s, /ping c1 %s, / c1 %s, /pdf c1 %s\n' \
    "$(ratio /ping 64)" "$(ratio / 64)" "$(ratio /pdf 64)" "$(ratio /ping 1)" "$(ratio / 1)" "$(ratio /pdf 1)"
awk -v k="$hwm_kb" -v s="$rss_start_kb" \
    'BEGIN { printf "hearth peak RSS: %.1f MB (RSS after start: %.1f MB)\n", k / 1024, s / 1024 }'
printf 'durations: c64 %s, c1 %s; / is %s bytes, /pdf %s bytes\n' "$DURATION" "$DURATION1" \
    "$(wc -c <"$tmp/html/index.html")" "$(wc -c <"$tmp/html/pdf")"
if ((${#warnings[@]})); then
    printf 'warning: %s\n' "${warnings[@]}"
fi
if [[ -s $tmp/hearth.log ]]; then
    printf 'hearth logged %s line(s) at warn or above; first ones:\n' "$(wc -l <"$tmp/hearth.log")"
    head -n 5 "$tmp/hearth.log"
fi
