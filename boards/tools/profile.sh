#!/usr/bin/env bash
# profile.sh ELF : PC histogram of the classify function under QEMU, summarised by source line
ELF=$1; MACHINE=${2:-mps2-an386}
read start size < <(llvm-nm -S $ELF | grep -i "classify17h" | awk '{print $1, $2}')
end=$(printf "0x%x" $((0x$start + 0x$size - 1)))
rm -f /tmp/tr.fifo; mkfifo /tmp/tr.fifo
(awk -F'[][/]' '{c[$3]++} END {for (k in c) print c[k], k}' < /tmp/tr.fifo > /tmp/pcs.txt) &
timeout 120 qemu-system-arm -M $MACHINE -display none -monitor none -semihosting-config enable=on,target=native -icount shift=0 -kernel $ELF -d exec,nochain -singlestep -dfilter 0x$start..$end -D /tmp/tr.fifo > /tmp/qout.txt 2>&1
wait
sort -rn /tmp/pcs.txt > /tmp/pcs2.txt
awk '{s+=$1} END {print "total", s}' /tmp/pcs2.txt
awk '{print "0x"$2}' /tmp/pcs2.txt | llvm-addr2line -e $ELF > /tmp/lines.txt
paste -d' ' <(awk '{print $1}' /tmp/pcs2.txt) /tmp/lines.txt | awk '{n=split($2,p,"/"); split(p[n],q,":"); key=p[n-1]"/"q[1]":"q[2]; c[key]+=$1} END {for (k in c) print c[k], k}' | sort -rn | head -${3:-30}
