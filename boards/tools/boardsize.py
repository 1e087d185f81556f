#!/usr/bin/env python3
"""Flash/RAM figures of a firmware ELF, and a check against a committed size file.

Sections are classified by their ELF flags (what `size -A` would group), so the script works for
every board without a list of section names:

  flash_text    allocated + executable                    (.vector_table, .text, .boot2, ...)
  flash_rodata  allocated, read-only, with contents       (.rodata, ...)
  ram_data      allocated, writable, with contents        (.data: also stored in flash)
  ram_bss       allocated, no contents                    (.bss, .uninit)
  flash_total   flash_text + flash_rodata + ram_data
  ram_total     ram_data + ram_bss (static RAM; the stack comes on top)
  stack_peak    measured on the board by stack painting (QEMU boards only)
  stack_inference, stack_model_load
                stack one inference / validating the model needs below its caller (QEMU)
  instructions_per_inference, instructions_per_step, instructions_model_load
                measured in QEMU (-icount shift=0, SysTick calibrated); passed with --figure

Usage:
  boardsize.py show  ELF [--stack-peak N] [--figure KEY=N ...]
  boardsize.py check SIZE_FILE ELF [--stack-peak N] [--figure KEY=N ...] [--update] [--tolerance 0.05]
                    [--limit KEY=N ...]

`check` fails (exit 1) if any figure grew by more than the tolerance over the committed file,
printing a table of old and new figures; `--update` rewrites the file instead. A `--limit` is an
absolute bound (e.g. `stack_peak=1024` on the Cortex-M0 board): a figure above it fails the
check, with or without `--update`, so that no size file can record it.
Standard library only, so CI needs nothing but python3.
"""
import argparse
import struct
import sys

SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR = 0x1, 0x2, 0x4
SHT_NOBITS = 8
ORDER = ["flash_text", "flash_rodata", "ram_data", "ram_bss", "flash_total", "ram_total", "stack_peak",
         "stack_inference", "stack_model_load", "instructions_per_inference", "instructions_per_step",
         "instructions_model_load"]


def measure(path):
    with open(path, "rb") as f:
        elf = f.read()
    if elf[:4] != b"\x7fELF" or elf[4] != 1 or elf[5] != 1:
        sys.exit(f"{path}: not a 32-bit little-endian ELF")
    shoff, = struct.unpack_from("<I", elf, 0x20)
    shentsize, shnum = struct.unpack_from("<HH", elf, 0x2E)
    figures = dict.fromkeys(ORDER[:4], 0)
    for i in range(shnum):
        _name, sh_type, flags, _addr, _off, size = struct.unpack_from("<IIIIII", elf, shoff + i * shentsize)
        if not flags & SHF_ALLOC or size == 0:
            continue
        if sh_type == SHT_NOBITS:
            figures["ram_bss"] += size
        elif flags & SHF_EXECINSTR:
            figures["flash_text"] += size
        elif flags & SHF_WRITE:
            figures["ram_data"] += size
        else:
            figures["flash_rodata"] += size
    figures["flash_total"] = figures["flash_text"] + figures["flash_rodata"] + figures["ram_data"]
    figures["ram_total"] = figures["ram_data"] + figures["ram_bss"]
    return figures


def read_size_file(path):
    figures = {}
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                key, value = line.split("=", 1)
                figures[key.strip()] = int(value)
    return figures


def write_size_file(path, figures, elf):
    with open(path, "w") as f:
        f.write("# flash_*, ram_*, stack_*: bytes; instructions_*: QEMU instructions. Written by\n")
        f.write("# `boards/tools/boardsize.py check --update` (run-qemu.sh / build-boards.sh --update-size)\n")
        f.write("# for the default model (boards/models/demo), release profile. CI fails if a figure grows > 5 %.\n")
        for key in ORDER:
            if key in figures:
                f.write(f"{key}={figures[key]}\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    show = sub.add_parser("show")
    show.add_argument("elf")
    show.add_argument("--stack-peak", type=int)
    show.add_argument("--figure", action="append", default=[])
    check = sub.add_parser("check")
    check.add_argument("size_file")
    check.add_argument("elf")
    check.add_argument("--stack-peak", type=int)
    check.add_argument("--figure", action="append", default=[])
    check.add_argument("--update", action="store_true")
    check.add_argument("--tolerance", type=float, default=0.05)
    check.add_argument("--limit", action="append", default=[])
    args = parser.parse_args()

    figures = measure(args.elf)
    if args.stack_peak is not None:
        figures["stack_peak"] = args.stack_peak
    for item in args.figure:
        key, value = item.split("=", 1)
        if key not in ORDER:
            sys.exit(f"unknown figure {key}; known: {', '.join(ORDER)}")
        figures[key] = int(value)
    if args.command == "show":
        for key in ORDER:
            if key in figures:
                print(f"{key}={figures[key]}")
        return 0

    over = []
    for item in args.limit:
        key, value = item.split("=", 1)
        if key not in ORDER:
            sys.exit(f"unknown figure {key} in --limit; known: {', '.join(ORDER)}")
        if key not in figures:
            over.append(f"{key} was not measured, its limit is {int(value)}")
        elif figures[key] > int(value):
            over.append(f"{key}={figures[key]} is above its limit of {int(value)}")
    if over:
        for reason in over:
            print(f"FAIL: {reason}", file=sys.stderr)
        print(f"size check FAILED for {args.elf}: a limit is a bound, not a trend; --update does not "
              f"lift it (see the limits in boards/run-qemu.sh)", file=sys.stderr)
        return 1

    if args.update:
        write_size_file(args.size_file, figures, args.elf)
        print(f"updated {args.size_file}")
        return 0
    try:
        committed = read_size_file(args.size_file)
    except FileNotFoundError:
        print(f"{args.size_file} missing: run with --update and commit it", file=sys.stderr)
        return 1
    failed = False
    print(f"{'figure':<28}{'committed':>12}{'now':>12}{'change':>10}")
    for key in ORDER:
        if key not in committed and key not in figures:
            continue
        old, new = committed.get(key), figures.get(key)
        if old is None or new is None:
            print(f"{key:<28}{old if old is not None else '-':>12}{new if new is not None else '-':>12}")
            continue
        change = (new - old) / old if old else (0.0 if new == 0 else float("inf"))
        verdict = ""
        if change > args.tolerance:
            verdict = f"  FAIL: grew more than {args.tolerance:.0%}"
            failed = True
        print(f"{key:<28}{old:>12}{new:>12}{change:>+10.1%}{verdict}")
    if failed:
        print(f"size check FAILED for {args.elf} against {args.size_file}; if the growth is intended, "
              f"rerun with --update and commit the file", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
