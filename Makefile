# Bildbote — the two commands of the README are `make run` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO      ?= go
BIN     := $(CURDIR)/bin
BUILD   := $(CURDIR)/build
# Tests see one fixed locale (their expected output is English); make run
# and build keep the user's own, so the app opens in the
# user's language (German or English, see internal/i18n.Detect).
TEST_TARGETS := test check unit e2e bench dist
$(TEST_TARGETS): export LANG := en_US.UTF-8
$(TEST_TARGETS): export LC_ALL :=
$(TEST_TARGETS): export LC_MESSAGES :=
$(TEST_TARGETS): export LANGUAGE :=
# Keep Go's own caches where they were before XDG_CACHE_HOME is moved below.
export GOCACHE := $(shell $(GO) env GOCACHE)
export GOMODCACHE := $(shell $(GO) env GOMODCACHE)
# Tests and the demo never touch the user's own settings or keyring files.
export XDG_CONFIG_HOME := $(BUILD)/xdg/config
export XDG_DATA_HOME   := $(BUILD)/xdg/data
export XDG_CACHE_HOME  := $(BUILD)/xdg/cache

VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -buildid= -X github.com/bildbote/bildbote/internal/version.Version=$(VERSION)
GOBUILD := $(GO) build -trimpath -ldflags '$(LDFLAGS)'

.PHONY: help run test build check unit e2e bench dist clean screenshots

help:
	@echo "make run    build everything and open the desktop app against a local demo portal"
	@echo "make test   the whole test suite (installs its Debian packages when missing)"
	@echo "make bench  benchmarks against the named peers (bench/)"
	@echo "make dist   installers and packages (packaging/)"
	@echo "make screenshots  every screen and error state, German and English, 1280x800 and 1024x600, in build/screenshots/"

build: ## the three binaries; only the GUI needs cgo
	@scripts/deps.sh build
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GOBUILD) -o $(BIN)/ ./cmd/bildbote-cli ./cmd/bildbote-portal
	$(GOBUILD) -buildmode=pie -o $(BIN)/ ./cmd/bildbote

run: ## the main job: build, start the demo portal, open the app
	@scripts/deps.sh run
	@$(MAKE) --no-print-directory build
	@scripts/run-demo.sh

test: ## what CI runs
	@scripts/deps.sh test
	@$(MAKE) --no-print-directory check unit build e2e

check: ## formatting, vet, staticcheck, shellcheck, and the no-cgo rule
	@out=$$(gofmt -l $$(git ls-files '*.go') 2>/dev/null); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@scripts/check-nocgo.sh
	@# staticcheck, pinned; everything but the cgo GUI main builds without cgo
	CGO_ENABLED=0 $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 \
	  $$($(GO) list ./... | grep -v '/cmd/bildbote$$')
	@# every shell script, the ones without .sh too (.shellcheckrc says what is off)
	shellcheck -x $$(git ls-files '*.sh') .ci/run packaging/linux/deb/bildbote-portal.postinst \
	  packaging/linux/deb/bildbote-portal.postrm

unit: ## every package's tests with the race detector
	mkdir -p $(XDG_CONFIG_HOME) $(XDG_DATA_HOME) $(XDG_CACHE_HOME)
	$(GO) test -race -count=1 -timeout 20m ./...

# The packaging check includes the Windows installer (cross-built, signed,
# checked statically); PACKAGE=0 make test skips that part locally.
export PACKAGE ?= 1

e2e: build ## end-to-end tests of the real binaries (scripts/e2e/*.sh)
	@for t in scripts/e2e/*.sh; do [ -e "$$t" ] || continue; echo "e2e: $$t"; BIN=$(BIN) bash "$$t"; done

# Every bench/*.sh at full size (ONLY="stow dimse" for some), each one's
# output in build/bench/NAME.log, all summary lines in build/bench/summary.md
# (scripts/bench-summary.sh); a script that fails does not stop the others,
# but make bench exits non-zero at the end. A missed target is marked
# MISSED in the table; STRICT=1 make bench fails on it as well.
ONLY ?=
bench:
	@scripts/deps.sh test
	@mkdir -p $(BUILD)/bench && rm -f $(BUILD)/bench/*.log $(BUILD)/bench/*.rc $(BUILD)/bench/summary.md
	@for b in $(if $(ONLY),$(patsubst %,bench/%.sh,$(ONLY)),bench/*.sh); do \
	  [ "$$b" = bench/lib.sh ] && continue; n=$$(basename "$$b" .sh); echo "== $$b"; \
	  rc=0; bash "$$b" 2>&1 | tee $(BUILD)/bench/$$n.log || rc=$$?; echo "$$rc" >$(BUILD)/bench/$$n.rc; \
	done
	@scripts/bench-summary.sh $(BUILD)/bench

dist:
	@scripts/deps.sh dist
	@packaging/dist.sh

clean:
	rm -rf $(BIN) $(BUILD) dist

# Fyne's software renderer draws the real screens (no X needed, the same
# pixels on every machine); the test fails when a widget is cut off or runs
# past the window. The real window under Xvfb: scripts/e2e/gui.sh.
screenshots:
	rm -rf $(BUILD)/screenshots && mkdir -p $(BUILD)/screenshots
	BILDBOTE_SCREENSHOTS=$(BUILD)/screenshots $(GO) test -count=1 -run 'TestScreenshots' ./ui/
	@echo "screenshots: $$(ls $(BUILD)/screenshots | wc -l) PNGs in $(BUILD)/screenshots"
