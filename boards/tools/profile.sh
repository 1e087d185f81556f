#!/usr/bin/env bash
# profile.sh ELF : PC histogram of the classify function under QEMU, summarised by source line
ELF=$1; MACHINE=${2:-mps2-an386}
# The inference: the classifier and every runtime function it did not inline.
ranges=$(llvm-nm -S "$ELF" | grep -E "classify17h|picospike_runtime|compiler_builtins" |
  awk '$2 != "" {printf "%s0x%s+0x%s", sep, $1, $2; sep=","}')
rm -f /tmp/tr.fifo; mkfifo /tmp/tr.fifo
(awk -F'[][/]' '{c[$3]++} END {for (k in c) print c[k], k}' < /tmp/tr.fifo > /tmp/pcs.txt) &
timeout 120 qemu-system-arm -M $MACHINE -display none -monitor none -semihosting-config enable=on,target=native -icount shift=0 -kernel $ELF -d exec,nochain -singlestep -dfilter $ranges -D /tmp/tr.fifo > /tmp/qout.txt 2>&1
wait
sort -rn /tmp/pcs.txt > /tmp/pcs2.txt
awk '{s+=$1} END {print "total", s}' /tmp/pcs2.txt
awk '{print "0x"$2}' /tmp/pcs2.txt | llvm-addr2line -e $ELF > /tmp/lines.txt
paste -d' ' <(awk '{print $1}' /tmp/pcs2.txt) /tmp/lines.txt | awk '{n=split($2,p,"/"); split(p[n],q,":"); key=p[n-1]"/"q[1]":"q[2]; c[key]+=$1} END {for (k in c) print c[k], k}' | sort -rn | head -${3:-30}
# By runtime function (the innermost inlined frame that is picospike code).
awk '{print "0x"$2}' /tmp/pcs2.txt | llvm-addr2line -e "$ELF" -f -i -C --output-style=JSON |
python3 -c '
import json, sys, collections
counts = [int(l.split()[0]) for l in open("/tmp/pcs2.txt")]
total = collections.Counter()
for count, line in zip(counts, sys.stdin):
    frames = json.loads(line).get("Symbol", [])
    name = "?"
    for frame in frames:
        f = frame.get("FunctionName", "")
        if "picospike" in f:
            name = f.rsplit("::h", 1)[0]
            break
    total[name] += count
print("-- by function --")
for name, count in total.most_common(25):
    print(f"{count:9d} {name}")
'
