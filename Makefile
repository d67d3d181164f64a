# exlab: one binary that emulates the SMTP transport of Exchange 2013-2019.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
GO      ?= go
BIN     := bin/exlab
# Root binds the real ports; anyone else gets them shifted by 10000 (25 -> 10025).
ARGS    ?= $(if $(filter 0,$(shell id -u)),,--port-offset 10000)

.PHONY: build run test bench lint fmt generate cross console-vendor release

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/exlab

# exlab on its embedded default (`exlab config default`), data in ./exlab-data.
run: build
	./$(BIN) serve $(ARGS)

test:
	$(GO) vet ./...
	$(GO) test -race -shuffle=on -timeout 20m ./...

# make bench: exlab against Postfix and smtp-sink, A/B against BASELINE (a git ref or an exlab
# binary; default the commit before HEAD, so a merge is measured against main before it;
# BASELINE= skips the A/B). BENCHFLAGS go to bench/compare, e.g. "-points main -repeat 1".
BASELINE ?= HEAD~1
bench: build
	./bench/run.sh $(if $(BASELINE),-baseline $(BASELINE)) $(BENCHFLAGS)

# The six platforms exlab ships for: each must build without cgo. The packages with
# platform-specific files (and their tests) must also vet on every OS. CI builds one platform per
# OS, covering both architectures (CROSS="linux/arm64 windows/amd64 darwin/arm64"): a platform
# costs a minute of compiling on a 2-core machine; a release runs all six.
CROSS ?= linux/amd64 linux/arm64 windows/amd64 windows/arm64 darwin/amd64 darwin/arm64
CROSSVET := ./transport ./transport/smtpreceive
cross:
	@set -e; for p in $(CROSS); do \
		echo "cross $$p"; \
		CGO_ENABLED=0 GOOS=$${p%/*} GOARCH=$${p#*/} $(GO) build -o /dev/null ./...; \
		CGO_ENABLED=0 GOOS=$${p%/*} GOARCH=$${p#*/} $(GO) vet $(CROSSVET); \
	done

# make release: the six platforms (RELEASE), static (no cgo), with paths trimmed, the version and
# the commit stamped (exlab version prints both; go build's own vcs stamp is missing in a linked
# git worktree, golang/go#58218, so the commit goes in through -ldflags too), into
# dist/exlab-VERSION-OS-ARCH[.exe] with dist/SHA256SUMS (check with: cd dist && sha256sum -c SHA256SUMS).
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null)
RELEASE ?= linux/amd64 linux/arm64 windows/amd64 windows/arm64 darwin/amd64 darwin/arm64
release:
	@set -e; rm -rf dist; mkdir -p dist; for p in $(RELEASE); do \
		os=$${p%/*}; arch=$${p#*/}; ext=; [ $$os = windows ] && ext=.exe; \
		echo "release $$p"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -buildvcs=auto \
			-ldflags "-s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)" \
			-o dist/exlab-$(VERSION)-$$os-$$arch$$ext ./cmd/exlab; \
	done
	cd dist && sha256sum exlab-* > SHA256SUMS && cat SHA256SUMS

lint:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

generate: console-vendor
	cd transport/smtpwire && $(GO) run gen_replies.go
	$(GO) run ./config/gendoc $(CURDIR)/docs/config-reference.md

# The web console's one third-party asset, uPlot, from its pinned npm package (the files are
# committed, so building needs no network; this refreshes them and checks them against
# cmd/console/assets/vendor/SHA256SUMS).
UPLOT_VERSION = 1.6.32
console-vendor:
	@tmp=$$(mktemp -d) && cd $$tmp && npm pack --silent uplot@$(UPLOT_VERSION) >/dev/null && tar xzf uplot-$(UPLOT_VERSION).tgz && \
	  cp package/dist/uPlot.iife.min.js package/dist/uPlot.min.css $(CURDIR)/cmd/console/assets/vendor/ && \
	  cp package/LICENSE $(CURDIR)/cmd/console/assets/vendor/uPlot.LICENSE && rm -rf $$tmp
	cd cmd/console/assets/vendor && grep -v '^#' SHA256SUMS | sha256sum -c --quiet
