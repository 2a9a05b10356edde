#!/usr/bin/env bash
# Tests scripts/release.sh, scripts/check-version.sh and scripts/release-notes.sh in a
# throwaway git repository made of this work tree's Cargo.toml, Cargo.lock, CHANGELOG.md,
# test and prod overlays and the scripts. Prints an "ok" line per check; stops at the
# first failure with what was expected and what happened.
#   bash tests/release.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/version.sh
source scripts/lib/version.sh

# shellcheck source=tests/lib.sh
source tests/lib.sh
repo=$work/repo

# An isolated git: no user or system configuration (hooks, signing, templates).
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME=Releaser GIT_AUTHOR_EMAIL=releaser@example.org
export GIT_COMMITTER_NAME=Releaser GIT_COMMITTER_EMAIL=releaser@example.org

mkdir -p "$repo/scripts/lib"
cp scripts/release.sh scripts/check-version.sh scripts/release-notes.sh "$repo/scripts/"
cp scripts/lib/version.sh scripts/lib/json_version.py "$repo/scripts/lib/"
cp Cargo.toml Cargo.lock CHANGELOG.md "$repo/"
v0=$(cargo_toml_version Cargo.toml)
tag0=$(semver_image_tag "$v0")
# copy_or_stand_in FILE TEXT: FILE from the work tree, or TEXT where there is none.
copy_or_stand_in() {
  mkdir -p "$repo/$(dirname "$1")"
  if [[ -f $1 ]]; then
    cp "$1" "$repo/$1"
  else
    echo "note: $1 is not in the work tree; the test uses a stand-in"
    printf '%s\n' "$2" >"$repo/$1"
  fi
}
for overlay in "${VERSION_OVERLAYS[@]}"; do
  copy_or_stand_in "$overlay" "$(printf 'resources: []\nimages:\n  - name: hearth\n    newName: %s\n    newTag: %s\n' "$VERSION_IMAGE" "$tag0")"
done
copy_or_stand_in "$VERSION_OPENAPI" "$(printf '{\n  "info": {\n    "title": "hearth",\n    "version": "%s"\n  },\n  "openapi": "3.1.0"\n}\n' "$v0")"
# shellcheck disable=SC2016 # a compose variable, literally
copy_or_stand_in compose.yaml "$(printf 'services:\n  hearth:\n    image: %s:${HEARTH_VERSION:-%s}\n' "$VERSION_IMAGE" "$tag0")"
copy_or_stand_in deploy/compose.env.example "$(printf 'HEARTH_VERSION=%s\n' "$tag0")"
if [[ -f web/package.json ]]; then
  mkdir -p "$repo/web"
  cp web/package.json "$repo/web/"
  if [[ -f web/package-lock.json ]]; then cp web/package-lock.json "$repo/web/"; fi
fi
cd "$repo"
git init -q -b main
git add -A
git commit -q -m "Start"

major=${v0%%.*}
next_major=$((major + 1))

# state: HEAD, tags and work-tree status, to see that a refused release changed nothing.
state() { printf '%s\n%s\n%s\n' "$(git rev-parse HEAD)" "$(git tag --list | sort)" "$(git status --porcelain)"; }

# refused WHAT EXPECTED-MESSAGE VERSION: release VERSION must fail, say EXPECTED-MESSAGE
# and leave the repository as it was.
refused() {
  local what=$1 message=$2 version=$3 before status=0
  before=$(state)
  bash scripts/release.sh "$version" >"$out" 2>&1 || status=$?
  [[ $status != 0 ]] || fail "$what: release $version succeeded"
  grep -qF -- "$message" "$out" || fail "$what: expected the message \"$message\""
  [[ $(state) == "$before" ]] || fail "$what: the refused release changed the repository"
  ok "$what: refused (\"$message\")"
}

# released VERSION: release VERSION must succeed, and leave a clean tree.
released() {
  local version=$1
  bash scripts/release.sh "$version" >"$out" 2>&1 || fail "release $version failed"
  grep -qF "git push --follow-tags" "$out" || fail "release $version does not say how to publish it"
  [[ -z $(git status --porcelain) ]] || fail "release $version left changes in the work tree"
  ok "release $version succeeded and printed the next step"
}

# check_version_fails PLACE: check-version must fail and name PLACE.
check_version_fails() {
  local status=0
  bash scripts/check-version.sh >"$out" 2>&1 || status=$?
  [[ $status == 1 ]] || fail "check-version exited $status with $1 edited; expected 1"
  grep -q "^error: .*$1" "$out" || fail "check-version did not name $1"
  ok "check-version fails naming $1"
}

# With no release yet, the copied files agree.
bash scripts/check-version.sh >"$out" 2>&1 || fail "check-version fails on this work tree's files"
ok "check-version passes on the work tree's files ($v0)"

# Cargo resolves the lock file that a release writes, when it can resolve the original
# offline (the registry cache and a toolchain are here).
cargo_check=""
mkdir -p src
echo 'fn main() {}' >src/main.rs
if command -v cargo >/dev/null && cargo metadata --offline --locked --format-version 1 >/dev/null 2>&1; then
  cargo_check=1
else
  echo "note: cargo cannot resolve Cargo.lock offline here; its check after a release is skipped"
fi
rm -rf src

# Refused versions.
for bad in 1.2 1.2.3.4 01.2.3 1.02.3 1.2.3- 1.2.3-01 1.2.3-a..b 1.2.3+ "1.2.3 " latest; do
  refused "non-semantic version \"$bad\"" "is not a semantic version" "$bad"
done
refused "a leading v" 'starts with "v": write 1.2.3' v1.2.3
refused "an uppercase pre-release" "must be lowercase" "$next_major.0.0-RC.1"
refused "a version too long for a Job name" "at most 48 characters" "$next_major.0.0-$(printf 'a%.0s' {1..48})"
refused "a version below Cargo.toml's" "lower than the current version $v0" 0.0.0-0

# A dirty work tree, then an untracked file.
echo "# edited" >>Cargo.toml
refused "a changed file" "the work tree has changes" "$next_major.0.0"
git checkout -q -- Cargo.toml
touch stray.txt
refused "an untracked file" "stray.txt" "$next_major.0.0"
rm stray.txt

# A failed commit leaves nothing behind.
mkdir -p .git/hooks
printf '#!/bin/sh\nexit 1\n' >.git/hooks/pre-commit
chmod +x .git/hooks/pre-commit
refused "a commit that fails" "the release failed" "$next_major.0.0"
rm .git/hooks/pre-commit

# A detached HEAD.
git checkout -q --detach
refused "a detached HEAD" "HEAD is detached" "$next_major.0.0"
git checkout -q main

today=$(date +%F)
newest=$(changelog_release CHANGELOG.md)
if [[ -z $newest ]]; then
  # The first release carries Cargo.toml's version: only CHANGELOG.md changes.
  released "$v0"
  [[ $(git diff --name-only HEAD~1 HEAD) == CHANGELOG.md ]] ||
    fail "the first release ($v0) changed $(git diff --name-only HEAD~1 HEAD | paste -sd ' ' -)"
  [[ $(changelog_release CHANGELOG.md) == "$v0 — $today" ]] || fail "CHANGELOG.md's newest heading is not \"## $v0 — $today\""
  [[ $(git cat-file -t "v$v0") == tag ]] || fail "v$v0 is not an annotated tag"
  bash scripts/check-version.sh >"$out" 2>&1 || fail "check-version fails after the release of $v0"
  ok "the first release, $v0, dates its CHANGELOG heading, tags v$v0, and changes nothing else"
  awk '/^## Unreleased/ { print; print ""; print "### Added"; print "- More."; next } { print }' CHANGELOG.md >CHANGELOG.md.new
  mv CHANGELOG.md.new CHANGELOG.md
  git commit -q -am "An entry"
else
  refused "the version of CHANGELOG.md's newest release" \
    "not higher than the newest release in CHANGELOG.md, ${newest%% *}" "${newest%% *}"
fi

# A release that changes every place.
unreleased=$(awk '/^## / { if (b) exit; if ($0 ~ /^## Unreleased/) { b = 1; next } } b' CHANGELOG.md |
  awk 'NF { for (; n > 0; n--) print ""; print; s = 1; next } s { n++ }')
[[ -n $unreleased ]] || fail "this work tree's CHANGELOG.md has no Unreleased entries to release"
r1=$next_major.0.0
released "$r1"
[[ $(cargo_toml_version Cargo.toml) == "$r1" ]] || fail "Cargo.toml is not $r1"
ok "Cargo.toml is $r1"
[[ $(cargo_lock_version Cargo.lock) == "$r1" ]] || fail "Cargo.lock's hearth is not $r1"
ok "Cargo.lock's hearth is $r1"
for overlay in "${VERSION_OVERLAYS[@]}"; do
  [[ $(overlay_tag "$overlay") == "$r1" ]] || fail "$overlay: newTag is not $r1"
  [[ $(git diff HEAD~1 HEAD -- "$overlay" | grep -c '^[-+] ') == 2 ]] ||
    fail "$overlay: the release changed more than its newTag line"
  ok "$overlay: newTag is $r1, and only that line changed"
done
[[ $(json_version "$VERSION_OPENAPI" /info/version) == "$r1" ]] || fail "$VERSION_OPENAPI: info.version is not $r1"
[[ $(git diff HEAD~1 HEAD -- "$VERSION_OPENAPI" | grep -c '^[-+] ') == 2 ]] ||
  fail "$VERSION_OPENAPI: the release changed more than its version line"
ok "$VERSION_OPENAPI: info.version is $r1, and only that line changed"
for file in "${VERSION_COMPOSE_FILES[@]}"; do
  [[ $(compose_tags "$file" | sort -u) == "$r1" ]] || fail "$file: the image tag is not $r1"
  [[ $(git diff HEAD~1 HEAD -- "$file" | grep -c '^[-+][^-+]') == $((2 * $(compose_tags "$file" | wc -l))) ]] ||
    fail "$file: the release changed more than its image tags"
  ok "$file: the image tag is $r1, and nothing else changed"
done
[[ $(changelog_release CHANGELOG.md) == "$r1 — $today" ]] || fail "CHANGELOG.md's newest heading is not \"## $r1 — $today\""
ok "CHANGELOG.md has \"## $r1 — $today\""
[[ $(bash scripts/release-notes.sh "$r1") == "$unreleased" ]] ||
  fail "the release notes of $r1 are not what Unreleased held"
ok "the Unreleased entries moved under $r1 (release-notes.sh prints them)"
[[ -z $(awk '/^## / { if (b) exit; if ($0 ~ /^## Unreleased/) { b = 1; next } } b && NF' CHANGELOG.md) ]] ||
  fail "the Unreleased section is not empty after the release"
grep -qx '## Unreleased' CHANGELOG.md || fail "the Unreleased heading is gone"
ok "an empty Unreleased section stays"
expected=$(printf '%s\n' CHANGELOG.md Cargo.lock Cargo.toml "${VERSION_OVERLAYS[@]}" "$VERSION_OPENAPI" \
  "${VERSION_COMPOSE_FILES[@]}" | sort | paste -sd ' ' -)
changed=$(git diff --name-only HEAD~1 HEAD | sort | paste -sd ' ' -)
[[ $changed == "$expected" ]] || fail "the release commit changed $changed; expected $expected"
ok "the release commit changes exactly the places of the version ($(wc -w <<<"$changed") files)"
[[ $(git log -1 --format=%s) == "Release $r1" ]] || fail "the commit is not \"Release $r1\""
ok "the commit is \"Release $r1\""
[[ $(git cat-file -t "v$r1") == tag ]] || fail "v$r1 is not an annotated tag"
[[ $(git rev-parse "v$r1^{commit}") == $(git rev-parse HEAD) ]] || fail "v$r1 does not point at the release commit"
ok "the annotated tag v$r1 points at the release commit"
bash scripts/check-version.sh >"$out" 2>&1 || fail "check-version fails after the release"
grep -q "CHANGELOG.md newest release .* $r1\$" "$out" || fail "check-version does not show the release $r1"
ok "check-version passes after the release"
bash scripts/check-version.sh --tag "v$r1" >"$out" 2>&1 || fail "check-version --tag v$r1 fails"
ok "check-version --tag v$r1 passes"
status=0
bash scripts/check-version.sh --tag "v$v0-other" >"$out" 2>&1 || status=$?
[[ $status == 1 ]] || fail "check-version --tag accepts a tag of another version"
grep -q "^error: git tag v$v0-other" "$out" || fail "check-version --tag does not name the tag"
ok "check-version --tag refuses a tag of another version"
if [[ -n $cargo_check ]]; then
  mkdir -p src
  echo 'fn main() {}' >src/main.rs
  cargo metadata --offline --locked --format-version 1 >"$out" 2>&1 || fail "cargo refuses the Cargo.lock the release wrote"
  rm -rf src
  ok "cargo accepts the Cargo.lock the release wrote (--locked)"
fi

# Nothing new to release.
refused "an empty Unreleased section" "the Unreleased section is empty" "$next_major.0.1"

# A web console's package.json takes the version too, its formatting kept.
if [[ ! -f web/package.json ]]; then
  mkdir -p web
  printf '{\n  "name": "hearth-web",\n  "version": "%s",\n  "private": true,\n  "engines": { "node": ">=20" },\n  "devDependencies": {\n    "vite": "7.0.0"\n  }\n}\n' "$r1" >web/package.json
  python3 -c 'import json; print(json.dumps({"name": "hearth-web", "version": "'"$r1"'", "lockfileVersion": 3, "requires": True, "packages": {"": {"name": "hearth-web", "version": "'"$r1"'"}}}, indent=2))' >web/package-lock.json
fi
awk '/^## Unreleased/ { print; print ""; print "### Fixed"; print "- Something."; next } { print }' CHANGELOG.md >CHANGELOG.md.new
mv CHANGELOG.md.new CHANGELOG.md
git add -A
git commit -q -m "Web console; an entry"
bash scripts/check-version.sh >"$out" 2>&1 || fail "check-version fails with web/package.json at $r1"
ok "check-version passes with web/package.json"

# Lower, equal and pre-release versions after a release; precedence is numeric.
refused "the version of the latest tag" "not higher than the latest release tag v$r1" "$r1"
refused "a lower version" "not higher than the latest release tag v$r1" "$major.999.999"
refused "a pre-release of the latest release" "not higher than the latest release tag v$r1" "$r1-rc.1"
refused "the same version with build metadata" "not higher than the latest release tag v$r1" "$r1+build.2"
git tag "v$next_major.0.1-beta.11"
git tag vnext # not a version: ignored
refused "beta.2 after beta.11 (numeric precedence)" "not higher than the latest release tag v$next_major.0.1-beta.11" "$next_major.0.1-beta.2"

# A release with build metadata: the image tag is the version without it.
r2=$next_major.0.1+build.7
released "$r2"
[[ $(cargo_toml_version Cargo.toml) == "$r2" && $(cargo_lock_version Cargo.lock) == "$r2" ]] ||
  fail "Cargo.toml or Cargo.lock is not $r2"
ok "Cargo.toml and Cargo.lock are $r2"
for overlay in "${VERSION_OVERLAYS[@]}"; do
  [[ $(overlay_tag "$overlay") == "$next_major.0.1" ]] || fail "$overlay: newTag is not $next_major.0.1"
done
for file in "${VERSION_COMPOSE_FILES[@]}"; do
  [[ $(compose_tags "$file" | sort -u) == "$next_major.0.1" ]] || fail "$file: the image tag is not $next_major.0.1"
done
ok "the overlays' and compose files' image tag is $next_major.0.1 (no build metadata in image tags)"
[[ $(json_version "$VERSION_OPENAPI" /info/version) == "$r2" ]] || fail "$VERSION_OPENAPI: info.version is not $r2"
ok "$VERSION_OPENAPI: info.version is $r2"
[[ $(python3 -c 'import json; print(json.load(open("web/package.json"))["version"])') == "$r2" ]] ||
  fail "web/package.json is not $r2"
[[ $(git diff HEAD~1 HEAD -- web/package.json | grep -c '^[-+] ') == 2 ]] ||
  fail "web/package.json changed more than its version line"
ok "web/package.json is $r2, and only its version line changed"
[[ $(python3 -c 'import json; d = json.load(open("web/package-lock.json")); print(d["version"], d["packages"][""]["version"])') == "$r2 $r2" ]] ||
  fail "web/package-lock.json is not $r2"
ok "web/package-lock.json is $r2"
[[ $(bash scripts/release-notes.sh "v$r2") == $'### Fixed\n- Something.' ]] || fail "the release notes of $r2 are wrong"
ok "release-notes.sh prints the entries of $r2"
bash scripts/check-version.sh --tag "v$r2" >"$out" 2>&1 || fail "check-version --tag v$r2 fails"
ok "check-version --tag v$r2 passes"

# check-version names each place edited by hand.
edit() { # edit FILE SED-EXPRESSION
  sed -i -e "$2" "$1"
  ! git diff --quiet -- "$1" || fail "the edit of $1 changed nothing"
}
edit Cargo.lock '/^name = "hearth"$/{n;s/^version = .*/version = "9.9.9"/}'
check_version_fails "Cargo.lock"
git checkout -q -- .
edit Cargo.toml '0,/^version = /s/^version = .*/version = "9.9.9"/'
check_version_fails "Cargo.toml"
git checkout -q -- .
for overlay in "${VERSION_OVERLAYS[@]}"; do
  edit "$overlay" 's/newTag:.*/newTag: 9.9.9/'
  check_version_fails "$overlay"
  git checkout -q -- .
  rm "$overlay"
  check_version_fails "$overlay is missing"
  git checkout -q -- .
done
edit web/package.json 's/"version": "[^"]*"/"version": "9.9.9"/'
check_version_fails "web/package.json"
git checkout -q -- .
python3 scripts/lib/json_version.py set "$VERSION_OPENAPI" 9.9.9 /info/version
check_version_fails "$VERSION_OPENAPI"
git checkout -q -- .
for file in "${VERSION_COMPOSE_FILES[@]}"; do
  edit "$file" "s/$next_major\.0\.1/9.9.9/"
  check_version_fails "$file"
  git checkout -q -- .
done
edit CHANGELOG.md "s/^## $next_major\\.0\\.1+build\\.7 — /## 9.9.9 — /"
check_version_fails "CHANGELOG.md"
git checkout -q -- .
edit CHANGELOG.md "s/^## $next_major\\.0\\.1+build\\.7 — .*/## $next_major.0.1+build.7/"
check_version_fails "CHANGELOG.md: the heading"
git checkout -q -- .
bash scripts/check-version.sh >"$out" 2>&1 || fail "check-version fails once the edits are undone"
ok "check-version passes once the edits are undone"

echo "release tooling: all $checks checks passed"
