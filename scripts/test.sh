#!/usr/bin/env bash
# Runs every test: formatting, lints, native unit+integration tests, the same runtime tests
# on wasm32 in headless Chromium, wasm32 builds of the shared crates, and end-to-end CLI tests.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/env.sh"
cd "$ROOT"
bash scripts/setup.sh

step() { printf '\n==> %s\n' "$*"; }
start=$(date +%s)

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (native, all targets) -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo clippy (wasm32 crates) -D warnings"
cargo clippy -p lineage-marine -p lineage-peer --target wasm32-unknown-unknown --locked -- -D warnings

step "cargo test (native)"
cargo test --workspace --locked

step "cargo test lineage-marine on wasm32 in headless Chromium (wasm-bindgen-test)"
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
  WASM_BINDGEN_TEST_TIMEOUT=300 \
  cargo test -p lineage-marine --target wasm32-unknown-unknown --locked

step "end-to-end: lineage CLI (node --test)"
cargo build -p lineage-node --locked
LINEAGE_BIN="$CARGO_TARGET_DIR/debug/lineage" node --test tests/

printf '\nall test stages passed in %ss\n' "$(( $(date +%s) - start ))"
