//! Select the fixed-point kernels for the target's multiplier.
//!
//! Stable Rust does not expose ARM target features such as `dsp` to `cfg`, so the target name
//! decides: the ARMv7-M and ARMv8-M mainline cores (Cortex-M3/M4/M7/M33) have a single-cycle
//! 32x32->64 multiply (`SMULL`) and `CLZ`, and get `cfg(picospike_long_multiply)`. Every other
//! target (Cortex-M0/M0+/M23, the host) uses the 32-bit-only kernels, which are tested
//! bit-identical to the others on the host.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(picospike_long_multiply)");
    println!("cargo::rerun-if-changed=build.rs");
    let target = std::env::var("TARGET").unwrap_or_default();
    let long_multiply = ["thumbv7m-", "thumbv7em-", "thumbv8m.main-"]
        .iter()
        .any(|prefix| target.starts_with(prefix));
    if long_multiply {
        println!("cargo::rustc-cfg=picospike_long_multiply");
    }
}
