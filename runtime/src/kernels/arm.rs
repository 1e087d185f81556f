//! The DSP instructions and the four-row loops as `asm!` (thumbv7em only): with the `unsafe`
//! blocks they need, the only `unsafe` code of the crate.
//!
//! Stable Rust has no intrinsics for these instructions, so each is a one-line `asm!` block;
//! the four-row loops are `asm!` blocks that load and store four sums with one `LDM`/`STM` and
//! keep four row pointers, four sums and the packed counts in registers, which the compiler
//! does not manage from Rust. The QEMU boards check them: their outputs equal the host's, which
//! runs the twins ([`super::isa::Twins`]), bit for bit.
#![allow(unsafe_code)]

use core::arch::asm;

use super::isa::Isa;

/// The instructions themselves. Each instruction block reads its input registers and writes
/// one output register, touching no memory, no stack and (except the sticky Q flag of the
/// multiply-accumulates) no flags.
pub(crate) struct Arm;

/// Elements the scaled loop may touch: the shortest length, rounded down to whole
/// chunks.
#[inline(always)]
fn whole_chunks(sums: &[i32], rows: &[&[u8]; 4]) -> usize {
    rows.iter().fold(sums.len(), |n, row| n.min(row.len())) & !3
}

impl Isa for Arm {
    /// `SXTAB`, see [`Twins::sxtab`](super::isa::Twins).
    #[inline(always)]
    fn sxtab<const ROT: u32>(acc: i32, word: u32) -> i32 {
        let out: i32;
        if ROT == 0 {
            // SAFETY: a register-only ARMv7E-M instruction (thumbv7em always has the DSP
            // extension): no memory access, no stack, flags untouched.
            unsafe {
                asm!("sxtab {out}, {acc}, {word}", out = lateout(reg) out, acc = in(reg) acc,
                     word = in(reg) word, options(pure, nomem, nostack, preserves_flags));
            }
        } else {
            // SAFETY: as above; ROT is one of the encodable rotations 8, 16, 24.
            unsafe {
                asm!("sxtab {out}, {acc}, {word}, ror #{rot}", out = lateout(reg) out,
                     acc = in(reg) acc, word = in(reg) word, rot = const ROT,
                     options(pure, nomem, nostack, preserves_flags));
            }
        }
        out
    }

    /// `SXTB16`, see [`Twins::sxtb16`](super::isa::Twins).
    #[inline(always)]
    fn sxtb16<const ROT: u32>(word: u32) -> u32 {
        let out: u32;
        if ROT == 0 {
            // SAFETY: a register-only ARMv7E-M instruction: no memory, no stack, no flags.
            unsafe {
                asm!("sxtb16 {out}, {word}", out = lateout(reg) out, word = in(reg) word,
                     options(pure, nomem, nostack, preserves_flags));
            }
        } else {
            // SAFETY: as above; ROT is one of the encodable rotations 8, 16, 24.
            unsafe {
                asm!("sxtb16 {out}, {word}, ror #{rot}", out = lateout(reg) out,
                     word = in(reg) word, rot = const ROT,
                     options(pure, nomem, nostack, preserves_flags));
            }
        }
        out
    }

    /// `SMLABB`, see [`Twins::smlabb`](super::isa::Twins).
    #[inline(always)]
    fn smlabb(a: u32, b: u32, acc: i32) -> i32 {
        let out: i32;
        // SAFETY: a register-only ARMv7E-M instruction: no memory, no stack; it may set
        // the sticky Q flag (flags are not declared preserved).
        unsafe {
            asm!("smlabb {out}, {a}, {b}, {acc}", out = lateout(reg) out, a = in(reg) a,
                 b = in(reg) b, acc = in(reg) acc, options(pure, nomem, nostack));
        }
        out
    }

    /// `SMLABT`, see [`Twins::smlabt`](super::isa::Twins).
    #[inline(always)]
    fn smlabt(a: u32, b: u32, acc: i32) -> i32 {
        let out: i32;
        // SAFETY: as for `smlabb`.
        unsafe {
            asm!("smlabt {out}, {a}, {b}, {acc}", out = lateout(reg) out, a = in(reg) a,
                 b = in(reg) b, acc = in(reg) acc, options(pure, nomem, nostack));
        }
        out
    }

    /// `SMLATB`, see [`Twins::smlatb`](super::isa::Twins).
    #[inline(always)]
    fn smlatb(a: u32, b: u32, acc: i32) -> i32 {
        let out: i32;
        // SAFETY: as for `smlabb`.
        unsafe {
            asm!("smlatb {out}, {a}, {b}, {acc}", out = lateout(reg) out, a = in(reg) a,
                 b = in(reg) b, acc = in(reg) acc, options(pure, nomem, nostack));
        }
        out
    }

    #[inline(always)]
    fn smlatt(a: u32, b: u32, acc: i32) -> i32 {
        let out: i32;
        // SAFETY: as for `smlabb`.
        unsafe {
            asm!("smlatt {out}, {a}, {b}, {acc}", out = lateout(reg) out, a = in(reg) a,
                 b = in(reg) b, acc = in(reg) acc, options(pure, nomem, nostack));
        }
        out
    }

    /// [`Twins::four_rows`](super::isa::Twins) in `asm!`: 24 instructions per chunk of four sums, 15 for
    /// a last pair, 11 for a last single sum.
    #[inline(always)]
    fn four_rows(sums: &mut [i32], rows: [&[u8]; 4]) {
        let n = rows.iter().fold(sums.len(), |n, row| n.min(row.len()));
        if n == 0 {
            return;
        }
        let [a, b, c, d] = rows.map(<[u8]>::as_ptr);
        let s = sums.as_mut_ptr();
        let tail = n & 3;
        // SAFETY: `n` is at most the length of `sums` and of every row, so `chunks_end`
        // (`n` rounded down to a multiple of 4) is in bounds. The chunk loop runs
        // `n / 4` times (none when `s == chunks_end`) and loads and stores the words
        // `sums[..n & !3]` (aligned, as `LDM`/`STM` need: `i32` slices are) and loads the
        // bytes `row[..n & !3]` of each row (`LDR` of a possibly unaligned word: ARMv7-M
        // allows it). Then, with `tail = n % 4`: when `tail >= 2`, the next two sums
        // (`LDRD`/`STRD`, word-aligned as they need) and two bytes of each row (`LDRH`,
        // unaligned allowed); when one more is left, one sum and one byte of each row. So
        // every access is below index `n`. `r0`-`r3` and every pointer register are
        // declared clobbered; no stack, and only the flags change.
        unsafe {
            let chunks_end = s.add(n & !3);
            asm!(
                "cmp {s}, {end}",
                "beq 3f",
                "2:",
                "ldm {s}, {{r0, r1, r2, r3}}",
                "ldr {w}, [{a}], #4",
                "sxtab r0, r0, {w}",
                "sxtab r1, r1, {w}, ror #8",
                "sxtab r2, r2, {w}, ror #16",
                "sxtab r3, r3, {w}, ror #24",
                "ldr {w}, [{b}], #4",
                "sxtab r0, r0, {w}",
                "sxtab r1, r1, {w}, ror #8",
                "sxtab r2, r2, {w}, ror #16",
                "sxtab r3, r3, {w}, ror #24",
                "ldr {w}, [{c}], #4",
                "sxtab r0, r0, {w}",
                "sxtab r1, r1, {w}, ror #8",
                "sxtab r2, r2, {w}, ror #16",
                "sxtab r3, r3, {w}, ror #24",
                "ldr {w}, [{d}], #4",
                "sxtab r0, r0, {w}",
                "sxtab r1, r1, {w}, ror #8",
                "sxtab r2, r2, {w}, ror #16",
                "sxtab r3, r3, {w}, ror #24",
                "stmia {s}!, {{r0, r1, r2, r3}}",
                "cmp {s}, {end}",
                "bne 2b",
                "3:",
                // The last 0 to 3 sums: a pair, then a single one.
                "cmp {tail}, #2",
                "blo 4f",
                "ldrd r0, r1, [{s}]",
                "ldrh {w}, [{a}], #2",
                "sxtab r0, r0, {w}",
                "sxtab r1, r1, {w}, ror #8",
                "ldrh {w}, [{b}], #2",
                "sxtab r0, r0, {w}",
                "sxtab r1, r1, {w}, ror #8",
                "ldrh {w}, [{c}], #2",
                "sxtab r0, r0, {w}",
                "sxtab r1, r1, {w}, ror #8",
                "ldrh {w}, [{d}], #2",
                "sxtab r0, r0, {w}",
                "sxtab r1, r1, {w}, ror #8",
                "strd r0, r1, [{s}], #8",
                "subs {tail}, {tail}, #2",
                "4:",
                "cmp {tail}, #0",
                "beq 5f",
                "ldr r0, [{s}]",
                "ldrb {w}, [{a}]",
                "sxtab r0, r0, {w}",
                "ldrb {w}, [{b}]",
                "sxtab r0, r0, {w}",
                "ldrb {w}, [{c}]",
                "sxtab r0, r0, {w}",
                "ldrb {w}, [{d}]",
                "sxtab r0, r0, {w}",
                "str r0, [{s}]",
                "5:",
                s = inout(reg) s => _,
                a = inout(reg) a => _,
                b = inout(reg) b => _,
                c = inout(reg) c => _,
                d = inout(reg) d => _,
                end = in(reg) chunks_end,
                tail = inout(reg) tail => _,
                w = out(reg) _,
                out("r0") _,
                out("r1") _,
                out("r2") _,
                out("r3") _,
                options(nostack),
            );
        }
    }

    /// [`Twins::four_rows_scaled`](super::isa::Twins) in `asm!`: 32 instructions per chunk of four sums
    /// (sixteen multiply-adds).
    #[inline(always)]
    fn four_rows_scaled(sums: &mut [i32], rows: [&[u8]; 4], ab: u32, cd: u32) {
        let n = whole_chunks(sums, &rows);
        if n == 0 {
            return;
        }
        let [a, b, c, d] = rows.map(<[u8]>::as_ptr);
        let s = sums.as_mut_ptr();
        // SAFETY: the memory accesses are those of the chunk loop of `four_rows` (same
        // bounds argument, with `n` here already a non-zero multiple of 4).
        // The loop needs fourteen registers, one more than `asm!` may be given (`r7` is
        // the Thumb frame pointer, reserved to LLVM), so it saves `r7` on the stack, uses
        // it for the even halves of the weight word, and restores it before it ends: the
        // stack pointer returns to its value (nothing is called in between, so the
        // 4-byte push breaks no alignment rule), and no operand can live in `r7`. Only the
        // flags (and the sticky Q flag, which cannot be set: every product and sum fits,
        // see the module docs) change.
        unsafe {
            let end = s.add(n);
            asm!(
                "push {{r7}}",
                "2:",
                "ldm {s}, {{r0, r1, r2, r3}}",
                "ldr {w}, [{a}], #4",
                "sxtb16 r7, {w}",
                "sxtb16 {w}, {w}, ror #8",
                "smlabb r0, r7, {ab}, r0",
                "smlatb r2, r7, {ab}, r2",
                "smlabb r1, {w}, {ab}, r1",
                "smlatb r3, {w}, {ab}, r3",
                "ldr {w}, [{b}], #4",
                "sxtb16 r7, {w}",
                "sxtb16 {w}, {w}, ror #8",
                "smlabt r0, r7, {ab}, r0",
                "smlatt r2, r7, {ab}, r2",
                "smlabt r1, {w}, {ab}, r1",
                "smlatt r3, {w}, {ab}, r3",
                "ldr {w}, [{c}], #4",
                "sxtb16 r7, {w}",
                "sxtb16 {w}, {w}, ror #8",
                "smlabb r0, r7, {cd}, r0",
                "smlatb r2, r7, {cd}, r2",
                "smlabb r1, {w}, {cd}, r1",
                "smlatb r3, {w}, {cd}, r3",
                "ldr {w}, [{d}], #4",
                "sxtb16 r7, {w}",
                "sxtb16 {w}, {w}, ror #8",
                "smlabt r0, r7, {cd}, r0",
                "smlatt r2, r7, {cd}, r2",
                "smlabt r1, {w}, {cd}, r1",
                "smlatt r3, {w}, {cd}, r3",
                "stmia {s}!, {{r0, r1, r2, r3}}",
                "cmp {s}, {end}",
                "bne 2b",
                "pop {{r7}}",
                s = inout(reg) s => _,
                a = inout(reg) a => _,
                b = inout(reg) b => _,
                c = inout(reg) c => _,
                d = inout(reg) d => _,
                end = in(reg) end,
                ab = in(reg) ab,
                cd = in(reg) cd,
                w = out(reg) _,
                out("r0") _,
                out("r1") _,
                out("r2") _,
                out("r3") _,
            );
        }
    }
}
