# hearth's tasks. `make help` lists them; variables can be set on the command line
# (make deploy ENV=prod) or in the environment.

# The registry image that push publishes and deploy runs, and push's tag besides the
# commit's own (DEPLOY_TAG).
IMAGE ?= ghcr.io/hearth-web/hearth
TAG ?= dev
# The overlay (deploy/k8s/overlays/ENV) that render, deploy and secret use.
ENV ?= dev
PODMAN ?= podman
KUBECTL ?= kubectl
# The image that `make image` builds locally.
LOCAL_IMAGE ?= localhost/hearth
LOCAL_TAG ?= dev
# The commit's image tag: branch and short sha (main-abc1234); BRANCH overrides the
# checked-out branch's name.
BRANCH ?=
DEPLOY_TAG ?= $(shell BRANCH='$(BRANCH)' bash scripts/image-tag.sh)
# DRY_RUN=1: deploy and secret print what they would apply.
DRY_RUN ?=

.DEFAULT_GOAL := help
.PHONY: help build test demo image push render deploy secret bench bench-backup \
	release check-version check-workflows test-release

help: ## List the targets
	@awk 'BEGIN { FS = ":.*## " } /^[a-z-]+:.*## / { printf "  %-16s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

build: ## Build the release binary (target/release/hearth)
	cargo build --release --locked

test: ## Every check and test, as CI runs them
	bash scripts/test

demo: ## Run the demo site on http://127.0.0.1:8080 (SQLite and files under ./data)
	cargo run --release -- serve

image: ## Build the container image LOCAL_IMAGE:LOCAL_TAG (localhost/hearth:dev)
	IMAGE='$(LOCAL_IMAGE)' TAG='$(LOCAL_TAG)' PODMAN='$(PODMAN)' bash scripts/image.sh

push: ## Push the local image as IMAGE:TAG and IMAGE:DEPLOY_TAG
	$(PODMAN) tag '$(LOCAL_IMAGE):$(LOCAL_TAG)' '$(IMAGE):$(TAG)'
	$(PODMAN) tag '$(LOCAL_IMAGE):$(LOCAL_TAG)' '$(IMAGE):$(DEPLOY_TAG)'
	$(PODMAN) push '$(IMAGE):$(TAG)'
	$(PODMAN) push '$(IMAGE):$(DEPLOY_TAG)'

render: ## Print overlay ENV with the image IMAGE:DEPLOY_TAG
	@KUBECTL='$(KUBECTL)' bash scripts/deploy.sh --dry-run --image '$(IMAGE)' --tag '$(DEPLOY_TAG)' '$(ENV)'

deploy: ## Apply overlay ENV with the image IMAGE:DEPLOY_TAG (DRY_RUN=1 prints it)
	@KUBECTL='$(KUBECTL)' bash scripts/deploy.sh $(if $(DRY_RUN),--dry-run) --image '$(IMAGE)' --tag '$(DEPLOY_TAG)' '$(ENV)'

# From HEARTH_DATABASE_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
# HEARTH_WEBHOOK_SECRET, read from the environment: no value is in a command line.
secret: ## Apply the Secret "hearth" in ENV's namespace from the environment (DRY_RUN=1 prints it)
	@KUBECTL='$(KUBECTL)' bash scripts/secret.sh $(if $(DRY_RUN),--dry-run) '$(ENV)'

bench: ## Load benchmark against nginx (prints figures)
	bash bench/load.sh

bench-backup: ## Back up and restore a million rows on PostgreSQL (prints figures)
	bash bench/backup.sh

release: ## Release VERSION=X.Y.Z: the version everywhere, CHANGELOG, commit and tag vX.Y.Z
	@test -n '$(VERSION)' || { echo 'usage: make release VERSION=X.Y.Z' >&2; exit 2; }
	bash scripts/release.sh '$(VERSION)'

check-version: ## Check that Cargo.toml, Cargo.lock, the overlays and CHANGELOG name one version
	bash scripts/check-version.sh

check-workflows: ## Lint the GitHub Actions workflows (actionlint, shellcheck) and the release scripts
	bash scripts/check-workflows.sh

test-release: ## Test the release and deploy tooling (tests/release.sh, tests/make.sh)
	bash tests/release.sh
	bash tests/make.sh
