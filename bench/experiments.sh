#!/bin/bash
# experiments.sh - the density experiments for kvmlite, QEMU and the raw-ioctl baseline: ramp, cost, startup, requests, fairness, isolation, http.
#
# Usage: bench/experiments.sh [quick|full] [EXPERIMENT...]   (make bench-quick / make bench)
# EXPERIMENTs: ramp cost startup requests fairness isolation http (default: all seven).
# What each measures and how to read it: docs/experiments.md.
# Data go to build/bench/MODE/ as CSV files, each row written as it is taken
# (an interrupted run keeps them), plots as PNG; then bench/results.sh writes
# the report from them: docs/results.md for full, build/bench/quick/results.md
# for quick. Progress goes to stderr when it is a terminal. Ctrl-C stops every
# guest and QEMU this script started, and waits for them.
set -u
cd "$(dirname "$0")/.."
. bench/lib.sh
MODE=${1:-quick}
[ $# -gt 0 ] && shift
case $MODE in
quick | full) ;;
*) sed -n '4,11p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
ALL_EXPS='ramp cost startup requests fairness isolation http'
EXPS=${*:-$ALL_EXPS}
want() { [[ " $EXPS " == *" $1 "* ]]; }

K=build/kvmlite
WORK=build/guest/work.img
D=build/bench/$MODE
CPUS=$(nproc)
if [ "$MODE" = full ]; then
	STEPS=20 SAMPLES=3 SAMPLE_S=1 RAMP_MVM=15000 RAMP_TICK=2000 RAMP_RAW=15000 QEMU_MAX=20 QEMU_STEPS=10
	COST_MVM=10000 COST_TICK=1000 IDLE_S=20 START_N=512 START_ROUNDS=3
	REQ_NS="100 1000 10000" REQ_CONNS="1 4 16 64" REQ_S=5 REQ_WARMUP=1 FAIR_KS="8 32" SOLO_ROUNDS=3
	BASE_S=3 PAUSE=1 SETTLE_DT=1 QEMU_TIMEOUT=30 FLOOR_TICKS=20000 FLOOR_REQS=2000 FLOOR_ROUNDS=5
else
	STEPS=3 SAMPLES=2 SAMPLE_S=0.5 RAMP_MVM=1000 RAMP_TICK=200 RAMP_RAW=1000 QEMU_MAX=2 QEMU_STEPS=2
	COST_MVM=1000 COST_TICK=200 IDLE_S=2 START_N=128 START_ROUNDS=1
	REQ_NS="100 1000" REQ_CONNS="1 4 16 64" REQ_S=0.5 REQ_WARMUP=0.2 FAIR_KS="2 4" SOLO_ROUNDS=1
	BASE_S=1 PAUSE=0.5 SETTLE_DT=0.5 QEMU_TIMEOUT=20 FLOOR_TICKS=5000 FLOOR_REQS=300 FLOOR_ROUNDS=3
fi
export SETTLE_DT
# The research's rule: a ramp ends when the first resource reaches 90% of the
# host. On a host already busy with other work (host CPU >= BUSY% before any
# guest) the CPU rule would measure that work, so it is off for that ramp
# (the report says so); the memory rule always holds. CPU_BUDGET=0: never.
BUDGET=90
CPU_BUDGET=${CPU_BUDGET:-90} BUSY=50

[ -c /dev/kvm ] || { echo "experiments: /dev/kvm is absent: nothing to measure" >&2; exit 1; }
for f in $K $WORK build/guest/exits.img build/guest/tickfloor.img build/bench/raw_baseline build/bench/qemu_fleet build/bench/reqload build/bench/tsc_hz build/bench/floor; do
	[ -x "$f" ] || [ -f "$f" ] || { echo "experiments: $f missing: run make all and the bench programs first (make bench does)" >&2; exit 1; }
done
# A run of all starts from nothing; a run of some keeps the others' data for the report.
[ "$EXPS" = "$ALL_EXPS" ] && rm -rf "$D"
mkdir -p "$D"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/kvmbench.XXXXXX")

# ---- children and Ctrl-C: every long command runs in the background and is
# waited for, so a signal is handled at once; the trap stops them all. ----
CHILDREN=()
start_bg() { "$@" & CHILDREN+=($!); }
# run_fg CMD...: runs CMD to the end (interruptibly); its status is run_fg's
run_fg() {
	"$@" &
	local p=$!
	CHILDREN+=($p)
	wait $p
}
cleanup() {
	trap - INT TERM
	[ -t 2 ] && printf '\r\033[K' >&2
	echo "experiments: interrupted: stopping every guest and QEMU started here ..." >&2
	for p in "${CHILDREN[@]}"; do kill -TERM "$p" 2>/dev/null; done
	wait
	rm -rf "$TMP"
	echo "experiments: the samples taken so far are in $D/" >&2
	exit 130
}
trap cleanup INT TERM
trap 'rm -rf "$TMP"' EXIT

T0=$(date +%s)
progress() { [ -t 2 ] && printf '\r\033[K[%s +%ds] %s' "$(date +%T)" $(($(date +%s) - T0)) "$*" >&2; }
done_progress() { [ -t 2 ] && printf '\r\033[K' >&2; }
say() { done_progress; echo "$*"; }

# ---- host readings ----
backend() {
	local m b=none
	for m in kvm_intel kvm_amd kvm_pvm; do [ -e /sys/module/$m ] && b=$m; done
	echo "$b"
}
# The same "host: ..." line qemu_fleet writes, so bench/plot.sh names one host.
HOST_LINE="$(hostname), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $CPUS CPUs, $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo), Linux $(uname -r), KVM backend $(backend)"
load1() { cut -d' ' -f1 /proc/loadavg; }
meminfo() { awk -v k="$1" '$1 == k ":" {print $2}' /proc/meminfo; }
# cpu_ticks: "busy total" jiffies of all CPUs (busy: all but idle and iowait, as vmm/hostinfo.c)
cpu_ticks() { awk '/^cpu / {t = 0; for (i = 2; i <= 9; i++) t += $i; print t - $5 - $6, t}' /proc/stat; }
# host_cpu SECONDS: host CPU in use over that time, percent of all CPUs
host_cpu() {
	local a b
	a=$(cpu_ticks)
	sleep "$1"
	b=$(cpu_ticks)
	echo "$a $b" | awk '{printf "%.2f", ($4 > $2) ? 100 * ($3 - $1) / ($4 - $2) : 0}'
}
mem_pct() { awk '/MemTotal/ {t = $2} /MemAvailable/ {a = $2} END {printf "%.2f", 100 * (t - a) / t}' /proc/meminfo; }
# sample N: N samples of SAMPLE_S seconds of host CPU and memory in use: "cpu_mean cpu_sd mem_mean mem_sd N"
sample() {
	local s
	for s in $(seq "$1"); do
		progress "$WHAT: sample $s/$1"
		echo "$(host_cpu "$SAMPLE_S") $(mem_pct)"
	done | awk '{c[NR] = $1; m[NR] = $2; sc += $1; sm += $2}
		END {mc = sc / NR; mm = sm / NR
			for (i = 1; i <= NR; i++) {vc += (c[i] - mc) ^ 2; vm += (m[i] - mm) ^ 2}
			d = (NR > 1) ? NR - 1 : 1
			printf "%.2f %.2f %.2f %.2f %d\n", mc, sqrt(vc / d), mm, sqrt(vm / d), NR}'
}
# proc_ticks PID...: utime + stime of these processes (all their threads), jiffies
proc_ticks() {
	local p t=0 v
	for p in "$@"; do
		v=$(awk '{sub(/.*\) /, ""); print $12 + $13}' /proc/$p/stat 2>/dev/null) && t=$((t + v))
	done
	echo $t
}
# proc_mem PID...: "rss pss anon" KiB summed over the processes (smaps_rollup)
proc_mem() {
	local p
	for p in "$@"; do cat /proc/$p/smaps_rollup 2>/dev/null; done |
		awk '$1 == "Rss:" {r += $2} $1 == "Pss:" {p += $2} $1 == "Anonymous:" {a += $2} END {print r + 0, p + 0, a + 0}'
}
# arena_rss PID...: KiB resident in each process's largest read-write anonymous mapping: kvmlite's
# guest RAM arena (64 KiB a guest reserved, MAP_NORESERVE), which the kernel merges with the
# adjacent output-ring arena (4 KiB a guest): the guests' touched pages and their output rings
arena_rss() {
	local p
	for p in "$@"; do
		awk '/^[0-9a-f]+-[0-9a-f]+ / {cur = ($2 == "rw-p" && NF == 5)} $1 == "Size:" {s = $2}
			$1 == "Rss:" && cur && s > best {best = s; rss = $2} END {print rss + 0}' /proc/$p/smaps 2>/dev/null
	done | awk '{t += $1} END {print t + 0}'
}
# kvmlite_pids SOCK SUPERVISOR_PID: the supervisor and its workers
kvmlite_pids() { echo "$2 $($K stats --json --socket "$1" 2>/dev/null | sed -n 's/.*"worker_pids":\[\([0-9,]*\)\].*/\1/p' | tr , ' ')"; }

# wait_booted SOCK PID N: waits until N guests of that spawn have booted, or it
# ended, or 20 s pass with no progress; prints how many booted.
wait_booted() {
	local b=0 last=-1 still=0
	while :; do
		b=$($K list --socket "$1" 2>/dev/null | awk '/^booted/ {print $2}')
		b=${b:-0}
		[ "$b" -ge "$3" ] && break
		kill -0 "$2" 2>/dev/null || break
		if [ "$b" = "$last" ]; then still=$((still + 1)); else still=0; fi
		[ $still -ge 100 ] && break
		last=$b
		sleep 0.2
	done
	echo "$b"
}
# kvmlite guests run with --firmware none throughout, as the raw baseline: the
# minimal guest (the default firmware would add 4 KiB of RAM a guest and its run).
# kvmlite_up N SOCK GUEST: starts `kvmlite spawn N --park never` in the background
# (its pid in SPID), waits for its guests; BOOTED: how many booted.
kvmlite_up() {
	start_bg $K spawn "$1" --guest "$3" --firmware none --park never --socket "$2" >"$2.out" 2>&1
	SPID=$!
	BOOTED=$(wait_booted "$2" "$SPID" "$1")
}
kvmlite_down() { # SOCK PID
	$K stop --socket "$1" >/dev/null 2>&1 || kill -TERM "$2" 2>/dev/null
	wait "$2" 2>/dev/null
}
# raw_up N OUT PROCS: the raw baseline holding N mvm guests (pid in RPID) until killed;
# waits until they are all created; CREATED: how many were
raw_up() {
	start_bg build/bench/raw_baseline -n "$1" -p "$3" -i build/guest/mvm.img --hold 86400 --json >"$2" 2>"$2.err"
	RPID=$!
	while [ ! -s "$2" ] && kill -0 "$RPID" 2>/dev/null; do sleep 0.2; done
	CREATED=$(jget created <"$2")
	CREATED=${CREATED:-0}
}
raw_down() { kill -TERM "$@" 2>/dev/null; wait "$@" 2>/dev/null; }
csv_head() { printf '# host: %s\n# %s\n%s\n' "$HOST_LINE" "$2" "$3" >"$1"; }
RAMP_COLS=vmm,guest,count,cpu_mean,cpu_sd,mem_mean,mem_sd,samples
# step_row VMM GUEST COUNT CSV: one ramp row, sampled now; status 0 if a resource
# reached its budget (count 0: sets CPU_RULE, off when the host is busy already)
step_row() {
	local r
	WHAT="ramp $1 $2, $3 guests"
	r=$(sample "$SAMPLES")
	echo "$1,$2,$3,$(echo "$r" | tr ' ' ,)" >>"$4"
	if [ "$3" = 0 ]; then
		CPU_RULE=$(echo "$r" | awk -v c="$CPU_BUDGET" -v busy=$BUSY '{print (c > 0 && $1 < busy) ? c : 0}')
		[ "$CPU_RULE" = 0 ] && say "   (host CPU $(echo "$r" | cut -d' ' -f1)% before any guest: the 90% CPU rule is off for this ramp)"
	fi
	echo "$r" | awk -v b=$BUDGET -v c="$CPU_RULE" '{exit !((c > 0 && $1 >= c) || $3 >= b)}'
}
# cpu_note: appended to a ramp's stop reason when its CPU rule was off
cpu_note() { [ "$CPU_RULE" = 0 ] && echo " (CPU rule off: host busy before)"; }
step_at() { echo $((($1 * $2 + $3 / 2) / $3)); } # MAX K STEPS: the count of step K

# ---- host description, for the report ----
{
	printf 'MODE=%q\nDATE=%q\nHOST_LINE=%q\n' "$MODE" "$(date -u +%FT%TZ)" "$HOST_LINE"
	printf 'CPU_MODEL=%q\nCPUS=%q\nMEM_KIB=%q\nKERNEL=%q\nBACKEND=%q\n' "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" \
		"$CPUS" "$(meminfo MemTotal)" "$(uname -r)" "$(backend)"
	printf 'NOFILE=%q\nMAX_MAP=%q\nPID_MAX=%q\nNX_HUGE=%q\nHALT_POLL=%q\nGOVERNOR=%q\nSWAP_KIB=%q\n' "$(ulimit -Hn)" \
		"$(cat /proc/sys/vm/max_map_count)" "$(cat /proc/sys/kernel/pid_max)" \
		"$(cat /sys/module/kvm/parameters/nx_huge_pages 2>/dev/null || echo n/a)" \
		"$(cat /sys/module/kvm/parameters/halt_poll_ns 2>/dev/null || echo n/a)" \
		"$(cat /sys/devices/system/cpu/cpu0/cpufreq/scaling_governor 2>/dev/null || echo 'none (no cpufreq)')" "$(meminfo SwapTotal)"
	printf 'QEMU_VERSION=%q\nTSC_HZ=%q\nLOAD_START=%q\nEXPS=%q\n' \
		"$(qemu-system-x86_64 --version 2>/dev/null | sed -n '1s/.*version \([^ ]*\).*/\1/p')" "$(build/bench/tsc_hz)" "$(load1)" "$EXPS"
	printf 'STEPS=%q\nSAMPLES=%q\nSAMPLE_S=%q\nRAMP_MVM=%q\nRAMP_TICK=%q\nRAMP_RAW=%q\nQEMU_MAX=%q\nQEMU_STEPS=%q\n' \
		"$STEPS" "$SAMPLES" "$SAMPLE_S" "$RAMP_MVM" "$RAMP_TICK" "$RAMP_RAW" "$QEMU_MAX" "$QEMU_STEPS"
	printf 'COST_MVM=%q\nCOST_TICK=%q\nIDLE_S=%q\nSTART_N=%q\nSTART_ROUNDS=%q\nREQ_NS=%q\nREQ_CONNS=%q\nREQ_S=%q\nFAIR_KS=%q\n' \
		"$COST_MVM" "$COST_TICK" "$IDLE_S" "$START_N" "$START_ROUNDS" "$REQ_NS" "$REQ_CONNS" "$REQ_S" "$FAIR_KS"
	printf 'FLOOR_TICKS=%q\nFLOOR_REQS=%q\nFLOOR_ROUNDS=%q\n' "$FLOOR_TICKS" "$FLOOR_REQS" "$FLOOR_ROUNDS"
} >"$D/host.env"
echo "experiment,seconds,load_before" >"$D/timing.csv"
timed() { # NAME FUNCTION ARGS...: runs it, records its wall time
	local name=$1 t=$(date +%s) l=$(load1)
	shift
	"$@"
	echo "$name,$(($(date +%s) - t)),$l" >>"$D/timing.csv"
}
say "kvmlite density experiments ($MODE): $EXPS"
say "host: $HOST_LINE; load $(load1)"

# ======== 1. standardized scalability test: ramp until --max or the first resource at 90% ========
# kvmlite has no "add guests" command: each step starts one more `kvmlite spawn` of
# the difference, keeping the earlier ones (each costs a supervisor and its workers,
# ~0.3 MiB and no CPU when idle). The raw baseline ramps the same way.
ramp_kvmlite() { # GUEST MAX
	local g=$1 max=$2 csv=$D/ramp-kvmlite-$1.csv have=0 k target b socks=() pids=() stop="reached $2"
	csv_head "$csv" "kvmlite spawn --park never, guest $g, one spawn per step, $SAMPLES samples of $SAMPLE_S s per step" "$RAMP_COLS"
	settle
	step_row kvmlite "$g" 0 "$csv" && stop="resource at $BUDGET% with no guest"
	for k in $(seq "$STEPS"); do
		[ "$stop" = "reached $max" ] || break
		target=$(step_at "$max" "$k" "$STEPS")
		[ "$target" -gt "$have" ] || continue
		progress "ramp kvmlite $g: starting $((target - have)) more guests ($have up)"
		kvmlite_up $((target - have)) "$TMP/ramp$k" "$g"
		b=$BOOTED
		socks+=("$TMP/ramp$k")
		pids+=("$SPID")
		have=$((have + b))
		[ "$b" -lt $((target - have + b)) ] && stop="a host limit at $have guests ($(tail -1 "$TMP/ramp$k.out"))"
		sleep $PAUSE # the boot's own work drains
		step_row kvmlite "$g" "$have" "$csv" && stop="a resource reached $BUDGET% at $have guests"
	done
	progress "ramp kvmlite $g: stopping $have guests"
	for k in "${!socks[@]}"; do $K stop --socket "${socks[$k]}" >/dev/null 2>&1 || kill -TERM "${pids[$k]}" 2>/dev/null; done
	wait "${pids[@]}" 2>/dev/null
	echo "kvmlite,$g,$have,$stop$(cpu_note)" >>"$D/ramp-stops.csv"
	say "1. ramp kvmlite $g: $have guests, stopped by: $stop ($csv)"
}
ramp_raw() { # MAX (mvm)
	local max=$1 csv=$D/ramp-raw-mvm.csv have=0 k target b pids=() stop="reached $1"
	csv_head "$csv" "bench/raw_baseline -p 1 --hold, image mvm, one process per step, $SAMPLES samples of $SAMPLE_S s per step" "$RAMP_COLS"
	settle
	step_row raw mvm 0 "$csv" && stop="resource at $BUDGET% with no guest"
	for k in $(seq "$STEPS"); do
		[ "$stop" = "reached $max" ] || break
		target=$(step_at "$max" "$k" "$STEPS")
		[ "$target" -gt "$have" ] || continue
		progress "ramp raw baseline: creating $((target - have)) more VMs ($have up)"
		raw_up $((target - have)) "$TMP/raw$k.json" 1
		b=$CREATED
		pids+=("$RPID")
		have=$((have + b))
		[ "$b" -lt $((target - have + b)) ] && stop="a host limit at $have guests"
		sleep $PAUSE
		step_row raw mvm "$have" "$csv" && stop="a resource reached $BUDGET% at $have guests"
	done
	progress "ramp raw baseline: releasing $have VMs"
	raw_down "${pids[@]}"
	echo "raw,mvm,$have,$stop$(cpu_note)" >>"$D/ramp-stops.csv"
	say "1. ramp raw baseline mvm: $have guests, stopped by: $stop ($csv)"
}
# QEMU: one qemu_fleet run per guest does its ramp, cost and startup at once
# (QEMU boots one guest at a time here, ~3 s each).
qemu_run() { # GUEST MODES...
	local g=$1 note=
	shift
	settle
	WHAT="qemu $g"
	progress "QEMU $g: host CPU before"
	CPU_RULE=$(host_cpu "$BASE_S" | awk -v c="$CPU_BUDGET" -v busy=$BUSY '{print (c > 0 && $1 < busy) ? c : 0}')
	[ "$CPU_RULE" = 0 ] && note=$(cpu_note)
	progress "QEMU $g: up to $QEMU_MAX guests, one after another"
	run_fg build/bench/qemu_fleet "$@" --guest "$g" --max "$QEMU_MAX" --samples "$SAMPLES" --sample-s "$SAMPLE_S" --idle "$IDLE_S" --cpu-budget "$CPU_RULE" --timeout "$QEMU_TIMEOUT" \
		--csv "$D/ramp-qemu-$g.csv" --guests-csv "$D/startup-qemu-$g-guests.csv" --json >"$D/qemu-$g.json"
	want ramp && echo "qemu,$g,$(jget booted <"$D/qemu-$g.json"),$(sed -n 's/.*"stopped":"\([^"]*\)".*/\1/p' "$D/qemu-$g.json")$note" >>"$D/ramp-stops.csv"
	say "QEMU $g: $(jget booted <"$D/qemu-$g.json") guests ($D/qemu-$g.json)"
}
exp_ramp() {
	echo "vmm,guest,count,stopped_by" >"$D/ramp-stops.csv"
	timed "ramp kvmlite mvm" ramp_kvmlite mvm "$RAMP_MVM"
	timed "ramp kvmlite tick" ramp_kvmlite tick "$RAMP_TICK"
	timed "ramp raw mvm" ramp_raw "$RAMP_RAW"
}
exp_qemu() {
	local m=()
	want ramp && m+=(--ramp "$QEMU_STEPS")
	want cost && m+=(--cost)
	[ ${#m[@]} -gt 0 ] || want startup || return 0
	timed "qemu mvm" qemu_run mvm "${m[@]}" $(want startup && echo --startup)
	[ ${#m[@]} -gt 0 ] && timed "qemu tick" qemu_run tick "${m[@]}"
	if want ramp; then
		# Plots: everything (a log x axis shows QEMU's tens beside the thousands), then kvmlite and
		# raw, then QEMU alone; each y axis fitted to its data.
		bench/plot.sh -o "$D/density.png" "$D"/ramp-*.csv >/dev/null
		bench/plot.sh -o "$D/density-kvmlite.png" "$D"/ramp-kvmlite-*.csv "$D"/ramp-raw-*.csv >/dev/null
		bench/plot.sh -o "$D/density-qemu.png" "$D"/ramp-qemu-*.csv >/dev/null
		say "1. plots: $D/density.png, density-kvmlite.png, density-qemu.png"
	fi
}

# ======== 2. cost per VM: memory split, idle CPU ========
COST_COLS=vmm,guest,guests,memavail_kib,slab_kib,pagetables_kib,kernelstack_kib,kernel_kib,vmm_rss_kib,vmm_pss_kib,vmm_anon_kib,guest_kib,idle_s,host_cpu_pct,host_cpu_base_pct,vmm_cpu_pct,host_us_per_vm_s,vmm_us_per_vm_s,slope_kib,mem_noise_kib,cpu_noise_pct
MI_KEYS="MemAvailable Slab PageTables KernelStack"
mi_read() { local k; for k in $MI_KEYS; do printf '%s ' "$(meminfo $k)"; done; echo; }
# cost_row VMM GUEST N MI_BEFORE BASE_CPU PID...: measures now (guests up) and appends the row
cost_row() {
	local vmm=$1 g=$2 n=$3 before=$4 base=$5 after mem a b t0 t1 host c0 c1 gk
	shift 5
	sleep $((${PAUSE%.*} + 1)) # the last boots' work and KVM's deferred allocations
	after=$(mi_read)
	mem=$(proc_mem "$@")
	gk=$([ "$vmm" = kvmlite ] && arena_rss "$@" || echo)
	WHAT="cost $vmm $g"
	progress "cost $vmm $g: $n guests idle for $IDLE_S s"
	c0=$(proc_ticks "$@")
	a=$(cpu_ticks)
	# The noise of the host-wide figures: how far MemAvailable and the host's CPU move over the
	# idle window's quarters while the VMs stand still (max - min: host-wide KiB, CPU points).
	noise=$(for q in 1 2 3 4; do
		echo "$(meminfo MemAvailable) $(host_cpu "$(awk -v s="$IDLE_S" 'BEGIN {print s / 4}')")"
	done | awk -v m="$(meminfo MemAvailable)" 'BEGIN {lo = hi = m; clo = 1e9; chi = -1}
		{if ($1 < lo) lo = $1; if ($1 > hi) hi = $1; if ($2 < clo) clo = $2; if ($2 > chi) chi = $2}
		END {printf "%d %.2f", hi - lo, chi - clo}')
	b=$(cpu_ticks)
	c1=$(proc_ticks "$@")
	echo "$before | $after | $mem | $a $b | $c0 $c1 | $gk | $noise" | awk -F'|' -v vmm="$vmm" -v g="$g" -v n="$n" -v base="$base" \
		-v s="$IDLE_S" -v cpus="$CPUS" '{
		split($1, x, " "); split($2, y, " "); split($3, m, " "); split($4, c, " "); split($5, p, " "); split($7, z, " ")
		avail = (x[1] - y[1]) / n; slab = (y[2] - x[2]) / n; pt = (y[3] - x[3]) / n; ks = (y[4] - x[4]) / n
		rss = m[1] / n; pss = m[2] / n; anon = m[3] / n
		host = 100 * (c[3] - c[1]) / (c[4] - c[2]); vcpu = 100 * (p[2] - p[1]) / (c[4] - c[2])
		gk = ($6 ~ /[0-9]/) ? sprintf("%.1f", $6 / n) : ""
		printf "%s,%s,%d,%.1f,%.1f,%.1f,%.1f,%.1f,%.1f,%.1f,%.1f,%s,%d,%.2f,%.2f,%.3f,%.1f,%.2f,,%d,%.2f\n", vmm, g, n, avail,
			slab, pt, ks, avail - anon, rss, pss, anon, gk, s, host, base, vcpu,
			(host - base) / 100 * cpus * 1e6 / n, vcpu / 100 * cpus * 1e6 / n, z[1], z[2]}' >>"$D/cost.csv"
}
cost_kvmlite() { # GUEST N
	local before base b
	settle
	WHAT="cost kvmlite $1"
	progress "cost kvmlite $1: host CPU before"
	base=$(host_cpu "$BASE_S")
	before=$(mi_read)
	progress "cost kvmlite $1: starting $2 guests"
	kvmlite_up "$2" "$TMP/cost" "$1"
	cost_row kvmlite "$1" "$BOOTED" "$before" "$base" $(kvmlite_pids "$TMP/cost" "$SPID")
	kvmlite_down "$TMP/cost" "$SPID"
	say "2. cost kvmlite $1: $(tail -1 "$D/cost.csv")"
}
cost_raw() { # N
	local before base b
	settle
	WHAT="cost raw"
	progress "cost raw baseline: host CPU before"
	base=$(host_cpu "$BASE_S")
	before=$(mi_read)
	progress "cost raw baseline: creating $1 VMs"
	raw_up "$1" "$TMP/cost-raw.json" "$CPUS"
	cost_row raw mvm "$CREATED" "$before" "$base" "$RPID" $(pgrep -P "$RPID")
	raw_down "$RPID"
	say "2. cost raw mvm: $(tail -1 "$D/cost.csv")"
}
cost_qemu() { # GUEST: the row from qemu_fleet's --cost (run by exp_qemu)
	local j=$D/qemu-$1.json c base
	c=$(jobj cost <"$j")
	[ -n "$c" ] || return 0
	base=$(awk -F, '$3 == 0 {print $4}' "$D/ramp-qemu-$1.csv" 2>/dev/null)
	echo "$c" | awk -v g="$1" -v base="${base:-}" -v cpus="$CPUS" -v s="$(jget idle_s <<<"$c")" '{
		n = split($0, kv, ","); for (i = 1; i <= n; i++) {split(kv[i], p, ":"); gsub(/"/, "", p[1]); v[p[1]] = p[2]}
		b = (base != "") ? base : ""
		hv = (base != "") ? sprintf("%.1f", (v["host_cpu_pct"] - base) / 100 * cpus * 1e6 / v["guests"]) : ""
		printf "qemu,%s,%d,%.1f,%.1f,%.1f,%.1f,%.1f,%.1f,%.1f,%.1f,,%d,%.2f,%s,%.3f,%s,%.2f,%.1f,%d,%.2f\n", g, v["guests"],
			v["memavailable_drop_kib_per_vm"], v["slab_kib_per_vm"], v["page_tables_kib_per_vm"],
			v["kernel_stack_kib_per_vm"], v["kernel_kib_per_vm"], v["qemu_rss_kib"], v["qemu_pss_kib"],
			v["qemu_anon_kib"], s, v["host_cpu_pct"], b, v["qemu_cpu_pct"], hv,
			v["qemu_cpu_ms_per_vm_per_s"] * 1000, v["slope_kib_per_vm"], v["mem_noise_kib"], v["cpu_noise_pct"]}' >>"$D/cost.csv"
	say "2. cost qemu $1: $(tail -1 "$D/cost.csv")"
}
# The raw tick floors: bench/floor.c injects ticks into guest/tickfloor.S with nothing but KVM
# around it, the EOI exiting and coalesced; then into guest/tick.S itself (the guest kvmlite's
# tick row runs, EOI coalesced as kvmlite does), on one VM and on as many VMs in turn as one of
# kvmlite's shards serves in the cost run. The report sets the tick row's CPU per tick against them.
tick_floor() {
	local j=$D/floor-tick.json v o vms=$(((COST_TICK + CPUS - 1) / CPUS))
	settle
	progress "cost: the raw tick floors, $FLOOR_TICKS ticks x $FLOOR_ROUNDS rounds (tickfloor.S, tick.S, tick.S on $vms VMs)"
	echo "variant,ticks,rounds,cpu_us,wall_us,exits,out_us" >"$D/cost-floor.csv"
	run_fg build/bench/floor --tick --ticks "$FLOOR_TICKS" --rounds "$FLOOR_ROUNDS" --vms "$vms" --json >"$j" 2>"$TMP/floor.err" ||
		{ say "2. tick floor failed: $(cat "$TMP/floor.err")"; return 0; }
	for v in exit coalesced server server_many; do
		o=$(jobj "tick_$v" <"$j")
		[ -n "$o" ] && echo "$v,$(jget ticks <<<"$o"),$FLOOR_ROUNDS,$(jget cpu_us <<<"$o"),$(jget wall_us <<<"$o"),$(jget exits <<<"$o"),$(jget out_us <<<"$o")" >>"$D/cost-floor.csv"
	done
	say "2. tick floor: $(tail -n +2 "$D/cost-floor.csv" | tr '\n' ' ')($D/cost-floor.csv)"
}
exp_cost() {
	echo "$COST_COLS" >"$D/cost.csv"
	timed "cost kvmlite mvm" cost_kvmlite mvm "$COST_MVM"
	timed "cost kvmlite tick" cost_kvmlite tick "$COST_TICK"
	timed "cost raw mvm" cost_raw "$COST_MVM"
	timed "cost tick floor" tick_floor
}

# ======== 3. startup: a batch launched at once, to each guest's first serial byte ========
START_COLS=vmm,guest,guests,round,batch_s,per_s,p50_ms,p99_ms,max_ms,create_vm_us,set_memory_us,create_vcpu_us,load_us,first_byte_us
exp_startup() {
	local r j bm su w
	echo "$START_COLS" >"$D/startup.csv"
	for r in $(seq "$START_ROUNDS"); do
		settle
		progress "startup round $r/$START_ROUNDS: kvmlite spawn $START_N --for 0"
		run_fg $K spawn "$START_N" --firmware none --park never --for 0 --json --socket "$TMP/start" >"$TMP/start.json" 2>/dev/null
		j=$(cat "$TMP/start.json")
		bm=$(jobj boot_ms <<<"$j")
		su=$(jobj stage_us <<<"$j")
		w=$(jget workers <<<"$j")
		echo "kvmlite,mvm,$(jget booted <<<"$j"),$r,$(jget time_to_all_booted_s <<<"$j"),$(jget boot_rate_per_s <<<"$j")," \
			"$(jget p50 <<<"$bm"),$(jget p99 <<<"$bm"),$(jget max <<<"$bm"),$(jget create_vm <<<"$su"),$(jget set_memory <<<"$su")," \
			"$(jget create_vcpu <<<"$su"),$(jget load <<<"$su"),$(jget first_byte <<<"$su")" | tr -d ' ' >>"$D/startup.csv"
		settle
		progress "startup round $r/$START_ROUNDS: raw baseline $START_N, ${w:-$CPUS} processes"
		run_fg build/bench/raw_baseline -n "$START_N" -p "${w:-$CPUS}" -i build/guest/mvm.img --json >"$TMP/start-raw.json" 2>/dev/null
		j=$(cat "$TMP/start-raw.json")
		su=$(jobj mean_us <<<"$j")
		# raw stages: mmap + set_regs are its "load" (the image copy is a memcpy before them)
		echo "raw,mvm,$(jget created <<<"$j"),$r,$(jget wall_s <<<"$j"),$(jget rate_per_s <<<"$j"),,,," \
			"$(jget create_vm <<<"$su"),$(jget set_memory <<<"$su"),$(jget create_vcpu <<<"$su")," \
			"$(awk -v a="$(jget mmap <<<"$su")" -v b="$(jget set_regs <<<"$su")" 'BEGIN {printf "%.1f", a + b}'),$(jget first_run <<<"$su")" |
			tr -d ' ' >>"$D/startup.csv"
	done
	say "3. startup: $D/startup.csv"
}
startup_qemu() { # rows from qemu_fleet --startup (sequential boots)
	local s
	s=$(jobj startup <"$D/qemu-mvm.json" 2>/dev/null)
	[ -n "$s" ] || return 0
	echo "qemu,mvm,$(jget guests <<<"$s"),1,$(jget batch_s <<<"$s"),$(jget per_s <<<"$s"),$(awk -v a="$(jget p50_s <<<"$s")" -v b="$(jget p99_s <<<"$s")" \
		-v c="$(jget max_s <<<"$s")" 'BEGIN {printf "%.1f,%.1f,%.1f", a * 1000, b * 1000, c * 1000}'),,,,," >>"$D/startup.csv"
}

# ======== 4. request serving through the control socket ========
# The raw baselines of a request. What one VM exit costs when nothing but KVM
# is involved (the raw loop running guest/exits.S: EXIT_COUNT port reads, each
# an exit, to its hlt; median of 5): a request of E exits cannot take less
# than E times that. And the ping floor: bench/floor.c serving `ping` to the
# mvm guest itself with a minimal 16550 and nothing else (µs of CPU and wall,
# exits per request, median of FLOOR_ROUNDS). The report sets kvmlite's
# latency and throughput against both.
EXIT_COUNT=10000 # guest/exits.S
exit_floor() {
	local r xu p
	progress "requests: the cost of one VM exit (raw loop, $EXIT_COUNT exits, 5 rounds)"
	xu=$(for r in 1 2 3 4 5; do
		build/bench/raw_baseline -n 1 -p 1 -i build/guest/exits.img --json 2>/dev/null | jobj mean_us | jget first_run
	done | median | awk -v n=$EXIT_COUNT '{printf "%.2f", $1 / n}')
	progress "requests: the raw ping floor ($FLOOR_REQS pings to mvm x $FLOOR_ROUNDS rounds)"
	run_fg build/bench/floor --ping --requests "$FLOOR_REQS" --rounds "$FLOOR_ROUNDS" --json >"$D/floor-ping.json" 2>"$TMP/floor.err" ||
		say "4. ping floor failed: $(cat "$TMP/floor.err")"
	# the same work as kvmlite's: the answer's THR writes coalesced, where KVM can
	p=$(jobj ping_coalesced <"$D/floor-ping.json")
	[ -n "$p" ] || p=$(jobj ping <"$D/floor-ping.json")
	printf 'exit_us,rounds,ping_requests,ping_rounds,ping_cpu_us,ping_wall_us,ping_exits\n%s,5,%s,%s,%s,%s,%s\n' "$xu" \
		"$(jget requests <<<"$p")" "${p:+$FLOOR_ROUNDS}" "$(jget cpu_us <<<"$p")" "$(jget wall_us <<<"$p")" "$(jget exits <<<"$p")" >"$D/requests-floor.csv"
}
exp_requests() {
	local n c e0 e1 j b
	settle
	exit_floor
	echo "guests,conns,seconds,requests,errors,req_per_s,p50_us,p90_us,p99_us,p999_us,max_us,exits_per_req" >"$D/requests.csv"
	for n in $REQ_NS; do
		settle
		progress "requests: starting $n mvm guests"
		kvmlite_up "$n" "$TMP/req" mvm
		b=$BOOTED
		for c in $REQ_CONNS; do
			progress "requests: $b guests, $c connection(s), $REQ_S s"
			# VM exits per request: over every request in the window, warmup
			# included: each `ping` is 5 bytes of guest input.
			e0=$($K stats --json --socket "$TMP/req" | awk '{print $0}')
			run_fg build/bench/reqload --socket "$TMP/req" -n "$b" -c "$c" -d "$REQ_S" --warmup "$REQ_WARMUP" --json >"$TMP/req.json" 2>/dev/null
			e1=$($K stats --json --socket "$TMP/req")
			j=$(cat "$TMP/req.json")
			echo "$b,$c,$(jget seconds <<<"$j"),$(jget requests <<<"$j"),$(jget errors <<<"$j"),$(jget throughput <<<"$j"),$(jget p50 <<<"$j")," \
				"$(jget p90 <<<"$j"),$(jget p99 <<<"$j"),$(jget 'p99\.9' <<<"$j"),$(jget max <<<"$j")," \
				"$(awk -v a="$(jget exits <<<"$e0")" -v b="$(jget exits <<<"$e1")" -v i0="$(jget in_bytes <<<"$e0")" \
					-v i1="$(jget in_bytes <<<"$e1")" 'BEGIN {printf "%.1f", (i1 > i0) ? (b - a) / ((i1 - i0) / 5) : 0}')" |
				tr -d ' ' >>"$D/requests.csv"
		done
		kvmlite_down "$TMP/req" "$SPID"
	done
	plot_requests
	say "4. requests: VM exits per ping $(awk -F, 'NR > 1 && $12 > 0 {if (!n++ || $12 < lo) lo = $12; if ($12 > hi) hi = $12}
		END {if (n) printf "%s-%s", lo, hi; else printf "n/a"}' "$D/requests.csv") (target: at most 12; raw ping floor" \
		"$(awk -F, 'NR == 2 {print ($7 > 0) ? $7 : "n/a"}' "$D/requests-floor.csv")); $D/requests.csv, requests.png"
}
# requests.png: throughput and p99 latency against connections, one line per guest count
plot_requests() {
	command -v gnuplot >/dev/null || return 0
	local n plots1= plots2= sep=
	for n in $REQ_NS; do
		awk -F, -v n="$n" 'NR > 1 && $1 >= n * 0.9 && $1 <= n {print $2, $6, $9 / 1000}' "$D/requests.csv" >"$TMP/req-$n.dat"
		plots1="$plots1$sep'$TMP/req-$n.dat' using 1:2 with linespoints lw 2 title '$n guests'"
		plots2="$plots2$sep'$TMP/req-$n.dat' using 1:3 with linespoints lw 2 title '$n guests'"
		sep=', '
	done
	# The raw baseline as lines: the KVM ceiling (throughput) and floor (latency)
	local floor
	floor=$(awk -F, -v xu="$(awk -F, 'NR == 2 {print $1}' "$D/requests-floor.csv" 2>/dev/null)" \
		'NR > 1 {e += $12; n++} END {if (n && xu > 0) printf "%.1f", xu * e / n}' "$D/requests.csv")
	if [ -n "$floor" ]; then
		plots1="$plots1, $CPUS * 1e6 / $floor with lines dt 2 lw 2 lc rgb 'black' title 'KVM ceiling: $CPUS CPUs of raw exits'"
		plots2="$plots2, $floor / 1000 with lines dt 2 lw 2 lc rgb 'black' title 'KVM floor: a request of raw exits'"
	fi
	# The measured ping floor: the mvm guest answering ping under a bare KVM loop
	floor=$(awk -F, 'NR == 2 && $5 > 0 {print $5}' "$D/requests-floor.csv" 2>/dev/null)
	if [ -n "$floor" ]; then
		plots1="$plots1, $CPUS * 1e6 / $floor with lines dt 3 lw 2 lc rgb 'red' title 'ping ceiling: $CPUS CPUs of raw pings'"
		plots2="$plots2, $floor / 1000 with lines dt 3 lw 2 lc rgb 'red' title 'ping floor: mvm under a bare KVM loop'"
	fi
	gnuplot <<EOF 2>/dev/null
set terminal png size 1400,560 noenhanced
set output '$D/requests.png'
set multiplot layout 1,2 title 'kvmlite request serving (req ID ping, closed loop) -- $HOST_LINE'
set grid
set logscale x 2
set xlabel 'connections (requests outstanding)'
set key bottom right
set title 'throughput'
set ylabel 'requests/s'
set yrange [0:*]
plot $plots1
set key top left
set title 'p99 latency'
set ylabel 'p99, ms'
set logscale y
set yrange [*:*]
plot $plots2
unset multiplot
EOF
}

# ======== 5. CPU fairness: K copies of the same CPU job at once ========
# fair_run K: the work guest K times at once; rows "K,ID,CYCLES,SECONDS" to fairness-guests.csv
# (--cpu-max 100: no cap, so a job alone gets the whole CPU, as under QEMU; with the default 20% cap
# each guest would be held to a fifth of a CPU while fewer than 5 per CPU run)
fair_run() {
	local log=$TMP/fair-$1.log
	rm -f "$log"
	progress "fairness: $1 work guests at once"
	run_fg $K spawn "$1" --guest "$WORK" --firmware none --park never --cpu-max 100 --for 0 --json --log "$log" --socket "$TMP/fair" >"$TMP/fair-$1.json" 2>/dev/null
	awk -v k="$1" -v hz="$TSC_HZ" '$2 == "work" {printf "%d,%d,%s,%.4f\n", k, $1, $3, $3 / hz}' "$log" >>"$D/fairness-guests.csv"
}
exp_fairness() {
	local r k solo
	TSC_HZ=$(build/bench/tsc_hz)
	echo "k,id,cycles,seconds" >"$D/fairness-guests.csv"
	echo "k,cpus,guests_reported,solo_s,ideal_s,mean_s,min_s,p50_s,max_s,max_over_min,jain,mean_over_ideal,batch_s" >"$D/fairness.csv"
	settle
	for r in $(seq "$SOLO_ROUNDS"); do fair_run 1; done
	solo=$(awk -F, '$1 == 1 && NR > 1 {print $4}' "$D/fairness-guests.csv" | median)
	for k in 1 $FAIR_KS; do
		[ "$k" = 1 ] || fair_run "$k"
		awk -F, -v k="$k" -v cpus="$CPUS" -v solo="$solo" -v batch="$(jget time_to_all_booted_s <"$TMP/fair-$k.json")" '
			NR > 1 && $1 == k {x[++n] = $4; s += $4; q += $4 * $4}
			END {
				if (!n) exit
				for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (x[j] < x[i]) {t = x[i]; x[i] = x[j]; x[j] = t}
				ideal = (k > cpus ? k / cpus : 1) * solo
				if (k == 1) ideal = solo
				printf "%d,%d,%d,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.4f,%.3f,%s\n", k, cpus, n, solo, ideal, s / n,
					x[1], x[int((n + 1) / 2)], x[n], x[n] / x[1], s * s / (n * q), (s / n) / ideal, batch}' \
			"$D/fairness-guests.csv" >>"$D/fairness.csv"
	done
	say "5. fairness: $D/fairness.csv"
}

want ramp && exp_ramp
if want ramp || want cost || want startup; then exp_qemu; fi
if want cost; then
	exp_cost
	cost_qemu mvm
	cost_qemu tick
	# memory per VM, kvmlite beside raw KVM and QEMU, as bars on a log scale
	if command -v gnuplot >/dev/null && bench/plot_memory.sh -t "Host memory per VM, log scale -- $HOST_LINE" -o "$D/memory.png" "$D/cost.csv" \
		>/dev/null; then
		say "2. plot: $D/memory.png"
	fi
fi
if want startup; then
	timed startup exp_startup
	startup_qemu
fi
want requests && timed requests exp_requests
want fairness && timed fairness exp_fairness
# ======== 6. latency isolation: other guests' request latency beside hostile guests (bench/isolation.sh) ========
if want isolation; then
	settle
	timed isolation run_fg bench/isolation.sh "$MODE" "$D" >/dev/null
	say "6. isolation: $D/isolation-summary.csv"
fi
# ======== 7. the HTTP front door: wrk beside reqload in one spawn (bench/http.sh) ========
if want http; then
	settle
	progress "http: wrk and reqload on one spawn (bench/http.sh $MODE)"
	timed http run_fg bench/http.sh "$MODE" "$D" >/dev/null
	say "7. http: $D/http-summary.csv"
fi
done_progress
echo "total,$(($(date +%s) - T0)),$(load1)" >>"$D/timing.csv"
if [ "$MODE" = full ]; then REPORT=docs/results.md; else REPORT=$D/results.md; fi
bench/results.sh "$D" "$REPORT"
say "report: $REPORT (bench/results.sh $D $REPORT regenerates it); total $(($(date +%s) - T0)) s"
[ "$MODE" = quick ] && say "(quick mode: a smoke run of the benchmarks at small scale, not results to quote: make bench makes those)"
