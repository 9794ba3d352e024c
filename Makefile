# spanshipper — build, test, demo, bench.
# Everything here needs only Go; the tests build the binaries they run.

GO      ?= go
BIN     ?= bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)

CMDS := spanshipper spansink spangen spanbench spanfloor

$(BIN)/httpget: scripts/httpget/main.go
	CGO_ENABLED=0 $(GO) build -o $@ ./scripts/httpget

.PHONY: all build test vet demo bench sweep package clean

all: build

# go build is incremental, so the binaries are always rebuilt through it.
# Release builds are static (no cgo), whatever CGO_ENABLED the caller has:
# the packages and the container image ship them to hosts with any libc.
build:
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ $(addprefix ./cmd/,$(CMDS))

vet:
	$(GO) vet ./...

# All tests, with the race detector (the end-to-end tests build and run the
# real binaries as child processes). -count=1: go test's cache cannot see the
# binaries those tests build, so a cached pass could hide a broken binary.
# The race detector needs cgo and a C compiler; without one the tests still
# run, without -race, and say so.
RACE := $(shell command -v "$$($(GO) env CC)" >/dev/null 2>&1 && echo -race)
test: vet
	@[ -n "$(RACE)" ] || echo "make test: no C compiler found; running without -race"
	CGO_ENABLED=$(if $(RACE),1,0) $(GO) test $(RACE) -count=1 -timeout 14m ./...
	$(GO) vet -C e2e/podlog ./...
	$(GO) test -C e2e/podlog -count=1 ./...

# Builds everything, starts the local receiver, generates spans, ships them
# with --exit-on-eof and prints what arrived.
demo: build $(BIN)/httpget
	./scripts/demo.sh

# Throughput and footprint on 1,000,000 spans (the file is generated once and
# cached on tmpfs) against the floor measured on the same file (256 KiB reads,
# line split, utf8.Valid per line), the same with --gzip, over https (the
# transport's protocol and HTTP/1.1 forced), in CRI framing and
# with every span open while 2,000 others start, and while 20,000 do (a
# catch-up with many spans open), latency at 2,000 spans/s (spans ending at
# once, and spans lasting 2 s),
# 2,000 busy files, CPU on 200 idle files; every cost per span also as a
# ratio. BASELINE=path/to/spanshipper runs another
# build alternately with this one and prints the ratios between them.
bench: build
	$(BIN)/spanbench --bin $(BIN)/spanshipper $(if $(BASELINE),--baseline $(BASELINE)) $(BENCHFLAGS)
	$(BIN)/spanbench --bin $(BIN)/spanshipper --only throughput --null-receiver --runs 1

# Throughput and CPU per million spans against --batch-size and --concurrency:
# docs/sweep.csv and the chart docs/sweep.svg (about 2 minutes).
sweep: build
	BIN=$(BIN) ./scripts/sweep.sh

# .deb and .rpm with nfpm (installed into $(BIN) at a pinned version on first
# use): the static binary, the systemd unit, the environment file, and
# scripts that create the spanshipper user. Output in $(DIST).
NFPM_VERSION := v2.45.2
DIST    ?= dist
GOARCH  ?= $(shell $(GO) env GOARCH)
# Package versions start with a digit: v1.2.3 -> 1.2.3, v1.2.3-4-gabc -> 1.2.3+4+gabc,
# no tag -> 0.0.0~git<commit>.
PKG_VERSION ?= $(or $(shell echo '$(VERSION)' | sed -n 's/^v\{0,1\}\([0-9][0-9]*\.[0-9].*\)/\1/p' | tr - +),0.0.0~git$(COMMIT))
$(BIN)/nfpm:
	@mkdir -p $(BIN)
	GOBIN=$(abspath $(BIN)) CGO_ENABLED=0 $(GO) install github.com/goreleaser/nfpm/v2/cmd/nfpm@$(NFPM_VERSION)

package: build $(BIN)/nfpm
	@mkdir -p $(DIST)
	rm -f $(DIST)/spanshipper_*.deb $(DIST)/spanshipper-*.rpm
	@[ "$(BIN)" = bin ] || { echo "make package: nfpm.yaml takes the binary from bin/"; exit 1; }
	for p in deb rpm; do \
		VERSION=$(VERSION) PKG_VERSION=$(PKG_VERSION) GOARCH=$(GOARCH) \
			$(BIN)/nfpm package --config packaging/nfpm.yaml --packager $$p --target $(DIST)/ || exit 1; \
	done

clean:
	rm -rf $(BIN) $(DIST)
