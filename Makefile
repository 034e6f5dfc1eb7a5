# autoresearch — build, test, demo. Every install step lives here or in scripts/.
GO      ?= go
BIN     := bin/autoresearch
VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
GOFILES := $(shell find cmd internal harness gpt programs -name '*.go' 2>/dev/null)

.PHONY: all build test vet fmt-check demo bench

all: build

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/autoresearch

# The tests need no GPU, no network and no prepared data.
test: fmt-check vet
	$(GO) test ./...

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $(GOFILES)); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

# The first thing to run on a fresh machine: prepare the smoke profile, record
# a baseline, run five experiments with the offline sweep agent, show results.
ifndef DEMO_TAG
DEMO_TAG := demo-$(shell date +%m%d-%H%M%S)
endif
demo: build
	$(BIN) prepare --profile smoke
	$(BIN) baseline --profile smoke --tag $(DEMO_TAG)
	$(BIN) run --agent sweep --max-experiments 5 --tag $(DEMO_TAG)
	@echo; cat .autoresearch/$(DEMO_TAG)/results.tsv

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
