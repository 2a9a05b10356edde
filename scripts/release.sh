#!/usr/bin/env bash
# Makes a release: writes VERSION into every place that names hearth's version
# (Cargo.toml, Cargo.lock, web/package.json and its lock file when there is one, the
# OpenAPI snapshot, the image tag of the test and prod overlays and of the compose files),
# moves CHANGELOG.md's Unreleased entries under "## VERSION — DATE", commits
# "Release VERSION" and creates the annotated tag vVERSION. Nothing is pushed.
#   scripts/release.sh VERSION        (make release VERSION=X.Y.Z)
# Refuses a VERSION that is not a semantic version, one whose image tag (the version
# without build metadata) has capitals or more than 48 characters, one not higher than
# the latest v* tag and CHANGELOG.md's newest release, or lower than Cargo.toml's; a
# detached HEAD; a work tree with changes or untracked files; versions that disagree
# already (scripts/check-version.sh); and an empty Unreleased section.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/version.sh
source scripts/lib/version.sh

die() {
  echo "error: $*" >&2
  exit 1
}

if [[ $# -ne 1 || -z $1 || $1 == -* ]]; then
  echo "usage: scripts/release.sh VERSION   (a semantic version: 1.2.0, 1.3.0-rc.1)" >&2
  exit 2
fi
version=$1
if [[ $version == v* ]] && semver_valid "${version#v}"; then
  die "VERSION \"$version\" starts with \"v\": write ${version#v} (the tag will be v${version#v})"
fi
semver_valid "$version" ||
  die "VERSION \"$version\" is not a semantic version: MAJOR.MINOR.PATCH with optional -PRERELEASE and +BUILD, no leading zeros (1.2.0, 1.3.0-rc.1)"

# The image tag also ends Kubernetes names (the Job hearth-migrate-TAG, at most 63
# characters, lowercase).
image_tag=$(semver_image_tag "$version")
if [[ $image_tag =~ [A-Z] || ${#image_tag} -gt 48 ]]; then
  die "VERSION $version: without build metadata it must be lowercase and at most 48 characters (it names the Job hearth-migrate-$image_tag)"
fi

git rev-parse --is-inside-work-tree >/dev/null 2>&1 || die "$(pwd) is not a git work tree"
git symbolic-ref -q HEAD >/dev/null || die "HEAD is detached: check out the branch to release from"
dirty=$(git status --porcelain --untracked-files=all)
if [[ -n $dirty ]]; then
  echo "error: the work tree has changes or untracked files; commit or remove them first:" >&2
  printf '%s\n' "$dirty" | sed 's/^/  /' >&2
  exit 1
fi

# The latest v* tag by precedence; tags that are not versions are ignored.
latest=""
while IFS= read -r t; do
  v=${t#v}
  semver_valid "$v" || continue
  if [[ -z $latest || $(semver_cmp "$v" "$latest") == 1 ]]; then
    latest=$v
  fi
done < <(git tag --list 'v*')
if [[ -n $latest && $(semver_cmp "$version" "$latest") != 1 ]]; then
  die "VERSION $version is not higher than the latest release tag v$latest"
fi

# Every place must agree beforehand, so that the release commit changes only the version.
if ! check=$(bash scripts/check-version.sh 2>&1); then
  printf '%s\n' "$check" >&2
  die "the versions must agree before a release"
fi
current=$(cargo_toml_version Cargo.toml)
if [[ $(semver_cmp "$version" "$current") == -1 ]]; then
  die "VERSION $version is lower than the current version $current in Cargo.toml"
fi
newest=$(changelog_release CHANGELOG.md)
newest=${newest%% *}
if [[ -n $newest && $(semver_cmp "$version" "$newest") != 1 ]]; then
  die "VERSION $version is not higher than the newest release in CHANGELOG.md, $newest"
fi

notes=$(awk '
  /^## / { if (body) exit; if ($0 ~ /^## Unreleased[[:space:]]*$/) { body = 1; next } }
  body' CHANGELOG.md)
if [[ -z ${notes//[[:space:]]/} ]]; then
  die "CHANGELOG.md: the Unreleased section is empty; say there what $version changes"
fi

start=$(git rev-parse HEAD)
restore() {
  # The work tree was clean when the release began, so this loses nothing.
  git reset -q --hard "$start"
  echo "error: the release failed; the work tree and HEAD are as they were" >&2
}
trap restore EXIT

# replace FILE: FILE takes FILE.new's content (and keeps its mode).
replace() {
  cat "$1.new" >"$1"
  rm "$1.new"
}

# Cargo.toml: the version line of the [package] table.
awk -v v="$version" '
  /^[[:space:]]*\[/ { p = ($0 ~ /^[[:space:]]*\[package\][[:space:]]*(#.*)?$/) }
  p && !done && /^[[:space:]]*version[[:space:]]*=/ { sub(/"[^"]*"/, "\"" v "\""); done = 1 }
  { print }' Cargo.toml >Cargo.toml.new
replace Cargo.toml

# Cargo.lock: the hearth package's version line, as cargo writes it.
awk -v v="$version" '
  /^\[\[package\]\]/ { h = 0 }
  /^name = "hearth"$/ { h = 1 }
  h && /^version = "/ { $0 = "version = \"" v "\""; h = 0 }
  { print }' Cargo.lock >Cargo.lock.new
replace Cargo.lock

files=(Cargo.toml Cargo.lock)

# JSON files: only the version strings change, the formatting stays (npm version would
# drop build metadata and reformat).
if [[ -f web/package.json ]]; then
  python3 scripts/lib/json_version.py set web/package.json "$version" /version
  files+=(web/package.json)
  if [[ -f web/package-lock.json ]]; then
    python3 scripts/lib/json_version.py set web/package-lock.json "$version" /version /packages//version
    files+=(web/package-lock.json)
  fi
fi
if [[ -f $VERSION_OPENAPI ]]; then
  python3 scripts/lib/json_version.py set "$VERSION_OPENAPI" "$version" /info/version
  files+=("$VERSION_OPENAPI")
fi

# The overlays' image tag, keeping any quotes and comment on the line.
tag=$image_tag
for overlay in "${VERSION_OVERLAYS[@]}"; do
  awk -v t="$tag" '
    /^[[:space:]]*newTag:/ {
      match($0, /^[[:space:]]*newTag:[[:space:]]*/)
      lead = substr($0, 1, RLENGTH)
      rest = substr($0, RLENGTH + 1)
      q = substr(rest, 1, 1)
      if (q != "\"" && q != "'\''") q = ""
      comment = ""
      if (match(rest, /[[:space:]]+#.*$/)) comment = substr(rest, RSTART)
      $0 = lead q t q comment
    }
    { print }' "$overlay" >"$overlay.new"
  replace "$overlay"
  files+=("$overlay")
done

# The compose files' image tag: VERSION_IMAGE:TAG, VERSION_IMAGE:${VARIABLE:-TAG} and
# HEARTH_VERSION=TAG.
image_re=${VERSION_IMAGE//./\\.}
for file in "${VERSION_COMPOSE_FILES[@]}"; do
  if [[ -f $file && -n $(compose_tags "$file") ]]; then
    sed -E -e "s|(${image_re}:(\\\$\\{[A-Za-z_][A-Za-z0-9_]*:-)?)[A-Za-z0-9_][A-Za-z0-9_.-]*|\\1${tag}|g" \
      -e "s|^HEARTH_VERSION=[^[:space:]#]*|HEARTH_VERSION=${tag}|" "$file" >"$file.new"
    replace "$file"
    files+=("$file")
  fi
done

# CHANGELOG.md: the release's heading goes under Unreleased and takes over its entries.
awk -v heading="## $version — $(date +%F)" '
  !done && /^## Unreleased[[:space:]]*$/ { print; print ""; print heading; done = 1; next }
  { print }' CHANGELOG.md >CHANGELOG.md.new
replace CHANGELOG.md
files+=(CHANGELOG.md)

bash scripts/check-version.sh >/dev/null

git add -- "${files[@]}"
git commit -q -m "Release $version"
git tag -a "v$version" -m "hearth $version"
trap - EXIT

echo "Released $version: commit $(git rev-parse --short HEAD) \"Release $version\" and tag v$version."
echo "Publish both with: git push --follow-tags"
