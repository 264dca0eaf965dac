# Run `make` (or `make help`) for the list of targets.

GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
IMAGE    ?= meeboter
FUZZTIME ?= 30s

# golangci-lint is built from the version pinned in hack/tools, so every
# machine lints with the same one.
GOLANGCI_LINT := bin/golangci-lint
# versitygw is the real S3 server that tests and `make run` start (package
# hack/devenv/s3server); it is pinned in hack/tools too and built here once, so
# parallel test binaries do not each try to build it.
VERSITYGW := bin/versitygw
# kube-apiserver and etcd are the real control plane the Kubernetes
# platform's tests run against (hack/devenv/kubecluster), pinned in
# hack/kubetools: about 6 minutes to build from an empty build cache, once.
KUBE_APISERVER := bin/kube-apiserver
ETCD := bin/etcd

.DEFAULT_GOAL := help
.PHONY: help build run demo-coolify test test-short lint tidy fuzz bench chaos docker

help: ## Show this help
	@awk 'BEGIN { FS = ":.*## " } /^[a-zA-Z0-9_-]+:.*## / { printf "  %-12s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

build: ## Build all commands into bin/
	$(GO) build -o bin/ ./cmd/...

run: $(VERSITYGW) ## Run controller + API on the local platform, with a dev Postgres under .dev/ (env passes through)
	$(GO) build -o bin/devrun ./hack/devrun
	bin/devrun $(ARGS)

demo-coolify: $(VERSITYGW) ## Like run, but the controller deploys to a Coolify simulator whose containers are simulated bots (pool slots)
	$(GO) build -o bin/devrun ./hack/devrun
	bin/devrun --coolify-sim $(ARGS)

test: $(VERSITYGW) $(KUBE_APISERVER) $(ETCD) ## Run all tests with the race detector
	$(GO) test -race -count=1 -timeout 20m ./...

test-short: ## Run the tests in short mode, without the race detector
	$(GO) test -short -count=1 ./...

lint: $(GOLANGCI_LINT) ## Run golangci-lint (builds it into bin/ first if needed)
	$(GOLANGCI_LINT) run ./...

# Rebuilt whenever the pin moves; -C keeps a relative $(GO) working.
$(GOLANGCI_LINT): hack/tools/go.mod hack/tools/go.sum
	$(GO) -C hack/tools build -o $(CURDIR)/$(GOLANGCI_LINT) github.com/golangci/golangci-lint/v2/cmd/golangci-lint

$(VERSITYGW): hack/tools/go.mod hack/tools/go.sum
	$(GO) -C hack/tools build -o $(CURDIR)/$(VERSITYGW) github.com/versity/versitygw/cmd/versitygw

$(KUBE_APISERVER): hack/kubetools/go.mod hack/kubetools/go.sum
	$(GO) -C hack/kubetools build -o $(CURDIR)/$(KUBE_APISERVER) k8s.io/kubernetes/cmd/kube-apiserver

$(ETCD): hack/kubetools/go.mod hack/kubetools/go.sum hack/kubetools/etcd/main.go
	$(GO) -C hack/kubetools build -o $(CURDIR)/$(ETCD) ./etcd

tidy: ## Tidy go.mod/go.sum of the main and the tools modules
	$(GO) mod tidy
	$(GO) -C hack/tools mod tidy
	$(GO) -C hack/kubetools mod tidy

fuzz: ## Run each fuzz target for FUZZTIME (default 30s)
	$(GO) test -run='^$$' -fuzz='^FuzzParseMeetingURL$$' -fuzztime=$(FUZZTIME) ./pkg/meeting
	$(GO) test -run='^$$' -fuzz='^FuzzDecodeCreateBot$$' -fuzztime=$(FUZZTIME) ./pkg/api

bench: $(VERSITYGW) $(KUBE_APISERVER) $(ETCD) ## Load benchmark (~6 min): BOTS (1,000) bots on the ECS simulator, a 500 MB upload, the API against raw Postgres, a Coolify warm pool, 200 bots on a real kube-apiserver; SCHEDULED=1 adds the scheduled scenario (~4 min more); prints and writes bench.json
	$(GO) run ./hack/bench --bots $${BOTS:-1000} --scheduled=$${SCHEDULED:-0} --out bench.json

chaos: $(VERSITYGW) ## Chaos run: 3 replicas, >= 1,000 bots, replica kills, a Postgres restart, platform faults (~9 min); checks the invariants, writes chaos.json (ARGS=--short for the 2-min mode)
	$(GO) run ./hack/chaos --out chaos.json $(ARGS)

docker: ## Build the container image (IMAGE=meeboter, tagged with VERSION)
	docker build --build-arg VERSION=$(VERSION) -t $(IMAGE):$(VERSION) .
