//! AquaVM recurses per `fold` element and per nested `seq`; wasm32's default 1 MiB stack
//! overflows on an ordinary Aqua `for` over a few hundred items. Give the light peer the
//! 8 MiB the node's main thread has.
fn main() {
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32") {
        println!("cargo:rustc-link-arg-cdylib=-zstack-size=8388608");
    }
}
