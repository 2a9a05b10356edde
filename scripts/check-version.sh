#!/usr/bin/env bash
# Checks that every place naming hearth's version names the same one: Cargo.toml,
# Cargo.lock, web/package.json (when there is one), the OpenAPI snapshot's info.version,
# the image tag of the test and prod overlays (newTag) and of compose.yaml and
# deploy/compose.env.example (when they name one), and the newest release heading of
# CHANGELOG.md. Prints each place and its value, and exits 1 when they disagree.
#   scripts/check-version.sh [--tag vX.Y.Z]   (--tag: the git tag must name the version too)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/version.sh
source scripts/lib/version.sh

usage() { echo "usage: scripts/check-version.sh [--tag vX.Y.Z]" >&2; }

tag=""
while (($#)); do
  case $1 in
  --tag)
    [[ $# -ge 2 ]] || { usage; exit 2; }
    tag=$2
    shift 2
    ;;
  -h | --help) usage; exit 0 ;;
  *) usage; exit 2 ;;
  esac
done

errors=()
rows=()
row() { rows+=("$(printf '  %-52s %s' "$1" "$2")"); }

if [[ ! -f Cargo.toml ]]; then
  echo "error: Cargo.toml is missing" >&2
  exit 1
fi
version=$(cargo_toml_version Cargo.toml)
if [[ -z $version ]]; then
  echo "error: Cargo.toml has no version in its [package] table" >&2
  exit 1
fi
if ! semver_valid "$version"; then
  errors+=("Cargo.toml: version \"$version\" is not a semantic version")
fi
image_tag=$(semver_image_tag "$version")
row "Cargo.toml [package] version" "$version"

if [[ ! -f Cargo.lock ]]; then
  errors+=("Cargo.lock is missing")
elif ! lock=$(cargo_lock_version Cargo.lock); then
  errors+=("Cargo.lock: no single hearth package entry")
else
  row "Cargo.lock hearth" "$lock"
  [[ $lock == "$version" ]] || errors+=("Cargo.lock: hearth is $lock, Cargo.toml says $version")
fi

if [[ -f web/package.json ]]; then
  if ! pkg=$(json_version web/package.json /version 2>/dev/null); then
    errors+=("web/package.json: no top-level \"version\" string")
  else
    row "web/package.json version" "$pkg"
    [[ $pkg == "$version" ]] || errors+=("web/package.json: version is $pkg, Cargo.toml says $version")
  fi
fi

if [[ -f $VERSION_OPENAPI ]]; then
  if ! api=$(json_version "$VERSION_OPENAPI" /info/version 2>/dev/null); then
    errors+=("$VERSION_OPENAPI: no info.version string")
  else
    row "$VERSION_OPENAPI info.version" "$api"
    [[ $api == "$version" ]] || errors+=("$VERSION_OPENAPI: info.version is $api, Cargo.toml says $version")
  fi
fi

for overlay in "${VERSION_OVERLAYS[@]}"; do
  if [[ ! -f $overlay ]]; then
    row "$overlay newTag" "(no such file)"
    errors+=("$overlay is missing")
  elif ! value=$(overlay_tag "$overlay"); then
    errors+=("$overlay: expected exactly one newTag line")
  else
    row "$overlay newTag" "$value"
    [[ $value == "$image_tag" ]] ||
      errors+=("$overlay: newTag is $value, the image tag of $version is $image_tag")
  fi
done

for file in "${VERSION_COMPOSE_FILES[@]}"; do
  [[ -f $file ]] || continue
  while IFS= read -r value; do
    row "$file image tag" "$value"
    [[ $value == "$image_tag" ]] ||
      errors+=("$file: the image tag is $value, the image tag of $version is $image_tag")
  done < <(compose_tags "$file")
done

if [[ ! -f CHANGELOG.md ]]; then
  errors+=("CHANGELOG.md is missing")
elif ! released=$(changelog_release CHANGELOG.md); then
  errors+=("CHANGELOG.md: its first section must be \"## Unreleased\"")
elif [[ -z $released ]]; then
  row "CHANGELOG.md newest release" "(none yet)"
elif ! [[ $released =~ $CHANGELOG_HEADING_RE ]]; then
  row "CHANGELOG.md newest release" "$released"
  errors+=("CHANGELOG.md: the heading \"## $released\" is not of the form \"## X.Y.Z — YYYY-MM-DD\"")
else
  released=${BASH_REMATCH[1]}
  row "CHANGELOG.md newest release" "$released"
  [[ $released == "$version" ]] ||
    errors+=("CHANGELOG.md: the newest release is $released, Cargo.toml says $version")
fi

if [[ -n $tag ]]; then
  row "git tag" "$tag"
  [[ $tag == "v$version" ]] || errors+=("git tag $tag does not name the version: expected v$version")
fi

if ((${#errors[@]})); then
  echo "error: the versions do not agree:" >&2
  printf '%s\n' "${rows[@]}" >&2
  printf 'error: %s\n' "${errors[@]}" >&2
  exit 1
fi
echo "version $version everywhere:"
printf '%s\n' "${rows[@]}"
