#!/bin/bash
# plots.sh - the benchmark plots show the comparison: QEMU visible beside kvmlite, axes fitted to the data, memory per VM on a log scale.
#
# Runs bench/plot.sh and bench/plot_memory.sh (gnuplot) on made-up data shaped like a
# full `make bench` run (kvmlite and the raw baseline to 15,000 VMs, QEMU to 12) and
# checks the axes gnuplot reports. No KVM needed.
set -u
cd "$(dirname "$0")/../.."
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; shift; for l in "$@"; do echo "     $l"; done; }
check() { if eval "$2"; then ok "$1"; else bad "$1" "${@:3}"; fi; }
if ! command -v gnuplot >/dev/null; then
	echo "SKIP: gnuplot is absent: the plots cannot be drawn"
	echo "plots: 0 passed, 0 failed, 1 skipped"
	exit 0
fi

# ramp VMM GUEST MAX STEP MEM_PER_VM: a ramp CSV, memory in use rising from 2% by MEM_PER_VM % a VM
ramp() {
	echo "# host: test, 2 CPUs, KVM backend kvm_test"
	echo "vmm,guest,count,cpu_mean,cpu_sd,mem_mean,mem_sd,samples"
	awk -v v="$1" -v g="$2" -v max="$3" -v step="$4" -v m="$5" 'BEGIN {
		for (n = 0; n <= max; n += step) printf "%s,%s,%d,%.2f,0.50,%.2f,0.01,2\n", v, g, n, 1 + n / 4000, 2 + n * m, 2 }'
}
ramp kvmlite mvm 15000 1500 0.0016 >"$T/ramp-kvmlite-mvm.csv"
ramp raw mvm 15000 1500 0.0015 >"$T/ramp-raw-mvm.csv"
ramp qemu mvm 12 2 0.06 >"$T/ramp-qemu-mvm.csv"

bench/plot.sh -v -o "$T/density.png" "$T"/ramp-*.csv >"$T/out" 2>"$T/ranges"
st=$?
png() { [ "$(head -c 4 "$1" | tail -c 3)" = PNG ]; }
check "plot.sh draws the density plot" "[ $st = 0 ] && png '$T/density.png'" "$(cat "$T/out" "$T/ranges")"
# "cpu: x XMIN XMAX log, y YMIN YMAX" per panel
axis() { sed -n "s/^$1: x \([^ ]*\) \([^ ,]*\)\(.*\), y \([^ ]*\) \([^ ]*\)$/\\$2/p" "$T/ranges"; }
check "with QEMU's tens beside kvmlite's thousands the x axis is logarithmic" \
	"[ '$(axis cpu 3)' = ' log' ] && [ '$(axis mem 3)' = ' log' ]" "$(cat "$T/ranges")"
# where QEMU's largest count (12) falls across the x axis: on a linear 0-15,000 axis at 0.08%
where=$(awk -v a="$(axis mem 1)" -v b="$(axis mem 2)" 'BEGIN { printf "%.2f", (log(12) - log(a)) / (log(b) - log(a)) }')
check "QEMU's VMs are visible: its largest count lies a quarter of the way across, not at the edge" \
	"awk -v w='$where' 'BEGIN { exit !(w >= 0.2) }'" "at $where of the axis: $(cat "$T/ranges")"
# the data reaches 26% memory and 4.75% CPU: the axes end near it, not at 100%
check "each y axis is fitted to its data" \
	"awk -v m='$(axis mem 5)' -v c='$(axis cpu 5)' 'BEGIN { exit !(m >= 26 && m <= 40 && c >= 5.25 && c <= 10) }'" \
	"$(cat "$T/ranges")"
bench/plot.sh -F -v -o "$T/full.png" "$T"/ramp-*.csv >/dev/null 2>"$T/ranges"
check "-F keeps the standardized 0-100% axes" "[ '$(axis mem 5)' = 100 ] && [ '$(axis cpu 5)' = 100 ]" "$(cat "$T/ranges")"
bench/plot.sh -v -o "$T/qemu.png" "$T"/ramp-qemu-*.csv >/dev/null 2>"$T/ranges"
check "QEMU alone: a linear axis from 0, its lines not flat on the bottom" \
	"[ -z '$(axis mem 3)' ] && awk -v m='$(axis mem 5)' 'BEGIN { exit !(m <= 5) }'" "$(cat "$T/ranges")"

cat >"$T/cost.csv" <<'CSV'
# host: test, 2 CPUs, KVM backend kvm_test
vmm,guest,guests,memavail_kib,slab_kib,pagetables_kib,kernelstack_kib,kernel_kib,vmm_rss_kib,vmm_pss_kib,vmm_anon_kib,guest_kib,idle_s,host_cpu_pct,host_cpu_base_pct,vmm_cpu_pct,host_us_per_vm_s,vmm_us_per_vm_s,slope_kib,mem_noise_kib,cpu_noise_pct
qemu,mvm,10,14020.0,300.1,120.0,16.0,2500.0,11800.0,11500.0,9000.0,,2,20.0,4.0,10.0,3000,3000,13900,2000,1.0
kvmlite,mvm,1000,368.1,125.1,0.4,16.2,354.3,26.8,22.1,13.8,12.0,2,53.04,4.04,0.000,980.0,0.00,,4320,13.61
raw,mvm,1000,325.1,123.7,-0.0,16.1,316.7,20.5,16.4,8.4,,2,5.62,4.02,0.000,32.1,0.00,,176,3.00
CSV
bench/plot_memory.sh -v -o "$T/memory.png" "$T/cost.csv" >"$T/out" 2>"$T/bars"
st=$?
check "plot_memory.sh draws the memory bar chart" "[ $st = 0 ] && png '$T/memory.png'" "$(cat "$T/out" "$T/bars")"
check "memory per VM: kvmlite, raw KVM and QEMU in that order, on a log axis spanning them all" \
	"[ \"\$(sed -n 's/^bar \([^|]*\)|.*/\1/p' '$T/bars' | tr '\n' ';')\" = 'kvmlite, mvm;raw KVM, mvm;QEMU, mvm;' ] &&
	 grep -q '^y 10 100000 log$' '$T/bars'" "$(cat "$T/bars")"

echo "plots: $pass passed, $fail failed"
[ "$fail" = 0 ]
