#!/bin/bash
# spawn.sh - the spawn benchmarks: boot rate and density against the raw-ioctl baseline, idle CPU, request latency.
#
# Usage: bench/spawn.sh [quick|full] [SECTION...]   (make bench-quick / make bench)
# SECTIONs: rate idle req density park (default: all of them).
# Every kvmlite figure is shown next to its baseline measured in the same
# run: the raw loop of bench/raw_baseline.c on the same guest image. Prints
# a readable report and writes build/bench/spawn-results.json. Guests run
# with --firmware none, as the raw loop does (no BIOS): the minimal guest;
# the firmware would add 4 KiB of RAM and its ~0.5 ms run to each.
set -u
cd "$(dirname "$0")/.."
MODE=${1:-quick}
shift
SECTIONS=${*:-rate idle req density park}
want() { [[ " $SECTIONS " == *" $1 "* ]]; }
K=build/kvmlite
OUT=build/bench/spawn-results.json
SOCK=$(mktemp -d)/control
CPUS=$(nproc)
if [ "$MODE" = full ]; then
	N_RATE=20000 ROUNDS=3 N_IDLE=10000 IDLE_S=60 N_TICK=1000 TICK_S=30 N_REQ=20000 REQ_S=10 N_DENSE=100000
	N_PARK=100000 N_RESUME=20000 PARK_ARGS=
else
	N_RATE=2000 ROUNDS=3 N_IDLE=1000 IDLE_S=10 N_TICK=200 TICK_S=10 N_REQ=2000 REQ_S=5 N_DENSE=0
	N_PARK=10000 N_RESUME=2000 PARK_ARGS="--resident 2000" # at small scale, make --park auto park
fi

. bench/lib.sh # jget, median, ratio, settle
progress() { printf '\r\033[K[%s] %s' "$(date +%T)" "$*" >&2; }

[ -c /dev/kvm ] || { echo "bench: /dev/kvm is absent: nothing to measure" >&2; exit 1; }
host=$(build/bench/raw_baseline -n 1 --json 2>/dev/null)
echo "kvmlite spawn benchmarks ($MODE), $(date -u +%FT%TZ)"
echo "host: $(hostname), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $CPUS CPUs, $(free -g | awk '/Mem:/ {print $2}') GiB," \
	"Linux $(uname -r), KVM backend $(echo "$host" | sed -n 's/.*"backend":"\([^"]*\)".*/\1/p'), RLIMIT_NOFILE $(ulimit -Hn)"
echo "{\"mode\":\"$MODE\",\"date\":\"$(date -u +%FT%TZ)\",\"host\":$host}" >"$OUT"

# ---- 1. boot rate: kvmlite spawn to first serial byte vs the raw loop to first hlt, same image ----
if want rate; then
: >"$OUT.raw"; : >"$OUT.kvm"
for r in $(seq "$ROUNDS"); do
	settle
	progress "boot rate round $r/$ROUNDS: kvmlite spawn $N_RATE"
	$K spawn "$N_RATE" --firmware none --park never --for 0 --json --socket "$SOCK" 2>/dev/null >"$OUT.last"
	jget boot_rate_per_s <"$OUT.last" >>"$OUT.kvm"
	jget time_to_all_booted_s <"$OUT.last" >>"$OUT.boot"
	# The baseline gets as many processes as kvmlite used: VM creation
	# and teardown cost O(VMs per process) each (MMU notifiers).
	procs=$(jget workers <"$OUT.last")
	settle
	progress "boot rate round $r/$ROUNDS: raw baseline, $N_RATE mvm guests, $procs processes"
	build/bench/raw_baseline -n "$N_RATE" -p "$procs" -i build/guest/mvm.img --json 2>/dev/null | jget rate_per_s >>"$OUT.raw"
done
raw=$(median <"$OUT.raw"); kvm=$(median <"$OUT.kvm"); boot=$(median <"$OUT.boot")
printf '\r\033[K' >&2
echo
echo "1. boot rate, $N_RATE mvm guests, median of $ROUNDS rounds"
echo "   raw baseline, $procs processes (create, memslot, vCPU, run to first hlt)  $raw guests/s   rounds: $(tr '\n' ' ' <"$OUT.raw")"
echo "   kvmlite spawn (to first serial byte)                    $kvm guests/s   rounds: $(tr '\n' ' ' <"$OUT.kvm")"
echo "   kvmlite / raw                                            $(ratio "$kvm" "$raw")   (target >= 0.85)"
echo "   time to all $N_RATE booted                                   $boot s (median)"
echo "   memory per guest (last round): VMM userspace $(jget vmm_userspace_kib_per_guest <"$OUT.last") KiB," \
	"kernel $(jget kernel_kib_per_guest <"$OUT.last") KiB"
echo "{\"boot_rate\":{\"guests\":$N_RATE,\"raw_per_s\":$raw,\"kvmlite_per_s\":$kvm,\"ratio\":$(ratio "$kvm" "$raw"),\"time_to_all_booted_s\":$boot}}" >>"$OUT"
fi

# ---- 2. idle CPU: mvm (PIT off) and tick (PIT at 18.2 Hz) ----
if want idle; then
settle
progress "idle CPU: raw baseline holding $N_IDLE idle guests for $IDLE_S s"
idle_raw=$(build/bench/raw_baseline -n "$N_IDLE" -p "$CPUS" -i build/guest/mvm.img --hold "$IDLE_S" --json 2>/dev/null |
	jget host_cpu_pct)
settle
progress "idle CPU: $N_IDLE mvm guests for $IDLE_S s"
$K spawn "$N_IDLE" --firmware none --park never --for "$IDLE_S" --json --socket "$SOCK" 2>/dev/null >"$OUT.last"
idle_mvm=$(jget host_cpu_idle_pct <"$OUT.last")
idle_vmm=$(jget vmm_cpu_idle_pct <"$OUT.last")
settle
progress "idle CPU: $N_TICK tick guests for $TICK_S s"
$K spawn "$N_TICK" --firmware none --park never --guest tick --for "$TICK_S" --json --socket "$SOCK" 2>/dev/null >"$OUT.last"
idle_tick=$(jget host_cpu_idle_pct <"$OUT.last")
printf '\r\033[K' >&2
echo
echo "2. host CPU while guests idle (all $CPUS CPUs, /proc/stat)"
echo "   $N_IDLE mvm guests (PIT off), $IDLE_S s: host $idle_mvm %, of which kvmlite's processes $idle_vmm %"
echo "   the same number of raw-baseline VMs held idle (KVM's own floor): host $idle_raw %"
echo "   (target: 10,000 idle mvm guests cost at most 0.5 % over 60 s)"
echo "   $N_TICK tick guests (PIT 18.2 Hz), $TICK_S s   $idle_tick %   ($(awk -v c="$idle_tick" -v n="$N_TICK" -v p="$CPUS" \
	'BEGIN {printf "%.1f", c / 100 * p * 1e6 / (n * 18.2)}') µs of CPU per timer interrupt)"
echo "{\"idle_cpu\":{\"mvm_guests\":$N_IDLE,\"mvm_seconds\":$IDLE_S,\"mvm_pct\":$idle_mvm,\"vmm_pct\":$idle_vmm,\"raw_floor_pct\":$idle_raw,\"tick_guests\":$N_TICK,\"tick_seconds\":$TICK_S,\"tick_pct\":$idle_tick}}" >>"$OUT"
fi

# ---- 3. request round trips through the control socket ----
if want req; then
settle
progress "requests: spawning $N_REQ guests"
$K spawn "$N_REQ" --firmware none --park never --socket "$SOCK" >/dev/null 2>&1 &
spid=$!
for _ in $(seq 600); do
	[ "$($K list --socket "$SOCK" 2>/dev/null | awk '/^booted/ {print $2}')" = "$N_REQ" ] && break
	sleep 0.5
done
echo
echo "3. request round trips (req ID ping -> pong), $N_REQ guests live, closed loop, $REQ_S s each"
for c in 1 16; do
	progress "requests: $c connection(s)"
	e0=$($K stats --json --socket "$SOCK" | jget exits)
	build/bench/reqload --socket "$SOCK" -n "$N_REQ" -c "$c" -d "$REQ_S" --json >"$OUT.req" 2>/dev/null
	e1=$($K stats --json --socket "$SOCK" | jget exits)
	reqs=$(jget requests <"$OUT.req"); tput=$(jget throughput <"$OUT.req")
	p50=$(jget p50 <"$OUT.req"); p99=$(jget p99 <"$OUT.req")
	epr=$(awk -v a="$e0" -v b="$e1" -v r="$reqs" 'BEGIN {printf "%.1f", (r > 0) ? (b - a) / r : 0}')
	printf '\r\033[K' >&2
	echo "   $c connection(s): $tput req/s, p50 $p50 µs, p99 $p99 µs, $epr VM exits per request" \
		"(~$(awk -v t="$tput" -v e="$epr" 'BEGIN {printf "%.0f", t * e}') exits/s)"
	echo "{\"requests\":{\"guests\":$N_REQ,\"conns\":$c,\"per_s\":$tput,\"p50_us\":$p50,\"p99_us\":$p99,\"exits_per_request\":$epr}}" >>"$OUT"
done
echo "   (targets with 20,000 live: p50 <= 200 µs, p99 <= 2 ms)"
$K stop --socket "$SOCK" >/dev/null 2>&1
wait "$spid"
fi

# ---- 4. density: live guests under the 90% memory budget (full only) ----
if [ "$N_DENSE" -gt 0 ] && want density; then
	settle
	progress "density: raw baseline up to $N_DENSE guests or 90% memory"
	dense_raw=$(build/bench/raw_baseline -n "$N_DENSE" -p 6 --mem-budget 90 -i build/guest/mvm.img --json 2>/dev/null | jget created)
	settle
	progress "density: kvmlite spawn up to $N_DENSE guests or 90% memory"
	$K spawn "$N_DENSE" --firmware none --park never --mem-budget 90 --for 0 --json --socket "$SOCK" 2>/dev/null >"$OUT.last"
	dense_kvm=$(jget booted <"$OUT.last")
	printf '\r\033[K' >&2
	echo
	echo "4. live guests until the first host limit (memory budget 90%, or kernel.pid_max: the summary says which)"
	echo "   raw baseline $dense_raw, kvmlite $dense_kvm, ratio $(ratio "$dense_kvm" "$dense_raw") (target >= 0.95)"
	echo "{\"density\":{\"raw\":$dense_raw,\"kvmlite\":$dense_kvm,\"ratio\":$(ratio "$dense_kvm" "$dense_raw")}}" >>"$OUT"
fi
# ---- 5. parking: more guests than fit live, every one answering ----
if want park; then
	settle
	progress "parking: kvmlite spawn $N_PARK $PARK_ARGS --for 0"
	t0=$(date +%s.%N)
	$K spawn "$N_PARK" --firmware none $PARK_ARGS --for 0 --json --socket "$SOCK" 2>/dev/null >"$OUT.last"
	t1=$(date +%s.%N)
	printf '\r\033[K' >&2
	echo
	echo "5. parking (--park auto, the default): $N_PARK mvm guests $PARK_ARGS"
	echo "   kvmlite spawn $N_PARK $PARK_ARGS --for 0: $(jget booted <"$OUT.last") booted in $(jget time_to_all_booted_s <"$OUT.last") s," \
		"command done (teardown included) in $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}') s (target <= 180 s)"
	echo "   at the end: $(jget resident_at_end <"$OUT.last") resident, $(jget parked_at_end <"$OUT.last") parked;" \
		"host memory in use $(jget host_mem_used_pct <"$OUT.last") % (target < 90 %)"
	echo "   per resident guest: VMM userspace $(jget vmm_userspace_kib_per_guest <"$OUT.last") KiB," \
		"kernel $(jget kernel_kib_per_guest <"$OUT.last") KiB; per parked guest: $(jget vmm_userspace_kib_per_parked <"$OUT.last") KiB," \
		"no kernel memory (target <= 12 KiB)"
	echo "{\"park_boot\":$(cat "$OUT.last"),\"command_s\":$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}')}" >>"$OUT"

	# Every guest answers: a sweep of `id` over all of them, 16 connections.
	settle
	progress "parking: $N_PARK guests up, sweeping id over all of them"
	$K spawn "$N_PARK" --firmware none $PARK_ARGS --socket "$SOCK" >/dev/null 2>&1 &
	spid=$!
	for _ in $(seq 1200); do
		[ "$($K list --socket "$SOCK" 2>/dev/null | awk '/^booted/ {print $2}')" = "$N_PARK" ] && break
		sleep 0.5
	done
	build/bench/reqload --socket "$SOCK" -n "$N_PARK" -c 16 --sweep --req id --json >"$OUT.req" 2>/dev/null
	$K stats --json --socket "$SOCK" >"$OUT.stats"
	$K stop --socket "$SOCK" >/dev/null 2>&1
	wait "$spid"
	printf '\r\033[K' >&2
	echo "   sweep: $(jget requests <"$OUT.req") requests, $(jget errors <"$OUT.req") wrong or failed answers," \
		"$(jget throughput <"$OUT.req") req/s, p50 $(jget p50 <"$OUT.req") µs, p99 $(jget p99 <"$OUT.req") µs;" \
		"$(jget resumes <"$OUT.stats") resumes, pool hits $(jget pool_hits <"$OUT.stats")"
	echo "{\"park_sweep\":$(cat "$OUT.req"),\"stats\":$(cat "$OUT.stats")}" >>"$OUT"

	# Resume latency: the same sweep (1 connection) to resident guests
	# (--park never) and to parked ones (--park always), same run.
	for mode in never always; do
		settle
		progress "parking: resume latency, $N_RESUME guests, --park $mode"
		$K spawn "$N_RESUME" --firmware none --park $mode --socket "$SOCK" >/dev/null 2>&1 &
		spid=$!
		for _ in $(seq 600); do
			[ "$($K list --socket "$SOCK" 2>/dev/null | awk '/^booted/ {print $2}')" = "$N_RESUME" ] && break
			sleep 0.5
		done
		sleep 1 # every guest halted (and parked, with always)
		build/bench/reqload --socket "$SOCK" -n "$N_RESUME" -c 1 --sweep --req id --json >"$OUT.$mode" 2>/dev/null
		$K stats --json --socket "$SOCK" >"$OUT.stats.$mode"
		$K stop --socket "$SOCK" >/dev/null 2>&1
		wait "$spid"
	done
	printf '\r\033[K' >&2
	rp50=$(jget p50 <"$OUT.never"); rp99=$(jget p99 <"$OUT.never")
	pp50=$(jget p50 <"$OUT.always"); pp99=$(jget p99 <"$OUT.always")
	hits=$(jget pool_hits <"$OUT.stats.always"); res=$(jget resumes <"$OUT.stats.always")
	d50=$(awk -v a="$pp50" -v b="$rp50" 'BEGIN {printf "%.0f", a - b}')
	d99=$(awk -v a="$pp99" -v b="$rp99" 'BEGIN {printf "%.0f", a - b}')
	echo "   resume latency, $N_RESUME guests, one connection: resident p50 $rp50 µs p99 $rp99 µs;" \
		"parked p50 $pp50 µs p99 $pp99 µs"
	echo "   -> resuming adds p50 $d50 µs, p99 $d99 µs (targets 1,000 and 5,000 µs); pool hit rate" \
		"$(ratio "$hits" "$res") ($hits of $res resumes)"
	echo "{\"resume\":{\"guests\":$N_RESUME,\"resident_p50_us\":$rp50,\"resident_p99_us\":$rp99,\"parked_p50_us\":$pp50,\"parked_p99_us\":$pp99,\"resume_p50_us\":$d50,\"resume_p99_us\":$d99,\"pool_hits\":$hits,\"resumes\":$res}}" >>"$OUT"
	rm -f "$OUT.never" "$OUT.always" "$OUT.stats" "$OUT.stats.never" "$OUT.stats.always"
fi
rm -f "$OUT.raw" "$OUT.kvm" "$OUT.boot" "$OUT.last" "$OUT.req"
echo
echo "results: $OUT"
