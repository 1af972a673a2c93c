#!/bin/bash
# million.sh - issue 19's benchmark: the boot cycle against its raw floor, a million guests with default flags, ten million parked.
#
# Usage: bench/million.sh [quick|full] [SECTION...]   (make bench-million; quick: small scale)
# SECTIONs: boot million ten (default: boot million; ten takes hours on a 2-CPU host: ask for it)
#
#   boot     the raw boot floor (build/bench/floor --boot: one reused VM, memory slot moved,
#            vCPU made new, kvmlite's firmware and mvm to their first idle hlt) and
#            `kvmlite spawn N_BOOT --park always --for 0`, which boots every guest on a reused
#            VM and parks it: CPU per boot of each (kvmlite: all its processes, from the
#            shell's `time`; the floor: its own), their ratio (target: kvmlite at least 0.8
#            of the floor's boots per CPU second), the boot rate (target 10,000/s) and the
#            rate the floor allows on every CPU of this host
#   million  `kvmlite spawn 1000000 --for 0 --json`, default flags: time to all booted
#            (target 180 s), host memory at the end (25%), memory per parked guest (1 KiB),
#            teardown (30 s), and the host back at its baseline (memory, processes)
#   ten      `kvmlite spawn 10000000` kept up; once all booted, `reqload --sweep --sample
#            100000 --req id`: a random 100,000 answer their own index (resume p50 <= 1 ms);
#            time to all booted (20 minutes), host memory (80%)
# Prints a report; writes build/bench/million.json (one JSON object per section, a line each).
set -u
cd "$(dirname "$0")/.."
MODE=${1:-quick}
shift
SECTIONS=${*:-boot million}
want() { [[ " $SECTIONS " == *" $1 "* ]]; }
K=build/kvmlite
OUT=build/bench/million.json
S=$(mktemp -d)
chmod 700 "$S"
SOCK=$S/control
trap 'rm -rf "$S"' EXIT
CPUS=$(nproc)
if [ "$MODE" = full ]; then
	N_BOOT=50000 ROUNDS=3 BOOTS_FLOOR=2000 N_MILLION=1000000 N_TEN=10000000 N_SAMPLE=100000
else
	N_BOOT=5000 ROUNDS=3 BOOTS_FLOOR=500 N_MILLION=100000 N_TEN=1000000 N_SAMPLE=10000
fi

. bench/lib.sh # jget, median, ratio, settle
progress() { printf '\r\033[K[%s] %s' "$(date +%T)" "$*" >&2; }
done_progress() { printf '\r\033[K' >&2; }
procs() { ls -d /proc/[0-9]* | wc -l; }
mem_avail() { awk '/MemAvailable/ {print $2}' /proc/meminfo; }

[ -c /dev/kvm ] || { echo "bench: /dev/kvm is absent: nothing to measure" >&2; exit 1; }
host=$(build/bench/raw_baseline -n 1 --json 2>/dev/null)
echo "kvmlite million benchmarks ($MODE), $(date -u +%FT%TZ)"
echo "host: $(hostname), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $CPUS CPUs," \
	"$(free -g | awk '/Mem:/ {print $2}') GiB, Linux $(uname -r)," \
	"KVM backend $(echo "$host" | sed -n 's/.*"backend":"\([^"]*\)".*/\1/p'), load $(cut -d' ' -f1 /proc/loadavg)"
echo "{\"mode\":\"$MODE\",\"date\":\"$(date -u +%FT%TZ)\",\"host\":$host}" >"$OUT"

# timed_spawn N ARGS...: runs `kvmlite spawn N ARGS --json`; the JSON in $S/spawn.json, the
# CPU of all its processes (user + sys, s) in $S/cpu, the seconds from the summary to the end
# (the teardown) in $S/teardown
timed_spawn() {
	local n=$1 t_sum t_end
	shift
	: >"$S/spawn.json"
	(
		TIMEFORMAT='%U %S'
		{ time $K spawn "$n" "$@" --json --socket "$SOCK" >"$S/spawn.json" 2>"$S/spawn.err"; } 2>"$S/time"
	) &
	local pid=$!
	while kill -0 "$pid" 2>/dev/null && ! grep -q '}$' "$S/spawn.json" 2>/dev/null; do sleep 0.1; done
	t_sum=$(date +%s.%N)
	wait "$pid"
	t_end=$(date +%s.%N)
	awk '{printf "%.3f\n", $1 + $2}' "$S/time" >"$S/cpu"
	awk -v a="$t_sum" -v b="$t_end" 'BEGIN {printf "%.1f\n", b - a}' >"$S/teardown"
}

# ---- boot: the boot cycle against its raw floor ----
if want boot; then
	: >"$S/floor"; : >"$S/kvm"; : >"$S/rate"
	for r in $(seq "$ROUNDS"); do
		settle
		progress "boot round $r/$ROUNDS: the raw floor, $BOOTS_FLOOR boots"
		build/bench/floor --boot --boots "$BOOTS_FLOOR" --rounds 1 --json >"$S/floor.json" 2>"$S/floor.err" ||
			{ done_progress; echo "boot floor failed: $(cat "$S/floor.err")"; exit 1; }
		sed -n 's/.*"boot":{[^}]*"cpu_us":\([0-9.]*\).*/\1/p' "$S/floor.json" >>"$S/floor"
		settle
		progress "boot round $r/$ROUNDS: kvmlite spawn $N_BOOT --park always --for 0"
		timed_spawn "$N_BOOT" --park always --for 0
		[ "$(jget booted <"$S/spawn.json")" = "$N_BOOT" ] ||
			{ done_progress; echo "kvmlite spawn $N_BOOT failed: $(tail -3 "$S/spawn.err")"; exit 1; }
		awk -v c="$(cat "$S/cpu")" -v n="$N_BOOT" 'BEGIN {printf "%.1f\n", c * 1e6 / n}' >>"$S/kvm"
		jget boot_rate_per_s <"$S/spawn.json" >>"$S/rate"
	done
	done_progress
	floor=$(median <"$S/floor"); kvm=$(median <"$S/kvm"); rate=$(median <"$S/rate")
	rel=$(ratio "$floor" "$kvm")
	ceiling=$(awk -v c="$CPUS" -v f="$floor" 'BEGIN {printf "%.0f", c * 1e6 / f}')
	echo
	echo "boot: a guest booted on a reused VM to its first idle hlt (firmware and mvm), median of $ROUNDS rounds"
	echo "   raw floor (one VM, slot moved, vCPU made new, 8 exits)   $floor µs CPU a boot   rounds: $(tr '\n' ' ' <"$S/floor")"
	echo "   kvmlite spawn $N_BOOT --park always (all its CPU)      $kvm µs CPU a boot   rounds: $(tr '\n' ' ' <"$S/kvm")"
	echo "   kvmlite / floor, boots per CPU second: $rel (target >= 0.8: $(awk -v r="$rel" 'BEGIN {print (r >= 0.8) ? "met" : "NOT met"}'))"
	echo "   kvmlite boot rate $rate /s (target >= 10,000/s: $(awk -v r="$rate" 'BEGIN {print (r >= 10000) ? "met" : "NOT met"}'));" \
		"the floor on all $CPUS CPUs allows $ceiling /s"
	echo "{\"boot\":{\"floor_cpu_us\":$floor,\"kvmlite_cpu_us\":$kvm,\"kvmlite_over_floor\":$rel,\"boot_rate_per_s\":$rate,\"floor_ceiling_per_s\":$ceiling,\"guests\":$N_BOOT,\"rounds\":$ROUNDS}}" >>"$OUT"
fi

# ---- million: default flags ----
if want million; then
	settle
	mem0=$(mem_avail); procs0=$(procs)
	progress "million: kvmlite spawn $N_MILLION --for 0 (default flags)"
	timed_spawn "$N_MILLION" --for 0
	done_progress
	settle
	mem1=$(mem_avail); procs1=$(procs)
	j=$S/spawn.json
	booted=$(jget booted <"$j"); t=$(jget time_to_all_booted_s <"$j"); pct=$(jget host_mem_used_pct <"$j")
	anon=$(jget vmm_anon_kib <"$j"); per=$(jget vmm_userspace_kib_per_parked <"$j")
	all_in=$(awk -v a="$anon" -v n="$booted" 'BEGIN {printf "%.2f", (n > 0) ? a / n : 0}')
	back=$(awk -v a="$mem0" -v b="$mem1" 'BEGIN {printf "%.0f", (a - b) / 1024}')
	met() { awk -v v="$1" -v t="$2" 'BEGIN {print (v <= t) ? "met" : "NOT met"}'; }
	echo
	echo "million: kvmlite spawn $N_MILLION --for 0, default flags"
	echo "   $booted booted, $(jget failed <"$j") failed, $(jget lost <"$j") lost; parked at the end $(jget parked_at_end <"$j")," \
		"$(jget workers <"$j") workers"
	echo "   time to all booted $t s, $(jget boot_rate_per_s <"$j") /s (target <= 180 s: $(met "$t" 180))"
	echo "   host memory in use at the end $pct % (target <= 25 %: $(met "$pct" 25))"
	echo "   per parked guest: $per KiB counted; the workers' anonymous memory $anon KiB, $all_in KiB a guest all-in" \
		"(target <= 1 KiB: $(met "$all_in" 1)); page tables $(jget page_tables_kib <"$j") KiB"
	echo "   teardown $(cat "$S/teardown") s (target <= 30 s: $(met "$(cat "$S/teardown")" 30));" \
		"afterwards MemAvailable $back MB below before, processes $procs0 -> $procs1; CPU $(cat "$S/cpu") s"
	echo "{\"million\":$(cat "$j"),\"teardown_s\":$(cat "$S/teardown"),\"cpu_s\":$(cat "$S/cpu"),\"mem_not_back_mb\":$back,\"procs_before\":$procs0,\"procs_after\":$procs1}" >>"$OUT"
fi

# ---- ten: ten million parked, a random sample answering ----
if want ten; then
	settle
	progress "ten: kvmlite spawn $N_TEN (kept up until the sample is asked)"
	t0=$(date +%s.%N)
	$K spawn "$N_TEN" --socket "$SOCK" >/dev/null 2>"$S/ten.err" &
	spid=$!
	while kill -0 "$spid" 2>/dev/null; do
		b=$($K list --socket "$SOCK" 2>/dev/null | awk '/^booted/ {print $2}')
		progress "ten: ${b:-0} of $N_TEN booted, $(awk '{print $1}' /proc/loadavg) load, $(free -m | awk '/Mem:/ {printf "%.0f%%", 100 * ($2 - $7) / $2}') memory"
		[ "${b:-0}" = "$N_TEN" ] && break
		sleep 5
	done
	t1=$(date +%s.%N)
	pct=$(free -m | awk '/Mem:/ {printf "%.1f", 100 * ($2 - $7) / $2}')
	progress "ten: asking $N_SAMPLE guests drawn at random for their id"
	build/bench/reqload --socket "$SOCK" -n "$N_TEN" -c 1 --sweep --sample "$N_SAMPLE" --req id --json >"$S/sample.json" 2>"$S/sample.err"
	$K stop --socket "$SOCK" >/dev/null 2>&1
	wait "$spid"
	done_progress
	echo
	echo "ten: kvmlite spawn $N_TEN, default flags"
	echo "   all booted in $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f", b - a}') s (target <= 1200 s); host memory then $pct % (target <= 80 %)"
	echo "   $N_SAMPLE drawn at random asked \`id\`: $(jget requests <"$S/sample.json") answers, $(jget errors <"$S/sample.json") wrong or failed;" \
		"latency p50 $(jget p50 <"$S/sample.json") µs (target <= 1000), p99 $(jget p99 <"$S/sample.json") µs"
	echo "{\"ten\":{\"guests\":$N_TEN,\"booted_s\":$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}'),\"host_mem_used_pct\":$pct,\"sample\":$(cat "$S/sample.json")}}" >>"$OUT"
fi
