#!/usr/bin/env bash
# Runs every test: formatting, lints, native unit+integration tests, the same runtime tests
# on wasm32 in headless Chromium, the npm package (its wasm built here) in Node.js and in
# headless Chromium against a real lineage-node, and end-to-end CLI and js-client interop tests.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/env.sh"
cd "$ROOT"
bash scripts/setup.sh

step() { printf '\n==> %s\n' "$*"; }
start=$(date +%s)
LOG="$(mktemp)"
trap 'rm -f "$LOG"' EXIT
# Runs a test command, keeping its output for the final count.
counted() { "$@" 2>&1 | tee -a "$LOG"; return "${PIPESTATUS[0]}"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (native, all targets) -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo clippy (wasm32 crates: marine, particle, peer, metadata, web-marine; then net and web, whose peer has no marine) -D warnings"
cargo clippy -p lineage-marine -p lineage-particle -p lineage-peer -p lineage-metadata -p lineage-web-marine \
  --target wasm32-unknown-unknown --locked -- -D warnings
# Selecting lineage-peer with -p turns its default `marine` feature on; the light peer builds it
# without, as net and web depend on it.
cargo clippy -p lineage-net -p lineage-web --target wasm32-unknown-unknown --locked -- -D warnings

step "cargo test (native)"
counted cargo test --workspace --locked

step "cargo test lineage-marine on wasm32 in headless Chromium (wasm-bindgen-test)"
WASM_BINDGEN_TEST_TIMEOUT=300 counted cargo test -p lineage-marine --target wasm32-unknown-unknown --locked

step "build the npm package's two wasm files (crates/web, crates/web-marine → pkg/dist, profile web-dev)"
bash scripts/build-pkg.sh

step "end-to-end (node --test): lineage CLI; js-client 0.9 and our package against lineage-node; the package in headless Chromium"
cargo build -p lineage-node --bins --locked
LINEAGE_BIN="$CARGO_TARGET_DIR/debug/lineage" LINEAGE_NODE_BIN="$CARGO_TARGET_DIR/debug/lineage-node" \
  counted node --test tests/

# One closing line over every runner: cargo's "test result" lines and node's "# pass/# fail".
passed=$(grep -aoE '(test result: ok\. [0-9]+ passed|^# pass [0-9]+)' "$LOG" | grep -oE '[0-9]+' | awk '{s+=$1} END {print s+0}' || true)
failed=$(grep -aoE '([0-9]+ failed;|^# fail [0-9]+)' "$LOG" | grep -oE '[0-9]+' | awk '{s+=$1} END {print s+0}' || true)
printf '\nall test stages passed in %ss\n' "$(( $(date +%s) - start ))"
printf '%s passed, %s failed\n' "${passed:-0}" "${failed:-0}"
