#!/usr/bin/env bash
# Prints the image tag of the checked-out commit: BRANCH-SHORTSHA (main-abc1234), the
# branch made a valid tag (characters other than letters, digits, "_", "." and "-"
# become "-"). BRANCH overrides the branch, as on a detached HEAD in CI.
#   scripts/image-tag.sh
set -euo pipefail
cd "$(dirname "$0")/.."

sha=$(git rev-parse --short=7 HEAD)
branch=${BRANCH:-$(git rev-parse --abbrev-ref HEAD)}
if [[ $branch == HEAD ]]; then
  branch=detached
fi
branch=$(printf '%s' "$branch" | LC_ALL=C tr -c 'A-Za-z0-9_.-' '-' | LC_ALL=C tr -s '.-')
# A tag cannot start with "." or "-", and has at most 128 characters.
while [[ $branch == [.-]* ]]; do branch=${branch#?}; done
branch=${branch:0:$((127 - ${#sha}))}
while [[ $branch == *[.-] ]]; do branch=${branch%?}; done
printf '%s\n' "${branch:-branch}-$sha"
