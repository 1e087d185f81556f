#!/usr/bin/env bash
# kernel_cost.sh ELF [MACHINE] : executed instructions of the scale and fan-out kernels.
#
# Runs profile.sh (QEMU PC trace of the classify function), maps every executed PC to its
# inline chain (llvm-addr2line -i) and sums the instructions whose chain contains
# fixed_point::scale_wide/scale_narrow or dsp::add_weights*_{dsp,portable}. The number of
# calls/elements is counted from the instructions that run once per element (SXTAB per
# synaptic event, SMLABB/SMLATB per multiply-add on thumbv7em; SMLAL/SMULL per scale call),
# so the per-element figures are exact on the Cortex-M4 build; on thumbv6m only totals print.
set -euo pipefail
ELF=$1; MACHINE=${2:-mps2-an386}
here=$(cd "$(dirname "$0")" && pwd)
bash "$here/profile.sh" "$ELF" "$MACHINE" 5 > /dev/null
awk '$2 ~ /^[0-9a-f]+$/ {print "0x"$2}' /tmp/pcs2.txt | llvm-addr2line -f -i -a -e "$ELF" > /tmp/chain.txt
llvm-objdump -d --no-show-raw-insn "$ELF" > /tmp/kernel_cost.dis
python3 - <<'PY'
import collections, re
mnemonic = {}
for line in open('/tmp/kernel_cost.dis'):
    m = re.match(r'^\s+([0-9a-f]+):\s+(\S+)', line)
    if m:
        mnemonic[int(m.group(1), 16)] = m.group(2)
counts = {}
for line in open('/tmp/pcs2.txt'):
    p = line.split()
    if len(p) >= 2 and re.match(r'^[0-9a-f]+$', p[1]):
        counts[int(p[1], 16)] = int(p[0])
frames, pc = collections.defaultdict(list), None
for line in open('/tmp/chain.txt'):
    line = line.strip()
    if re.match(r'^0x[0-9a-f]+$', line):
        pc = int(line, 16)
    else:
        frames[pc].append(line)
kinds = [('multiply-add (count > 1)', ('add_weights_scaled_dsp', 'add_weights_scaled_portable'), ('smlabb', 'smlatb')),
         ('synaptic event (count 1)', ('add_weights_dsp', 'add_weights_portable'), ('sxtab',)),
         ('scale call', ('scale_wide', 'scale_narrow'), ('smlal', 'smull'))]
instructions, elements = collections.Counter(), collections.Counter()
for pc, chain in frames.items():
    text = ' '.join(chain)
    for name, functions, unit in kinds:
        if any(f in text for f in functions):
            instructions[name] += counts.get(pc, 0)
            if mnemonic.get(pc, '') in unit:
                elements[name] += counts.get(pc, 0)
            break
for name, _, _ in kinds:
    per = '%.2f per element' % (instructions[name] / elements[name]) if elements[name] else ''
    print('%-26s instructions=%d elements=%d %s' % (name, instructions[name], elements[name], per))
PY
