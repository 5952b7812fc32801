# fleetscan — make help lists the targets.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules

GO      ?= go
MODULE  := github.com/fleetscan/fleetscan
ARCHIVE := out/fleetscan-function.zip
BIN     := bin/fleetscan
DEMO_AS_OF := 2026-11-27T12:00:00Z
DEMO_INPUTS := $(addprefix --input ,$(wildcard testdata/gcpdiag/*-container-clusters.json) testdata/demo/fleet.json)
DEMO_LOGS := --logs testdata/demo/logs.json --logs testdata/gcpdiag/gke1-logging-entries.json
DEMO_KUBE := --kube-objects testdata/demo/kube --server-config testdata/demo/serverconfig

.PHONY: help
help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

.PHONY: build
build: ## Build the CLI into bin/fleetscan
	$(GO) build -o $(BIN) ./scanner/cmd/fleetscan

.PHONY: demo
demo: build ## Scan the bundled real-format fleet, logs and kubectl dumps, print the table, write NDJSON to out/demo
	$(BIN) scan $(DEMO_INPUTS) $(DEMO_LOGS) $(DEMO_KUBE) --as-of $(DEMO_AS_OF) --scan-id demo --out-dir out/demo

.PHONY: test
test: ## Run every test with the race detector
	$(GO) test -race -count=1 ./...

.PHONY: test-short
test-short: ## The fast hermetic tier: go test -short (end-to-end tests skip)
	$(GO) test -short -count=1 ./...

.PHONY: e2e
e2e: ## End-to-end tests only: real clients against the fakes, the function built like the buildpack (also part of make test)
	$(GO) test -count=1 -v -run 'Test(Function|Live|Transient|Permission|Denied|Hostile|Empty|Cancel)' ./test/

.PHONY: run-function
run-function: ## Run the ScanFleet function locally on 127.0.0.1:8080 (see README: Run the function locally)
	FUNCTION_TARGET=ScanFleet $(GO) run ./function/local

.PHONY: lint
lint: ## gofmt, go vet, staticcheck (pinned in go.mod)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...
	@if command -v terraform >/dev/null; then echo "terraform fmt -check -recursive deploy"; terraform fmt -check -recursive deploy; else echo "terraform not installed: fmt check skipped"; fi

.PHONY: bench
bench: build ## Benchmarks (not part of make test), one JSON line per figure with its target: matcher, CEL facts, upgrade plan, BigQuery writes, a 10,000-cluster live scan per discovery mode (and by the CLI binary, output included, and on clusters the size of real ones), the function's start and size, then in-cluster checks on 1,000 typical clusters per source
	@mkdir -p out
	$(GO) build -o bin/fleetbench ./test/fleetbench
	$(GO) test -run '^$$' -bench . -benchmem -cpu 1 ./... | tee out/bench-go.txt
	bin/fleetbench -gobench out/bench-go.txt
	bin/fleetbench -mode asset-inventory
	bin/fleetbench -mode asset-inventory -cli $(BIN)
	bin/fleetbench -mode asset-inventory -realsize
	bin/fleetbench -mode container-api
	bin/fleetbench -function
	bin/fleetbench -kubernetes api -clusters 1000 -projects 200 -typical
	bin/fleetbench -kubernetes asset-inventory -clusters 1000 -projects 200 -typical

.PHONY: package
package: ## Build the function's source archive as deployed: root package, go.mod, go.sum, imported packages; no tests or testdata
	@rm -f $(ARCHIVE) && mkdir -p out
	@{ echo go.mod; echo go.sum; \
	  $(GO) list -deps -f '{{if .Module}}{{if eq .Module.Path "$(MODULE)"}}{{$$d := .Dir}}{{range .GoFiles}}{{$$d}}/{{.}}{{"\n"}}{{end}}{{range .EmbedFiles}}{{$$d}}/{{.}}{{"\n"}}{{end}}{{end}}{{end}}' . \
	    | sed "s|^$(CURDIR)/||"; } | sort -u > out/package-files.txt
	@zip -X -q $(ARCHIVE) -@ < out/package-files.txt
	@echo "$(ARCHIVE): $$(wc -l < out/package-files.txt) files"

.PHONY: deploy
deploy: package ## terraform init and apply in deploy/ with the packaged source (needs deploy/terraform.tfvars)
	cd deploy && terraform init && terraform apply -var function_source_archive=$(CURDIR)/$(ARCHIVE)

.PHONY: golden
golden: ## Regenerate golden files after checking the change
	$(GO) test ./... -update

FUZZTIME ?= 20s
# Minimizing a new input as large as the real API dumps among the seeds can
# take longer than FUZZTIME itself; bounded, each target spends its time fuzzing.
FUZZMINIMIZETIME ?= 2s

.PHONY: fuzz
fuzz: ## Run every Fuzz target in turn, FUZZTIME each (default 20s; make fuzz FUZZTIME=5s); crashers go to testdata/fuzz
	@pkgs=$$({ grep -rlE --include='*_test.go' --exclude-dir=testdata --exclude-dir=.git '^func Fuzz' . || true; } | xargs -r -n1 dirname | sort -u); \
	targets=$$([ -z "$$pkgs" ] || $(GO) test -list '^Fuzz' $$pkgs | awk '/^Fuzz/ { names[n++] = $$1; next } /^ok / { for (i = 0; i < n; i++) print $$2 ":" names[i]; n = 0 }'); \
	if [ -z "$$targets" ]; then echo "no Fuzz targets found"; exit 1; fi; \
	log=$$(mktemp); trap 'rm -f "$$log"' EXIT; count=0; \
	for t in $$targets; do \
	  pkg=$${t%:*}; name=$${t#*:}; count=$$((count + 1)); \
	  echo "== $$name ($$pkg, $(FUZZTIME))"; \
	  if ! $(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME) "$$pkg" 2>&1 | tee "$$log"; then \
	    if grep -q 'context deadline exceeded' "$$log" && ! grep -q 'Failing input written' "$$log"; then \
	      echo "$$name: go test missed its own -fuzztime deadline (a loaded machine); no failing input, not a finding"; \
	    else exit 1; fi; \
	  fi; \
	done; \
	echo "fuzz: $$count targets, $(FUZZTIME) each: no failing input"
