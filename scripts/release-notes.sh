#!/usr/bin/env bash
# Prints the CHANGELOG.md entries of one release (the lines under its "## VERSION — DATE"
# heading, up to the next heading), for the release's notes. Fails when there are none.
#   scripts/release-notes.sh VERSION
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $# -ne 1 || -z $1 ]]; then
  echo "usage: scripts/release-notes.sh VERSION" >&2
  exit 2
fi
version=${1#v}

notes=$(awk -v v="$version" '
  /^## / {
    if (body) exit
    if (index($0, "## " v " — ") == 1) { body = 1; next }
  }
  body' CHANGELOG.md)
if [[ -z ${notes//[[:space:]]/} ]]; then
  echo "error: CHANGELOG.md has no entries under a \"## $version — DATE\" heading" >&2
  exit 1
fi
# Without the blank lines around the entries.
printf '%s\n' "$notes" | awk 'NF { for (; blank > 0; blank--) print ""; print; started = 1; next } started { blank++ }'
