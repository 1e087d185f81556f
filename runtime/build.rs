//! Select the fixed-point kernels for the target's multiplier.
//!
//! Stable Rust does not expose ARM target features such as `dsp` to `cfg`, so the target name
//! decides: the ARMv7-M and ARMv8-M mainline cores (Cortex-M3/M4/M7/M33) have a single-cycle
//! 32x32->64 multiply (`SMULL`) and `CLZ`, and get `cfg(picospike_long_multiply)`. Every other
//! target (Cortex-M0/M0+/M23, the host) uses the 32-bit-only kernels, which are tested
//! bit-identical to the others on the host. `thumbv7em` (Cortex-M4/M7) also gets
//! `cfg(picospike_dsp)`: the fan-out kernels built from the DSP extension (`src/kernels/`),
//! unless the `portable-kernels` feature asks for the portable ones. This is the one place
//! that decides which kernels a build runs.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(picospike_long_multiply)");
    println!("cargo::rustc-check-cfg=cfg(picospike_dsp)");
    println!("cargo::rerun-if-changed=build.rs");
    let target = std::env::var("TARGET").unwrap_or_default();
    let long_multiply = ["thumbv7m-", "thumbv7em-", "thumbv8m.main-"]
        .iter()
        .any(|prefix| target.starts_with(prefix));
    if long_multiply {
        println!("cargo::rustc-cfg=picospike_long_multiply");
    }
    // The ARMv7E-M DSP extension (SXTAB, SXTB16, SMLABB, ...): always on Cortex-M4/M7; on
    // ARMv8-M mainline (Cortex-M33) it is optional, so only thumbv7em gets the asm kernels.
    let portable = std::env::var_os("CARGO_FEATURE_PORTABLE_KERNELS").is_some();
    if target.starts_with("thumbv7em-") && !portable {
        println!("cargo::rustc-cfg=picospike_dsp");
    }
}
