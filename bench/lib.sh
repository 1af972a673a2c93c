#!/bin/bash
# lib.sh - helpers shared by the benchmark drivers (spawn.sh, experiments.sh): JSON fields, medians, settling.

# jget KEY: a number from the one-line JSON on stdin (the first "KEY":number)
jget() { sed -n "s/.*\"$1\":\([-0-9.]*\).*/\1/p" | head -1; }
# jobj KEY: the inside of the first "KEY":{...} object of the JSON on stdin (empty if absent)
jobj() { sed -n "s/.*\"$1\":{\([^}]*\)}.*/\1/p" | head -1; }
median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0) ? a / b : 0}'; }
# A torn-down run's memory comes back over seconds (KVM frees VMs partly
# asynchronously): wait for MemAvailable to stop rising (by 20 MB/s or more)
# before the next. SETTLE_DT: seconds between looks (default 1).
settle() {
	local prev=0 cur dt=${SETTLE_DT:-1}
	local step=$(awk -v d="$dt" 'BEGIN {printf "%d", 20000 * d}') n=$(awk -v d="$dt" 'BEGIN {printf "%d", 60 / d}')
	for _ in $(seq "$n"); do
		cur=$(awk '/MemAvailable/ {print $2}' /proc/meminfo)
		[ $((cur - prev)) -lt "$step" ] && [ "$prev" != 0 ] && return
		prev=$cur
		sleep "$dt"
	done
}
