# runxen: `make` builds everything into bin/, `make test` runs every test (unit and Xen lab),
# `make demo` boots the lab and runs a Xen PV guest. `make help` lists the targets.

SHELL := /bin/bash
GO ?= go
export PATH := $(PATH):/usr/local/go/bin
RUNXEN_CACHE ?= $(HOME)/.cache/runxen
export RUNXEN_CACHE
# BIN is where binaries and guest images go, and what the lab ships into dom0.
BIN ?= $(CURDIR)/bin
export RUNXEN_BIN_DIR := $(BIN)
GUEST_KERNEL_DIR := $(RUNXEN_CACHE)/guest-kernel
TOOLS := $(CURDIR)/.tools
STATICCHECK_VERSION := v0.8.2
PROTOC_GEN_GO_VERSION := v1.36.12
PROTOC_GEN_GO_TTRPC_VERSION := v1.2.10
PROTOS := guest-agent/api/v1/agent.proto
LAB_TIMEOUT ?= 45m
# make install: binaries to $(DESTDIR)$(PREFIX)/bin, guest images and config to fixed system paths.
PREFIX ?= /usr/local
DESTDIR ?=

# Everything under cmd/ is static: guest binaries must run in an initramfs with no libc, and
# host binaries then run on any dom0 distribution.
GOBUILD := CGO_ENABLED=0 $(GO) build -trimpath

.PHONY: generate check-generated all binaries guest dom0-tests bench test unit lab-test vet lint demo lab-shell lab-clean host-deps install clean help

all: binaries guest dom0-tests ## build every binary into bin/ and the guest images into bin/guest/

binaries: ## build the Go binaries under cmd/ into bin/
	@mkdir -p $(BIN)
	$(GOBUILD) -o $(BIN)/ ./cmd/...

guest: binaries ## build the guest kernel and initramfs images into bin/guest/
	@mkdir -p $(BIN)/guest
	$(BIN)/runxen-mkguest kernel --cache $(RUNXEN_CACHE) --out $(GUEST_KERNEL_DIR)
	cp $(GUEST_KERNEL_DIR)/vmlinuz $(BIN)/guest/vmlinuz
	$(BIN)/runxen-mkguest initramfs --init $(BIN)/runxen-hello --modules-dir $(GUEST_KERNEL_DIR)/modules --out $(BIN)/guest/hello.initramfs
	$(BIN)/runxen-mkguest agent-initramfs --agent $(BIN)/runxen-agent --cache $(RUNXEN_CACHE) --modules-dir $(GUEST_KERNEL_DIR)/modules --out $(BIN)/guest/agent.initramfs
	$(BIN)/runxen-mkguest agent-initramfs --agent $(BIN)/runxen-agent --cache $(RUNXEN_CACHE) --modules-dir $(GUEST_KERNEL_DIR)/modules --test-extras --out $(BIN)/guest/agent-test.initramfs

# The tests that must run inside the lab's dom0 (real Xen devices) are compiled here and shipped
# into dom0 with the rest of $(BIN); tests/e2e runs them there.
dom0-tests:
	@mkdir -p $(BIN)/tests
	CGO_ENABLED=0 $(GO) test -c -tags dom0 -o $(BIN)/tests/dom0.test ./tests/dom0

test: unit vet lab-test ## run every test: unit tests, go vet, then the end-to-end tests in the Xen lab

unit: ## unit tests (no root, no lab)
	$(GO) test -count=1 ./...

vet:
	$(GO) vet ./...
	$(GO) vet -tags lab ./tests/...
	$(GO) vet -tags dom0 ./tests/dom0/...

lab-test: host-deps all ## end-to-end tests in the Xen lab (boots Xen under QEMU)
	$(GO) test -tags lab -count=1 -v -p 1 -timeout $(LAB_TIMEOUT) ./tests/e2e/...

bench: host-deps all ## benchmarks: in-process Go benchmarks, then the lab's (vchan vs libxenvchan, dom0 <-> guest)
	$(GO) test -run '^$$' -bench . -benchmem ./runtime/... ./guest-agent/...
	$(GO) test -tags lab -count=1 -v -p 1 -timeout $(LAB_TIMEOUT) -run 'Bench|Interop' ./tests/e2e/...

lint: vet ## go vet and staticcheck
	@test -x $(TOOLS)/staticcheck || GOBIN=$(TOOLS) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	$(TOOLS)/staticcheck ./...
	$(TOOLS)/staticcheck -tags lab ./tests/...
	$(TOOLS)/staticcheck -tags dom0 ./tests/dom0/...

demo: host-deps all ## boot the lab and show a Xen PV guest running runxen code
	$(GO) run ./tests/lab/cmd/runxen-lab demo

lab-shell: host-deps all ## boot the lab and open an interactive dom0 shell
	$(GO) run ./tests/lab/cmd/runxen-lab shell

lab-clean: ## remove the lab cache (images, tools, guest kernel)
	$(GO) run ./tests/lab/cmd/runxen-lab clean

host-deps: ## install what the lab needs on the host (QEMU, debootstrap, ...) if missing
	@scripts/host-deps.sh

generate: ## regenerate the committed protobuf/ttrpc code (needs protoc: apt-get install protobuf-compiler)
	@test -x $(TOOLS)/protoc-gen-go || GOBIN=$(TOOLS) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	@test -x $(TOOLS)/protoc-gen-go-ttrpc || GOBIN=$(TOOLS) $(GO) install github.com/containerd/ttrpc/cmd/protoc-gen-go-ttrpc@$(PROTOC_GEN_GO_TTRPC_VERSION)
	PATH=$(TOOLS):$$PATH protoc -I. -I/usr/include --go_out=paths=source_relative:. \
		--go-ttrpc_out=paths=source_relative:. $(PROTOS)

check-generated: generate ## fail if the committed generated code is stale
	git diff --exit-code -- $(dir $(PROTOS))

install: ## install the shim, runxen, guest images and example config (PREFIX=/usr/local, DESTDIR); run make all first
	PREFIX='$(PREFIX)' DESTDIR='$(DESTDIR)' BIN='$(BIN)' scripts/install.sh

clean: ## remove build output
	rm -rf $(BIN)

help:
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'
