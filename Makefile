# meshlens — the two commands a newcomer needs:
#   make demo   build meshlens and run the demo (UI/console on :20001, Prometheus API on :9090)
#   make test   install what the tests need (Debian's prometheus and chromium, the UI's npm
#               packages) and run every test: Go, the UI's unit tests, the UI in Chromium

GO        ?= go
BIN       := bin/meshlens
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
SUDO      := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Test dependencies from Debian: command -> package.
TEST_DEPS := prometheus:prometheus chromium:chromium

UI        := web/ui

.PHONY: all build demo test test-deps bench-deps vet bench clean ui ui-check ui-test

all: build

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/meshlens

demo: build
	./$(BIN) demo $(ARGS)

# apt_install installs, with apt-get, the package of each command:package
# pair in $(1) whose command is missing (once per machine).
define apt_install
	@missing=""; for dep in $(1); do \
		cmd=$${dep%%:*}; pkg=$${dep##*:}; \
		command -v $$cmd >/dev/null 2>&1 || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi
endef

test-deps:
	$(call apt_install,$(TEST_DEPS))

# The benchmarks also drive the proxy with wrk.
bench-deps: $(UI)/node_modules
	$(call apt_install,$(TEST_DEPS) wrk:wrk)

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) mod tidy -diff

test: test-deps vet ui-check ui-test build
	$(GO) test -count=1 -timeout 20m ./...
	cd $(UI) && npm run e2e

bench: build bench-deps
	./bench/ingest.sh
	./bench/graph.sh
	./bench/health.sh
	./bench/ui.sh
	./bench/proxy.sh
	./bench/collect.sh

# The web console: TypeScript under web/ui/src, built into web/ui/dist
# (committed, embedded by go:embed, so `go build` needs no Node).
$(UI)/node_modules: $(UI)/package-lock.json
	cd $(UI) && npm ci --no-audit --no-fund
	@touch $@

ui: $(UI)/node_modules
	cd $(UI) && npx tsc --noEmit -p . && node build.mjs

# Fails when the committed bundle is not what the sources build.
ui-check: ui
	@git diff --quiet --exit-code -- $(UI)/dist && test -z "$$(git ls-files --others --exclude-standard $(UI)/dist)" || { \
		echo "web/ui/dist differs from what web/ui/src builds: run make ui and commit web/ui/dist"; git status --short $(UI)/dist; exit 1; }

ui-test: $(UI)/node_modules
	cd $(UI) && npm test

clean:
	rm -rf bin $(UI)/.test-out
