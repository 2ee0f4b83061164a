## Local cluster: a real single-node Kubernetes (etcd, control plane, containerd,
## kubelet, kube-proxy, CoreDNS) on this machine, built from the Go module proxy
## and Debian packages; scripts in hack/cluster, state in .state/cluster.
## Included by the Makefile. The scripts need root.

CLUSTER_STATE ?= $(CURDIR)/.state/cluster
CLUSTER_KUBECONFIG ?= $(CLUSTER_STATE)/kubeconfig/admin.kubeconfig
KWOK_NODES ?= 0
# The e2e suite brings 10 simulated nodes up with the cluster unless KWOK_NODES says otherwise.
E2E_KWOK_NODES ?= $(if $(filter 0,$(KWOK_NODES)),10,$(KWOK_NODES))
E2E_TIMEOUT ?= 60m

##@ Local cluster

.PHONY: cluster-up
cluster-up: ## Bring the local cluster up (KWOK_NODES=N adds simulated nodes); prints the kubeconfig path.
	CLUSTER_STATE="$(CLUSTER_STATE)" KWOK_NODES="$(KWOK_NODES)" hack/cluster/up.sh

.PHONY: cluster-down
cluster-down: ## Stop the local cluster and restore the host (WIPE=1 also deletes .state/cluster).
	CLUSTER_STATE="$(CLUSTER_STATE)" hack/cluster/down.sh $(if $(filter 1 true yes,$(WIPE)),--wipe)

.PHONY: images
images: ## Build the cluster's images and the operator image (IMG) without a container engine.
	CLUSTER_STATE="$(CLUSTER_STATE)" IMG="$(IMG)" hack/cluster/images.sh all

.PHONY: cluster-deploy
cluster-deploy: manifests kustomize ## Install cert-manager and the operator (image IMG) on the local cluster.
	CLUSTER_STATE="$(CLUSTER_STATE)" IMG="$(IMG)" hack/cluster/deploy.sh

.PHONY: test-e2e-cluster
test-e2e-cluster: manifests generate fmt vet kustomize envtest ## Run the e2e suite on the local cluster (up if needed, deploy, scenarios, down).
	CLUSTER_STATE="$(CLUSTER_STATE)" IMG="$(IMG)" KWOK_NODES="$(E2E_KWOK_NODES)" \
		go test -tags=e2e ./test/e2e/ -v -ginkgo.v -timeout $(E2E_TIMEOUT)

.PHONY: cluster-snapshot
cluster-snapshot: ## Print the host state the local cluster touches (diff it before `cluster-up` and after `cluster-down`).
	@CLUSTER_STATE="$(CLUSTER_STATE)" hack/cluster/host-snapshot.sh
