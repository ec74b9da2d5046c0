#!/usr/bin/env bash
# A longer run of the property tests `npm test` runs with a fixed case count: the particle
# decoder, the IT section decoder, the AIR entry point. Usage: bash benches/fuzz.sh [cases]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/env.sh"
cd "$ROOT"
export PROPTEST_CASES="${1:-20000}"
echo "==> $PROPTEST_CASES cases per property (release build)" >&2
cargo test --release --locked -p lineage-particle --test prop
cargo test --release --locked -p lineage-marine --lib it::prop
cargo test --release --locked -p lineage-peer --test prop_air
