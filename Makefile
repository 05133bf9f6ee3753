# Sotto's build. Every target works on a fresh Debian machine after `make deps`.
SHELL := /bin/bash
GO ?= go
BIN := bin/sotto
# Reproducible: no paths, no VCS stamp, no build id; cgo off for the binary.
BUILDFLAGS := -trimpath -buildvcs=false -ldflags=-buildid=
# runtime/secret: the Go runtime erases the registers, stack and heap
# allocations of the code that handles keys and texts (internal/erase). Every
# target builds and tests with it; the code also builds without it (see
# SECURITY.md for what is then not erased). Added to any GOEXPERIMENT the
# environment sets.
comma := ,
ifeq ($(filter runtimesecret,$(subst $(comma), ,$(GOEXPERIMENT))),)
GOEXPERIMENT := $(if $(GOEXPERIMENT),$(GOEXPERIMENT)$(comma))runtimesecret
endif
export GOEXPERIMENT
FUZZTIME ?= 30s
SMOKETIME ?= 2s
BENCHTIME ?= 1s
TEST_TIMEOUT ?= 18m
DEBS := tor obfs4proxy tmux age strace gdb mat2 libimage-exiftool-perl python3-stem python3-psutil python3-yaml python3-sdnotify

.PHONY: all deps build test lint fuzz fuzz-smoke bench reproducible demo clean

all: build

## deps: install the Debian packages Sotto and its tests need (as root).
deps:
	@missing=""; for p in $(DEBS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then echo "deps: all present ($(DEBS))"; exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then \
	  echo "deps: missing:$$missing" >&2; \
	  echo "deps: run 'sudo make deps' (or: sudo apt-get install$$missing)" >&2; exit 1; \
	fi; \
	echo "deps: installing$$missing"; \
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing

## build: bin/sotto, byte-identical for one commit and toolchain.
build:
	CGO_ENABLED=0 $(GO) build $(BUILDFLAGS) -o $(BIN) ./cmd/sotto

## lint: gofmt and go vet.
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

## test: lint, every test with the race detector (integration tests run
## over a private Tor network on loopback), then a short run of every fuzz target.
test: lint
	$(GO) test -race -timeout $(TEST_TIMEOUT) ./...
	$(MAKE) --no-print-directory fuzz-smoke

## fuzz: every fuzz target for FUZZTIME each (make fuzz FUZZTIME=10m).
fuzz:
	@FUZZTIME=$(FUZZTIME) ./scripts/fuzz-all.sh

fuzz-smoke:
	@FUZZTIME=$(SMOKETIME) ./scripts/fuzz-all.sh

## bench: every speed figure beside its baseline from the same run
## (scripts/bench.sh says which): libraries, the engine over pipes, and
## end-to-end runs over the private network; also written to bench.txt.
bench:
	@GO=$(GO) BENCHTIME=$(BENCHTIME) ./scripts/bench.sh

## reproducible: build twice from clean caches and compare the hashes.
reproducible:
	@./scripts/reproducible.sh

## demo: a private Tor network on loopback and two real clients in tmux.
demo: build
	@./scripts/demo.sh

clean:
	rm -rf bin
