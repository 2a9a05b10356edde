#!/usr/bin/env bash
# Makes sure the services the tests talk to are installed and answering on loopback:
# PostgreSQL (5432, trust auth), MariaDB (3306, root without a password) and Redis
# (6379), and the test tools. Idempotent: what already answers is left alone.
set -euo pipefail

log() { printf '==> %s\n' "$*"; }

apt_updated=""
install_packages() { # install_packages PACKAGE...
  if [ -z "$apt_updated" ]; then
    log "apt-get update"
    apt-get update -qq
    apt_updated=1
  fi
  log "installing $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

need_package() { # need_package COMMAND PACKAGE...
  local cmd=$1
  shift
  if ! command -v "$cmd" >/dev/null 2>&1; then
    install_packages "$@"
  fi
}

need_file() { # need_file PATH PACKAGE...: for packages that install no command
  local file=$1
  shift
  if [ ! -e "$file" ]; then
    install_packages "$@"
  fi
}

wait_for() { # wait_for NAME COMMAND...
  local name=$1
  shift
  for _ in $(seq 1 60); do
    if "$@" >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.5
  done
  echo "error: $name did not come up on 127.0.0.1" >&2
  return 1
}

need_package pg_isready postgresql postgresql-client
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  log "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(find /etc/postgresql -mindepth 1 -maxdepth 1 -printf "%f\n" | sort -V | tail -1)" main start
  wait_for PostgreSQL pg_isready -q -h 127.0.0.1 -p 5432
fi

need_package mariadb-admin mariadb-server mariadb-client
if ! mariadb-admin --protocol=tcp -h 127.0.0.1 -P 3306 -u root ping >/dev/null 2>&1; then
  log "starting MariaDB"
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
  wait_for MariaDB mariadb-admin --protocol=tcp -h 127.0.0.1 -P 3306 -u root ping
fi

need_package redis-cli redis-server redis-tools
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  log "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no
  wait_for Redis redis-cli -h 127.0.0.1 -p 6379 ping
fi

# Test tools: promtool validates the /metrics exposition; Debian's Chromium (driven by
# playwright-core) opens the pages, with DejaVu for its text; the Nu HTML Checker runs
# on Java; poppler's pdftotext, pdffonts and pdfinfo read the PDFs.
need_package promtool prometheus
need_package chromium chromium
need_file /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf fonts-dejavu-core
need_package java default-jre-headless
need_package pdftotext poppler-utils
# The blog's feed is read by a real feed reader, its sitemap checked against the schema.
need_package xmllint libxml2-utils
if ! python3 -c 'import feedparser' 2>/dev/null; then
  log "installing feedparser (PyPI)"
  python3 -m pip install -q --root-user-action=ignore feedparser
fi
# The API is fuzzed from its OpenAPI document by schemathesis.
if ! python3 -c 'import schemathesis' 2>/dev/null; then
  log "installing schemathesis (PyPI)"
  python3 -m pip install -q --root-user-action=ignore 'schemathesis>=4.32,<5'
fi
# The object storage tests start moto's S3 server themselves (moto_server on a free port).
if ! python3 -c 'import moto.server' 2>/dev/null; then
  log "installing moto[server] (PyPI)"
  python3 -m pip install -q --root-user-action=ignore 'moto[server]>=5.1,<6'
fi

log "PostgreSQL, MariaDB and Redis answer on 127.0.0.1; test tools are installed"
