# Premortem: `make run` serves the app on SQLite; `make test` runs every check CI runs.
# Both install what is missing (idempotently) and nothing else.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# Cargo's target directory, wherever the user's CARGO_TARGET_DIR or cargo config puts it;
# the scripts read it from TARGET_DIR.
export TARGET_DIR := $(shell cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
# The browser bundle (wasm + JS glue + CSS + static files); server/build.rs embeds it.
export PREMORTEM_SITE_DIR := $(TARGET_DIR)/site
PKG := $(PREMORTEM_SITE_DIR)/pkg
WASM_TARGET := $(TARGET_DIR)/wasm32-unknown-unknown
# The wasm-bindgen CLI must match the library version in Cargo.lock exactly.
WASM_BINDGEN_VERSION := $(shell awk '/^name = "wasm-bindgen"$$/ { getline; gsub(/"/, "", $$3); print $$3 }' Cargo.lock)
# A current wasm-opt, pinned in scripts/binaryen/package.json (Debian's breaks hydration).
WASM_OPT := scripts/binaryen/node_modules/.bin/wasm-opt
CARGO_BIN := $(HOME)/.cargo/bin
export PATH := $(CARGO_BIN):$(PATH)

.PHONY: help run release test bench tools test-tools node-tools browser-tools site bundle server lint unit e2e contract dogfood clean-data

help:
	@echo "make run     serve Premortem at http://$${PREMORTEM_LISTEN:-127.0.0.1:3000} on SQLite (./data/), debug build"
	@echo "make release build $(TARGET_DIR)/release/premortem: one binary with the release bundle inside"
	@echo "make test    formatting, clippy (ssr + hydrate), unit/integration tests on SQLite and PostgreSQL, browser tests and the API contract (schemathesis) on the release binary"
	@echo "make bench   release binary (download size, start, memory), ingestion, dashboard and webhook benchmarks (SQLite and PostgreSQL)"

## Tools ---------------------------------------------------------------------------------

tools:
	@rustup target list --installed | grep -qx wasm32-unknown-unknown \
	  || rustup target add wasm32-unknown-unknown
	@if [[ "$$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $(WASM_BINDGEN_VERSION)" ]]; then \
	  cargo install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION) --locked; fi

test-tools:
	@cargo nextest --version >/dev/null 2>&1 || cargo install cargo-nextest --locked

# end2end's npm packages: Playwright, and the OpenID provider the integration tests sign in at.
node-tools:
	@cd end2end && { [[ node_modules/.package-lock.json -nt package-lock.json ]] || npm ci --no-audit --no-fund; }

browser-tools: node-tools
	@command -v chromium >/dev/null \
	  || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

## Build ---------------------------------------------------------------------------------

# Packs a wasm build into the site directory: JS glue, CSS and static files beside it.
define package-site
	rm -rf $(PREMORTEM_SITE_DIR)
	wasm-bindgen --target web --no-typescript --out-dir $(PKG) --out-name premortem $(1)
	cp style/main.css $(PKG)/premortem.css
	cp -R public/. $(PREMORTEM_SITE_DIR)/
endef

# The development bundle: a debug build, quick to rebuild but large (`make run`).
site: tools
	cargo build -p app --lib --target wasm32-unknown-unknown --no-default-features --features hydrate
	$(call package-site,$(WASM_TARGET)/debug/app.wasm)

# The bundle users get: built for size (profile wasm-release), then shrunk by wasm-opt.
bundle: tools
	@cd scripts/binaryen && { [[ node_modules/.package-lock.json -nt package-lock.json ]] || npm ci --no-audit --no-fund; }
	cargo build -p app --lib --target wasm32-unknown-unknown --no-default-features --features hydrate --profile wasm-release
	$(call package-site,$(WASM_TARGET)/wasm-release/app.wasm)
	$(WASM_OPT) -Oz --enable-bulk-memory --enable-mutable-globals --enable-nontrapping-float-to-int \
	  --enable-sign-ext --enable-reference-types --enable-multivalue $(PKG)/premortem_bg.wasm -o $(PKG)/premortem_bg.wasm

# One binary that serves everything: the release bundle is embedded (server/build.rs).
release: bundle
	cargo build --release -p server --bin premortem

# Built the way `cargo test` builds it (same features), so `make test` compiles the server once.
server:
	cargo test --workspace --no-run

## Run -----------------------------------------------------------------------------------

run: site
	cargo run -p server --bin premortem -- serve

## Test ----------------------------------------------------------------------------------

lint: tools
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy -p app --lib --target wasm32-unknown-unknown --no-default-features --features hydrate -- -D warnings

# Every integration test runs twice: on a fresh SQLite file and on a fresh PostgreSQL database.
# cargo-nextest also writes the JUnit report that `dogfood` uploads.
unit: tools test-tools node-tools
	scripts/python-venv.sh scripts/webhooks/requirements.txt $(TARGET_DIR)/webhooks
	source scripts/ensure-postgres.sh && source scripts/oidc-provider.sh && cargo nextest run --workspace --profile ci

# Premortem's own failure modes (change PM-1 of the demo data) must be covered by this
# repository's passing tests: uploads the JUnit report and requires the gate open.
dogfood: server
	scripts/dogfood.sh

# Against the release binary, copied alone into an empty directory: what users get is tested.
e2e: release browser-tools
	scripts/e2e.sh

# The API does what its OpenAPI document says: schemathesis, every check, on the release binary.
contract: release
	scripts/api-contract.sh

# The bundle first: the server embeds whatever bundle exists when it is built.
test: bundle lint unit e2e contract dogfood
	@echo "all checks passed"

# Benchmarks (release build; print figures and ratios, see docs/benchmarks.md).
bench: bundle
	cargo bench -p server --bench release
	cargo bench -p server --bench ingest
	source scripts/ensure-postgres.sh && cargo bench -p server --bench dashboard
	source scripts/ensure-postgres.sh && cargo bench -p server --bench webhooks

clean-data:
	rm -rf data
