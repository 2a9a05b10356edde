# shellcheck shell=bash
# hearth's version: Semantic Versioning 2.0.0 (https://semver.org) validation and
# precedence, and readers of the files that name the version. Sourced by
# scripts/release.sh and scripts/check-version.sh, from the repository's root.

# The grammar of semver.org, as a POSIX extended regular expression.
SEMVER_NUM='(0|[1-9][0-9]*)'
SEMVER_PRE_ID='(0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)'
SEMVER_RE="^${SEMVER_NUM}\\.${SEMVER_NUM}\\.${SEMVER_NUM}(-${SEMVER_PRE_ID}(\\.${SEMVER_PRE_ID})*)?(\\+[0-9A-Za-z-]+(\\.[0-9A-Za-z-]+)*)?\$"

# semver_valid VERSION: succeeds when VERSION is a semantic version (no leading "v").
semver_valid() {
  [[ $1 =~ $SEMVER_RE ]]
}

# semver_image_tag VERSION: the container image tag of a version, which is the version
# without its build metadata ("+" is not allowed in a tag; two releases never differ
# only by build metadata, since they would have the same precedence).
semver_image_tag() {
  printf '%s\n' "${1%%+*}"
}

# _semver_num_cmp A B: compares two decimal numbers of any length; prints -1, 0 or 1.
_semver_num_cmp() {
  local a=$1 b=$2 LC_ALL=C
  if ((${#a} != ${#b})); then
    if ((${#a} < ${#b})); then echo -1; else echo 1; fi
  elif [[ $a == "$b" ]]; then
    echo 0
  elif [[ $a < $b ]]; then
    echo -1
  else
    echo 1
  fi
}

# semver_cmp A B: prints -1, 0 or 1 as A's precedence is lower than, equal to or higher
# than B's (build metadata is ignored). Both must be valid.
semver_cmp() {
  local LC_ALL=C # identifiers compare in ASCII order
  local a=${1%%+*} b=${2%%+*}
  local a_core=${a%%-*} b_core=${b%%-*} a_pre="" b_pre=""
  [[ $a == *-* ]] && a_pre=${a#*-}
  [[ $b == *-* ]] && b_pre=${b#*-}

  local -a ac bc
  IFS=. read -r -a ac <<<"$a_core"
  IFS=. read -r -a bc <<<"$b_core"
  local i c
  for i in 0 1 2; do
    c=$(_semver_num_cmp "${ac[i]}" "${bc[i]}")
    if [[ $c != 0 ]]; then
      echo "$c"
      return
    fi
  done

  # A pre-release has lower precedence than its normal version.
  if [[ -z $a_pre && -z $b_pre ]]; then echo 0; return; fi
  if [[ -z $a_pre ]]; then echo 1; return; fi
  if [[ -z $b_pre ]]; then echo -1; return; fi

  local -a ap bp
  IFS=. read -r -a ap <<<"$a_pre"
  IFS=. read -r -a bp <<<"$b_pre"
  local x y n=${#ap[@]}
  ((${#bp[@]} < n)) && n=${#bp[@]}
  for ((i = 0; i < n; i++)); do
    x=${ap[i]} y=${bp[i]}
    if [[ $x =~ ^[0-9]+$ && $y =~ ^[0-9]+$ ]]; then
      c=$(_semver_num_cmp "$x" "$y")
    elif [[ $x =~ ^[0-9]+$ ]]; then
      c=-1 # numeric identifiers are lower than alphanumeric ones
    elif [[ $y =~ ^[0-9]+$ ]]; then
      c=1
    elif [[ $x == "$y" ]]; then
      c=0
    elif [[ $x < $y ]]; then
      c=-1
    else
      c=1
    fi
    if [[ $c != 0 ]]; then
      echo "$c"
      return
    fi
  done
  # All shared identifiers equal: the longer set is higher.
  if ((${#ap[@]} < ${#bp[@]})); then
    echo -1
  elif ((${#ap[@]} > ${#bp[@]})); then
    echo 1
  else
    echo 0
  fi
}

# The overlays whose image tag (newTag) is the release's.
# shellcheck disable=SC2034 # used by the scripts that source this file
VERSION_OVERLAYS=(deploy/k8s/overlays/test/kustomization.yaml deploy/k8s/overlays/prod/kustomization.yaml)
# The image that compose files run by default, and the files that name its tag.
VERSION_IMAGE=ghcr.io/hearth-web/hearth
# shellcheck disable=SC2034 # used by the scripts that source this file
VERSION_COMPOSE_FILES=(compose.yaml deploy/compose.env.example)
# The API document's snapshot, whose info.version is the crate's version.
# shellcheck disable=SC2034 # used by the scripts that source this file
VERSION_OPENAPI=tests/snapshots/openapi.json

# cargo_toml_version FILE: the version of the [package] table.
cargo_toml_version() {
  awk '
    /^[[:space:]]*\[/ { in_package = ($0 ~ /^[[:space:]]*\[package\][[:space:]]*(#.*)?$/) }
    in_package && /^[[:space:]]*version[[:space:]]*=/ {
      line = $0
      sub(/^[^=]*=[[:space:]]*"/, "", line)
      sub(/".*$/, "", line)
      print line
      exit
    }' "$1"
}

# cargo_lock_version FILE: the version of the hearth package; fails unless there is one.
cargo_lock_version() {
  awk '
    /^\[\[package\]\]/ { is_hearth = 0; next }
    /^name = "hearth"$/ { is_hearth = 1; count++; next }
    is_hearth && /^version = "/ {
      line = $0
      sub(/^version = "/, "", line)
      sub(/".*$/, "", line)
      print line
      is_hearth = 0
    }
    END { if (count != 1) exit 1 }' "$1"
}

# json_version FILE POINTER: the string at a JSON Pointer (/version, /info/version).
json_version() {
  python3 scripts/lib/json_version.py get "$1" "$2"
}

# overlay_tag FILE: the value of the file's one newTag line; fails unless there is one.
overlay_tag() {
  awk '
    /^[[:space:]]*newTag:/ {
      count++
      line = $0
      sub(/^[[:space:]]*newTag:[[:space:]]*/, "", line)
      sub(/[[:space:]]+#.*$/, "", line)
      sub(/[[:space:]]+$/, "", line)
      if (line ~ /^".*"$/ || line ~ /^'\''.*'\''$/) line = substr(line, 2, length(line) - 2)
      value = line
    }
    END { if (count != 1) exit 1; print value }' "$1"
}

# changelog_release FILE: the newest release heading ("## X.Y.Z — YYYY-MM-DD") without
# its "## ", or nothing before the first release. Fails unless "## Unreleased" comes first.
changelog_release() {
  awk '
    /^## / {
      if (!seen_unreleased) {
        if ($0 ~ /^## Unreleased[[:space:]]*$/) { seen_unreleased = 1; next }
        bad = 1; exit
      }
      print substr($0, 4)
      exit
    }
    END { if (bad || !seen_unreleased) exit 1 }' "$1"
}

# The form of a release heading after "## ".
# shellcheck disable=SC2034 # used by the scripts that source this file
CHANGELOG_HEADING_RE='^([^ ]+) — ([0-9]{4}-[0-9]{2}-[0-9]{2})$'

# compose_tags FILE: the tag of each mention of hearth's image (VERSION_IMAGE:TAG, or
# the default of VERSION_IMAGE:${VARIABLE:-TAG}), and of HEARTH_VERSION=TAG lines.
compose_tags() {
  grep -oE "${VERSION_IMAGE//./\\.}:(\\\$\\{[A-Za-z_][A-Za-z0-9_]*:-)?[A-Za-z0-9_][A-Za-z0-9_.-]*" "$1" |
    sed -E 's/^[^:]*:(\$\{[A-Za-z0-9_]+:-)?//' || true
  sed -nE 's/^HEARTH_VERSION=([^[:space:]#]*).*/\1/p' "$1"
}
