# Shared environment for the project scripts (sourced, not run).
# The cargo target dir lives outside the clone so a fresh CI clone reuses earlier builds.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/lineage-edge/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# wasm-bindgen-cli must match the wasm-bindgen in Cargo.lock (libp2p 0.57 pins 0.2.108).
WASM_BINDGEN_VERSION="$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/,""); print; exit}' "$ROOT/Cargo.lock")"
export WASM_BINDGEN_VERSION
export CHROMEDRIVER="${CHROMEDRIVER:-/usr/bin/chromedriver}"
export PATH="$HOME/.cargo/bin:$PATH"
