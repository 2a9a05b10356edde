#!/usr/bin/env bash
# Tests the Makefile's targets without a cluster or a registry: every target's commands
# (make -n), the image tag of the commit, `make render`/`deploy` of each overlay with that
# tag and without changing a committed file, `make secret` without its values showing in
# make's output or in any command's arguments, and the apply commands (through a kubectl
# stand-in that records them). Prints an "ok" line per check; stops at the first failure.
#   bash tests/make.sh
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=tests/lib.sh
source tests/lib.sh
# refuses MESSAGE COMMAND...: COMMAND must fail and print MESSAGE.
refuses() {
  local message=$1 status=0
  shift
  "$@" >"$out" 2>&1 || status=$?
  [[ $status != 0 ]] || fail "$* succeeded"
  grep -qF -- "$message" "$out" || fail "$* did not say \"$message\""
}

unset HEARTH_DATABASE_URL AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY HEARTH_WEBHOOK_SECRET \
  IMAGE TAG ENV BRANCH DEPLOY_TAG DRY_RUN KUBECTL NAMESPACE
export MAKEFLAGS=--no-print-directory
sha=$(git rev-parse --short=7 HEAD)
overlays=$(find deploy/k8s/overlays -mindepth 2 -maxdepth 2 -name kustomization.yaml 2>/dev/null |
  awk -F/ '{ print $(NF - 1) }' | sort)
[[ -n $overlays ]] || fail "there is no overlay under deploy/k8s/overlays"
# What render and deploy must leave as it is.
fingerprint() { git status --porcelain --untracked-files=all -- deploy; find deploy -type f -exec cksum {} + | sort; }
before=$(fingerprint)

# Each target in .PHONY has a help line, and its commands print with make -n.
targets=$(sed -n '/^\.PHONY:/,/[^\\]$/p' Makefile | sed -e 's/^\.PHONY://' -e 's/\\//' | tr -s ' \t' '\n' | sed '/^$/d')
make help >"$out" 2>&1 || fail "make help failed"
for target in $targets; do
  grep -q "^  $target " "$out" || fail "make help does not list $target"
done
ok "make help lists every target ($(wc -w <<<"$targets"))"
for target in $targets; do
  make -n "$target" VERSION=1.2.3 ENV=prod >"$out" 2>&1 || fail "make -n $target failed"
  [[ -s $out ]] || fail "make -n $target printed nothing"
done
ok "make -n prints the commands of every target"
refuses "usage: make release VERSION=X.Y.Z" make release
ok "make release without VERSION refuses"

# The commit's tag: branch and short sha, made a valid image tag.
make -n push BRANCH='feature/Fancy thing' >"$out" 2>&1 || fail "make -n push failed"
grep -qxF "podman push 'ghcr.io/hearth-web/hearth:feature-Fancy-thing-$sha'" "$out" ||
  fail "make push does not push ghcr.io/hearth-web/hearth:feature-Fancy-thing-$sha"
grep -qxF "podman push 'ghcr.io/hearth-web/hearth:dev'" "$out" || fail "make push does not push IMAGE:TAG"
ok "make push pushes IMAGE:TAG and IMAGE:<branch>-<sha> (feature-Fancy-thing-$sha)"
make -n image PODMAN=docker >"$out" 2>&1 || fail "make -n image failed"
grep -qF "IMAGE='localhost/hearth' TAG='dev' PODMAN='docker' bash scripts/image.sh" "$out" ||
  fail "make image does not run scripts/image.sh for localhost/hearth:dev"
ok "make image runs scripts/image.sh for localhost/hearth:dev, with PODMAN passed on"

# migrate_jobs FILE: the names of the migration Jobs in FILE.
migrate_jobs() {
  awk '/^---/ { kind = "" } /^kind: / { kind = $2 } kind == "Job" && /^  name: hearth-migrate/ { print $2 }' "$1"
}
# hearth_images FILE: the image of every container whose image name ends in hearth.
hearth_images() {
  sed -n 's/^[[:space:]-]*image:[[:space:]]*//p' "$1" | tr -d "\"'" | grep -E '(^|/)hearth([:@]|$)' | sort -u
}

for env in $overlays; do
  make render ENV="$env" BRANCH=release/2.x >"$out" 2>&1 || fail "make render ENV=$env failed"
  cp "$out" "$work/render-$env.yaml"
  images=$(hearth_images "$out")
  [[ $images == "ghcr.io/hearth-web/hearth:release-2.x-$sha" ]] ||
    fail "make render ENV=$env gives hearth the images: $(paste -sd ' ' - <<<"$images")"
  grep -q '^kind: Deployment$' "$out" || fail "make render ENV=$env has no Deployment"
  ok "make render ENV=$env: every hearth container runs ghcr.io/hearth-web/hearth:release-2.x-$sha"
  # The overlays name the migration Job after the image tag (deploy/k8s/base/migrate-job.yaml).
  [[ $(migrate_jobs "$out") == "hearth-migrate-release-2.x-$sha" ]] ||
    fail "make render ENV=$env: the Jobs are \"$(migrate_jobs "$out")\", expected hearth-migrate-release-2.x-$sha"
  ok "make render ENV=$env: the migration Job is hearth-migrate-release-2.x-$sha"

  make deploy ENV="$env" BRANCH=release/2.x DRY_RUN=1 >"$out" 2>&1 || fail "make deploy ENV=$env DRY_RUN=1 failed"
  cmp -s "$out" "$work/render-$env.yaml" || fail "make deploy ENV=$env DRY_RUN=1 differs from make render"
  ok "make deploy ENV=$env DRY_RUN=1 prints what make render does"
done
make render ENV=prod IMAGE=registry.example:5000/me/hearth DEPLOY_TAG=v1 >"$out" 2>&1 || fail "make render with IMAGE and DEPLOY_TAG failed"
[[ $(hearth_images "$out") == "registry.example:5000/me/hearth:v1" ]] || fail "IMAGE and DEPLOY_TAG are not the rendered image"
ok "IMAGE and DEPLOY_TAG set the rendered image"
make render ENV=prod BRANCH=Feature/A_Branch_Name_Long_Enough_To_Exceed_A_Job_Name..x >"$out" 2>&1 ||
  fail "make render with a long branch name failed"
job=$(migrate_jobs "$out")
[[ ${#job} -le 63 && $job =~ ^hearth-migrate-[a-z0-9]([-a-z0-9.]*[a-z0-9])?$ && $job == *-"$sha" ]] ||
  fail "the Job name \"$job\" of a long branch is not a valid Job name ending with the commit"
ok "a long branch name still gives a valid Job name ending with the commit ($job)"
refuses "no overlay deploy/k8s/overlays/nosuch/kustomization.yaml (ENV is one of: $(paste -sd ' ' - <<<"$overlays"))" \
  make render ENV=nosuch
ok "make render refuses an unknown ENV, naming the overlays"
refuses '"-bad/tag" is not a valid image tag' make render ENV=prod DEPLOY_TAG=-bad/tag
ok "make render refuses an invalid image tag"
[[ $(fingerprint) == "$before" ]] || fail "render or deploy changed files under deploy/"
ok "render and deploy leave deploy/ unchanged"

# A kubectl stand-in: kustomize and create run the real kubectl; apply records its
# arguments and input. Every call's arguments are logged.
real_kubectl=$(command -v kubectl) || fail "kubectl is not installed"
cat >"$work/kubectl" <<EOF
#!/usr/bin/env bash
set -euo pipefail
printf '%s\n' "\$*" >>"$work/argv.log"
if [[ \$1 == apply ]]; then
  printf '%s\n' "\$*" >"$work/apply.args"
  file=-
  while ((\$#)); do
    if [[ \$1 == -f ]]; then file=\$2; fi
    shift
  done
  if [[ \$file == - ]]; then cat >"$work/apply.yaml"; else cp "\$file" "$work/apply.yaml"; fi
  exit 0
fi
exec "$real_kubectl" "\$@"
EOF
chmod +x "$work/kubectl"

make deploy ENV=prod BRANCH=release/2.x KUBECTL="$work/kubectl" >"$out" 2>&1 || fail "make deploy ENV=prod failed"
[[ $(cat "$work/apply.args") == apply\ -f\ * ]] || fail "make deploy ran kubectl $(cat "$work/apply.args")"
cmp -s "$work/apply.yaml" "$work/render-prod.yaml" || fail "make deploy applied other manifests than make render prints"
ok "make deploy ENV=prod applies the rendered manifests (kubectl apply -f)"

# The Secret, from the environment only.
db_url='postgres://hearth:Db-Pa55-xyzzy@db.internal/hearth'
aws_secret='Aws-Secret-xyzzy/With+Signs='
webhook='Hook-Secret-xyzzy'
no_secret_in() { # no_secret_in FILE WHAT
  local s
  for s in "$db_url" "$aws_secret" "$webhook"; do
    if grep -qF -- "$s" "$1"; then fail "$2 shows a secret value"; fi
  done
}
refuses "none of HEARTH_DATABASE_URL AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY HEARTH_WEBHOOK_SECRET is set" \
  make secret ENV=prod
ok "make secret refuses when no value is set"

export HEARTH_DATABASE_URL=$db_url AWS_SECRET_ACCESS_KEY=$aws_secret HEARTH_WEBHOOK_SECRET=$webhook
make -n secret ENV=prod >"$out" 2>&1 || fail "make -n secret failed"
no_secret_in "$out" "make -n secret"
ok "make -n secret shows no value"
make secret ENV=prod DRY_RUN=1 >"$out" 2>&1 || fail "make secret DRY_RUN=1 failed"
cp "$out" "$work/secret.yaml"
no_secret_in "$out" "make secret DRY_RUN=1"
ok "make secret DRY_RUN=1 shows no value in clear"
for line in 'kind: Secret' '  name: hearth' 'type: Opaque'; do
  grep -qx "$line" "$out" || fail "make secret DRY_RUN=1 does not print a Secret named hearth of type Opaque"
done
keys=$(awk '/^data:/ { d = 1; next } /^[^ ]/ { d = 0 } d { sub(/^ +/, ""); sub(/:.*/, ""); print }' "$out" | paste -sd ' ' -)
[[ $keys == "AWS_SECRET_ACCESS_KEY HEARTH_DATABASE_URL HEARTH_WEBHOOK_SECRET" ]] ||
  fail "the Secret has the keys \"$keys\", expected the three that are set"
ok "the Secret hearth (Opaque) has exactly the keys that are set"
value() { sed -n "s/^  $1: //p" "$out" | base64 -d; }
[[ $(value HEARTH_DATABASE_URL) == "$db_url" && $(value AWS_SECRET_ACCESS_KEY) == "$aws_secret" &&
  $(value HEARTH_WEBHOOK_SECRET) == "$webhook" ]] || fail "the Secret's values are not the environment's"
ok "the Secret's values are the environment's, byte for byte"
deployment_ns=$(awk '/^---$/ { d = 0 } /^kind: Deployment$/ { d = 1 } d && /^  namespace: / { print $2; exit }' "$work/render-prod.yaml")
secret_ns=$(sed -n 's/^  namespace: //p' "$out")
[[ $secret_ns == "$deployment_ns" ]] || fail "the Secret is in namespace \"$secret_ns\", the prod Deployment in \"$deployment_ns\""
ok "the Secret goes to the prod Deployment's namespace (${secret_ns:-none})"

: >"$work/argv.log"
make secret ENV=prod KUBECTL="$work/kubectl" >"$out" 2>&1 || fail "make secret ENV=prod failed"
no_secret_in "$out" "make secret"
[[ $(cat "$work/apply.args") == "apply --server-side --force-conflicts --field-manager=hearth-make -f -" ]] ||
  fail "make secret ran kubectl $(cat "$work/apply.args")"
cmp -s "$work/apply.yaml" "$work/secret.yaml" || fail "make secret applied another Secret than DRY_RUN=1 prints"
no_secret_in "$work/argv.log" "a kubectl command line"
ok "make secret applies the Secret server-side, and no command line holds a value"

echo "Makefile: all $checks checks passed"
