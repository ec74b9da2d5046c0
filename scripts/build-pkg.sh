#!/usr/bin/env bash
# Builds the npm package's two wasm files for wasm32 → wasm-bindgen (--target web) → pkg/dist/:
#   lineage_web     the light peer (crates/web), loaded on connect;
#   lineage_marine  the Marine runtime (crates/web-marine), loaded on the first registerMarineService.
#   bash scripts/build-pkg.sh            # profile web-dev (tests, npm start)
#   bash scripts/build-pkg.sh release    # profile web-release + wasm-opt -Oz (what ships; benches)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/env.sh"
cd "$ROOT"
mode="${1:-dev}"
case "$mode" in
  dev) profile=web-dev ;;
  release) profile=web-release ;;
  *) echo "usage: build-pkg.sh [dev|release]" >&2; exit 2 ;;
esac
out="${PKG_OUT_DIR:-$ROOT/pkg/dist}"
cargo build -p lineage-web -p lineage-web-marine --target wasm32-unknown-unknown --profile "$profile" --locked
mkdir -p "$out"
for name in lineage_web lineage_marine; do
  crate_out=$name
  [ "$name" = lineage_marine ] && crate_out=lineage_web_marine
  wasm-bindgen --target web --out-dir "$out" --out-name "$name" \
    "$CARGO_TARGET_DIR/wasm32-unknown-unknown/$profile/$crate_out.wasm"
  if [ "$mode" = release ]; then
    # npm binaryen's wasm-opt: Debian's binaryen 108 emits binaries that fail at run time.
    "$ROOT/node_modules/.bin/wasm-opt" -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
      --enable-sign-ext --enable-mutable-globals --enable-simd \
      "$out/${name}_bg.wasm" -o "$out/${name}_bg.wasm"
  fi
  ls -l "$out/${name}_bg.wasm"
done
# The package's JS as the `exports` map names it (dist/index.js, dist/keypair.js): one bundle.
node "$ROOT/scripts/bundle-pkg.mjs" "$out"
