#!/usr/bin/env bash
# Builds the npm package's two wasm files for wasm32 → wasm-bindgen (--target web) → pkg/dist/:
#   lineage_web     the light peer (crates/web), loaded on connect;
#   lineage_marine  the Marine runtime (crates/web-marine), loaded on the first registerMarineService.
#   bash scripts/build-pkg.sh            # profile web-dev (tests, npm start)
#   bash scripts/build-pkg.sh release    # what ships (benches): the peer at web-release + wasm-opt -Oz
#                                        # (size), the Marine runtime at web-release-marine + -O3 (speed)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/env.sh"
cd "$ROOT"
mode="${1:-dev}"
case "$mode" in
  dev) web_profile=web-dev marine_profile=web-dev ;;
  # The Marine wasm runs the wasmi interpreter: built for size it replays meta contracts at less
  # than half the speed (Cargo.toml, profile.web-release-marine).
  release) web_profile=web-release marine_profile=web-release-marine ;;
  *) echo "usage: build-pkg.sh [dev|release]" >&2; exit 2 ;;
esac
out="${PKG_OUT_DIR:-$ROOT/pkg/dist}"
if [ "$web_profile" = "$marine_profile" ]; then
  cargo build -p lineage-web -p lineage-web-marine --target wasm32-unknown-unknown --profile "$web_profile" --locked
else
  cargo build -p lineage-web --target wasm32-unknown-unknown --profile "$web_profile" --locked
  cargo build -p lineage-web-marine --target wasm32-unknown-unknown --profile "$marine_profile" --locked
fi
mkdir -p "$out"
for name in lineage_web lineage_marine; do
  crate_out=$name profile=$web_profile opt=-Oz
  [ "$name" = lineage_marine ] && crate_out=lineage_web_marine profile=$marine_profile opt=-O3
  wasm-bindgen --target web --out-dir "$out" --out-name "$name" \
    "$CARGO_TARGET_DIR/wasm32-unknown-unknown/$profile/$crate_out.wasm"
  if [ "$mode" = release ]; then
    # npm binaryen's wasm-opt: Debian's binaryen 108 emits binaries that fail at run time.
    "$ROOT/node_modules/.bin/wasm-opt" "$opt" --enable-bulk-memory --enable-nontrapping-float-to-int \
      --enable-sign-ext --enable-mutable-globals --enable-simd \
      "$out/${name}_bg.wasm" -o "$out/${name}_bg.wasm"
  fi
  ls -l "$out/${name}_bg.wasm"
done
# The package's JS as the `exports` map names it (dist/index.js, dist/keypair.js): one bundle.
node "$ROOT/scripts/bundle-pkg.mjs" "$out"
