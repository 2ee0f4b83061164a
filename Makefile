# Image URL to use all building/pushing image targets
IMG ?= jobkeeper:latest

# Get the currently used golang install path (in GOPATH/bin, unless GOBIN is set)
ifeq (,$(shell go env GOBIN))
GOBIN=$(shell go env GOPATH)/bin
else
GOBIN=$(shell go env GOBIN)
endif

# CONTAINER_TOOL defines the container tool to be used for building images.
CONTAINER_TOOL ?= docker

# Setting SHELL to bash allows bash commands to be executed by recipes.
# Options are set to exit when a recipe line exits non-zero or a piped command fails.
SHELL = /usr/bin/env bash -o pipefail
.SHELLFLAGS = -ec

.PHONY: all
all: build

##@ General

# The help target prints out all targets with their descriptions organized
# beneath their categories. The categories are represented by '##@' and the
# target descriptions by '##'.

.PHONY: help
help: ## Display this help.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: controller-gen ## Generate WebhookConfiguration, ClusterRole and CustomResourceDefinition objects.
	"$(CONTROLLER_GEN)" rbac:roleName=manager-role crd:generateEmbeddedObjectMeta=true webhook paths="./..." output:crd:artifacts:config=config/crd/bases
	go run ./hack/crd-immutable config/crd/bases/quarks.cloudfoundry.org_quarksjobs.yaml config/crd/bases/batch.cs.sap.com_reactivejobs.yaml config/crd/bases/batch.cs.sap.com_nodejobs.yaml
	go run ./hack/crd-descriptions config/crd/bases/*.yaml

.PHONY: generate
generate: controller-gen ## Generate code containing DeepCopy, DeepCopyInto, and DeepCopyObject method implementations.
	"$(CONTROLLER_GEN)" object:headerFile="hack/boilerplate.go.txt" paths="./..."

.PHONY: fmt
fmt: ## Run go fmt against code.
	go fmt ./...

.PHONY: vet
vet: ## Run go vet against code.
	go vet ./...

# E2E=0 leaves the e2e suite out of `make test`.
E2E ?= 1

.PHONY: test
test: test-unit ## Run the whole suite CI runs: unit and envtest integration tests, then the e2e suite on the local cluster (root; E2E=0 skips it).
ifneq ($(E2E),0)
	$(MAKE) test-e2e
else
	@echo "E2E=0: the e2e suite on the local cluster is left out"
endif

.PHONY: test-unit
test-unit: manifests generate fmt vet envtest helm ## Run unit and envtest integration tests.
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" HELM="$(HELM)" go test $$(go list ./... | grep -v /test/e2e) -coverprofile cover.out

.PHONY: test-e2e
test-e2e: test-e2e-cluster ## Run the e2e suite on the local cluster (root; brings it up and down unless it is up).

# K8S_COMPAT is the older Kubernetes minor test-compat runs against; hack/k8s-<minor> pins its version.
K8S_COMPAT ?= 1.29
COMPAT_DIR = $(shell K8S_MODULE=hack/k8s-$(K8S_COMPAT) hack/build-k8s.sh --print-dir)

.PHONY: test-compat
test-compat: ## Install the CRDs of config/crd/bases on the API server of K8S_COMPAT (default 1.29, built from hack/k8s-<minor> into bin/k8s/<version>) and check their validation rules.
	hack/build-k8s.sh etcd
	K8S_MODULE=hack/k8s-$(K8S_COMPAT) hack/build-k8s.sh kube-apiserver
	KUBEBUILDER_ASSETS="$(COMPAT_DIR)" TEST_ASSET_ETCD="$(ENVTEST_DIR)/etcd" K8S_COMPAT="$(K8S_COMPAT)" \
		go test -tags compat -count=1 -v ./test/compat

.PHONY: bench
bench: envtest ## Run the benchmarks on a local control plane and print the table (BENCH=B1,B6 selects, BENCH_N=100 scales; see docs/performance.md).
	$(if $(findstring B7J,$(BENCH)),hack/build-k8s.sh kube-controller-manager)
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" go run -tags bench ./test/bench

.PHONY: bench-schema
bench-schema: envtest ## Measure kube-apiserver CPU per status write of the CRDs as shipped and with schema-less embedded templates (SCHEMACOST_N=100 scales, SCHEMACOST_PROFILE=dir profiles; run it alone on the machine).
	go build -tags bench -o bin/schemacost ./test/bench/schemacost
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" bin/schemacost

.PHONY: lint
lint: golangci-lint ## Run golangci-lint linter.
	"$(GOLANGCI_LINT)" run

.PHONY: lint-fix
lint-fix: golangci-lint ## Run golangci-lint linter and perform fixes.
	"$(GOLANGCI_LINT)" run --fix

.PHONY: lint-config
lint-config: golangci-lint ## Verify golangci-lint linter configuration.
	"$(GOLANGCI_LINT)" config verify

##@ Build

# VERSION is the version the binaries report (kubectl jobkeeper version); by default git's description of the tree.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
PLUGIN_LDFLAGS = -X github.com/jobkeeper/jobkeeper/internal/plugin.version=$(VERSION)

.PHONY: build
build: manifests generate fmt vet ## Build the manager and sidecar binaries and the kubectl plugin (reporting VERSION).
	go build -o bin/manager ./cmd
	go build -o bin/output-persist ./cmd/output-persist
	go build -ldflags "$(PLUGIN_LDFLAGS)" -o bin/kubectl-jobkeeper ./cmd/kubectl-jobkeeper

.PHONY: run
run: manifests generate fmt vet envtest ## Run the manager: against $KUBECONFIG, or (as root) against the local cluster it brings up.
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" go run ./hack/run

# If you wish to build the manager image targeting other platforms you can use the --platform flag.
# (i.e. docker build --platform linux/arm64). However, you must enable docker buildKit for it.
# More info: https://docs.docker.com/develop/develop-images/build_enhancements/
.PHONY: docker-build
docker-build: ## Build docker image with the manager.
	$(CONTAINER_TOOL) build -t ${IMG} .

.PHONY: docker-push
docker-push: ## Push docker image with the manager.
	$(CONTAINER_TOOL) push ${IMG}

.PHONY: build-installer
build-installer: manifests generate kustomize ## Generate a consolidated YAML with CRDs and deployment (dist/install.yaml) for IMG.
	@mkdir -p dist && rm -rf dist/.installer && mkdir -p dist/.installer
	@printf 'resources:\n- ../../config/default\n' > dist/.installer/kustomization.yaml
	cd dist/.installer && "$(KUSTOMIZE)" edit set image jobkeeper=${IMG}
	"$(KUSTOMIZE)" build dist/.installer > dist/install.yaml
	@rm -rf dist/.installer

.PHONY: helm-chart
helm-chart: manifests kustomize ## Generate the CRDs and the RBAC, Service, certificate, webhook, monitoring and NetworkPolicy templates of the Helm chart (dist/chart) from config/.
	KUSTOMIZE="$(KUSTOMIZE)" hack/helm-chart.sh

.PHONY: helm-template
helm-template: helm-chart helm ## Lint the Helm chart (strict, against values.schema.json) and render it with its default values and with every optional object.
	"$(HELM)" lint --strict dist/chart
	"$(HELM)" template jobkeeper dist/chart --namespace jobkeeper-system >/dev/null
	"$(HELM)" template jobkeeper dist/chart --namespace jobkeeper-system --set networkPolicy.enabled=true \
		--set prometheus.serviceMonitor.enabled=true --set prometheus.rule.enabled=true \
		--set podDisruptionBudget.enabled=true --set reports.persistence.enabled=true >/dev/null

##@ Release

.PHONY: release
release: kustomize helm ## Build the release artifacts of VERSION into dist/release/VERSION/ (install.yaml, chart, OCI image, plugin archives, krew manifest, checksums); pushes nothing.
	KUSTOMIZE="$(KUSTOMIZE)" HELM="$(HELM)" hack/release.sh "$(VERSION)"

##@ Deployment

ifndef ignore-not-found
  ignore-not-found = false
endif

.PHONY: install
install: manifests kustomize kubectl ## Install CRDs into the K8s cluster specified in ~/.kube/config.
	@out="$$( "$(KUSTOMIZE)" build config/crd 2>/dev/null || true )"; \
	if [ -n "$$out" ]; then echo "$$out" | "$(KUBECTL)" apply --server-side -f -; else echo "No CRDs to install; skipping."; fi

.PHONY: uninstall
uninstall: manifests kustomize kubectl ## Uninstall CRDs from the K8s cluster specified in ~/.kube/config.
	@out="$$( "$(KUSTOMIZE)" build config/crd 2>/dev/null || true )"; \
	if [ -n "$$out" ]; then echo "$$out" | "$(KUBECTL)" delete --ignore-not-found=$(ignore-not-found) -f -; else echo "No CRDs to delete; skipping."; fi

.PHONY: deploy
deploy: manifests kustomize kubectl ## Deploy controller to the K8s cluster specified in ~/.kube/config.
	cd config/manager && "$(KUSTOMIZE)" edit set image controller=${IMG}
	"$(KUSTOMIZE)" build config/default | "$(KUBECTL)" apply --server-side -f -

.PHONY: undeploy
undeploy: kustomize kubectl ## Undeploy controller from the K8s cluster specified in ~/.kube/config.
	"$(KUSTOMIZE)" build config/default | "$(KUBECTL)" delete --ignore-not-found=$(ignore-not-found) -f -

##@ Dependencies

## Location to install dependencies to
LOCALBIN ?= $(shell pwd)/bin
$(LOCALBIN):
	mkdir -p "$(LOCALBIN)"

## Tool Binaries
KUBECTL ?= $(ENVTEST_DIR)/kubectl
KUSTOMIZE ?= $(LOCALBIN)/kustomize
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen
GOLANGCI_LINT ?= $(LOCALBIN)/golangci-lint
GINKGO ?= $(LOCALBIN)/ginkgo
HELM ?= $(LOCALBIN)/helm

## Tool Versions (every tool is built from the Go module proxy; nothing else is downloaded)
KUSTOMIZE_VERSION ?= v5.8.2
CONTROLLER_TOOLS_VERSION ?= v0.23.0
GOLANGCI_LINT_VERSION ?= v2.15.0
HELM_VERSION ?= v3.22.0
GINKGO_VERSION ?= $(shell go list -m -f "{{ .Version }}" github.com/onsi/ginkgo/v2)

## The envtest control plane (kube-apiserver, etcd, kubectl) is built from the wrapper
## modules hack/k8s and hack/etcd, which pin the versions, into bin/k8s/<version>.
ENVTEST_DIR := $(shell hack/build-k8s.sh --print-dir)
ENVTEST_ASSETS := $(ENVTEST_DIR)

.PHONY: envtest
envtest: ## Build kube-apiserver, etcd and kubectl from the Go module proxy into bin/k8s/<version> (reused when present).
	hack/build-k8s.sh etcd kube-apiserver kubectl

# kubectl is built like the control plane (hack/k8s pins its version); KUBECTL=<path> uses another one instead.
.PHONY: kubectl
kubectl: ## Build kubectl from the Go module proxy into bin/k8s/<version> unless KUBECTL names another one.
	@[ "$(KUBECTL)" != "$(ENVTEST_DIR)/kubectl" ] || hack/build-k8s.sh kubectl

.PHONY: kustomize
kustomize: $(KUSTOMIZE) ## Build kustomize locally if necessary.
$(KUSTOMIZE): $(LOCALBIN)
	$(call go-install-tool,$(KUSTOMIZE),sigs.k8s.io/kustomize/kustomize/v5,$(KUSTOMIZE_VERSION))

.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN) ## Build controller-gen locally if necessary.
$(CONTROLLER_GEN): $(LOCALBIN)
	$(call go-install-tool,$(CONTROLLER_GEN),sigs.k8s.io/controller-tools/cmd/controller-gen,$(CONTROLLER_TOOLS_VERSION))

.PHONY: golangci-lint
golangci-lint: $(GOLANGCI_LINT) ## Build golangci-lint locally if necessary.
$(GOLANGCI_LINT): $(LOCALBIN)
	$(call go-install-tool,$(GOLANGCI_LINT),github.com/golangci/golangci-lint/v2/cmd/golangci-lint,$(GOLANGCI_LINT_VERSION))

.PHONY: helm
helm: $(HELM) ## Build helm locally if necessary.
$(HELM): $(LOCALBIN)
	$(call go-install-tool,$(HELM),helm.sh/helm/v3/cmd/helm,$(HELM_VERSION))

.PHONY: ginkgo
ginkgo: $(GINKGO) ## Build the ginkgo CLI (the version in go.mod) locally if necessary.
$(GINKGO): $(LOCALBIN)
	$(call go-install-tool,$(GINKGO),github.com/onsi/ginkgo/v2/ginkgo,$(GINKGO_VERSION))

# go-install-tool will 'go install' any package with custom target and name of binary, if it doesn't exist
# $1 - target path with name of binary
# $2 - package url which can be installed
# $3 - specific version of package
define go-install-tool
@[ -f "$(1)-$(3)" ] && [ "$$(readlink -- "$(1)" 2>/dev/null)" = "$$(realpath "$(1)-$(3)")" ] || { \
set -e; \
package=$(2)@$(3) ;\
echo "Building $${package}" ;\
rm -f "$(1)" ;\
GOBIN="$(LOCALBIN)" go install $${package} ;\
mv "$(LOCALBIN)/$$(basename "$(1)")" "$(1)-$(3)" ;\
} ;\
ln -sf "$$(realpath "$(1)-$(3)")" "$(1)"
endef

include hack/cluster.mk
