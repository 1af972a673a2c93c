#!/bin/bash
# isolation.sh - latency isolation: request latency on one worker beside each kind of hostile guest on the other, against the same spawn without them.
#
# Usage: bench/isolation.sh [quick|full] [DATA_DIR]   (run by bench/experiments.sh as the "isolation" experiment)
#
# For each hostile guest (the built-in spin, and tests/integration/hostile_*.S
# that keep running), one spawn of 16 guests on 2 worker processes, laid out
# as in tests/integration/hostile.sh: mvm guests 0-13, the hostile guest as
# 14 and 15 on worker 1. Then ROUNDS rounds, each of three kinds in turn,
# each a closed-loop `reqload` of ROUND_S s on guests 0-7 (worker 0, one
# connection, `req ID id`):
#   baseline  worker 1 stopped (SIGSTOP): its guests cost nothing, as halted
#             mvm guests would: the same spawn without the hostile guests
#   hostile   worker 1 running: the hostile guests at their --cpu-max share
#   busy      worker 1 stopped and a shell busy loop in its place: on this
#             nested host a CPU that goes idle is slow to wake, so requests
#             are often faster beside a busy loop than beside nothing
# Interleaving the kinds spreads the host's own drift over all three. Rows:
# DATA_DIR/isolation.csv (kind, round, mode, p50, p99, requests); summary:
# DATA_DIR/isolation-summary.csv: per kind, the median of the rounds' p50 for
# each mode, the spread (min-max) of the baseline and hostile rounds, and the
# ratio hostile / baseline of the medians. A ratio inside the baseline's own
# spread is the host's noise, not the hostile guests.
set -u
cd "$(dirname "$0")/.."
. bench/lib.sh
MODE=${1:-quick}
D=${2:-build/bench/$MODE}
case $MODE in
full) ROUNDS=9 ROUND_S=1 ;;
quick) ROUNDS=3 ROUND_S=0.25 ;;
*) sed -n '4p' "$0" | sed 's/^# //' >&2; exit 2 ;;
esac
K=build/kvmlite
IT=build/itest
KINDS="spin $IT/hostile_flood.img $IT/hostile_pit_rate.img $IT/hostile_pit_oneshot.img $IT/hostile_ports.img $IT/hostile_mmio.img"
for f in $K build/bench/reqload $IT/hostile_flood.img; do
	[ -e "$f" ] || { echo "isolation: $f missing: make all and the bench programs first (make bench does)" >&2; exit 1; }
done
mkdir -p "$D"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/kvmiso.XXXXXX")
SOCK=$TMP/control
spid='' hw='' burner=''
stop_all() {
	[ -n "$burner" ] && kill "$burner" 2>/dev/null
	[ -n "$hw" ] && kill -CONT "$hw" 2>/dev/null # a stopped worker would hold up the teardown
	if [ -n "$spid" ]; then
		$K stop --socket "$SOCK" >/dev/null 2>&1 || kill -TERM "$spid" 2>/dev/null
		wait "$spid" 2>/dev/null
	fi
	spid='' hw='' burner=''
}
trap 'stop_all; rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM
progress() { [ -t 2 ] && printf '\r\033[K[isolation] %s' "$*" >&2; }

# round MODE: one reqload round on guests 0-7; prints "p50 p99 requests"
round() {
	build/bench/reqload --socket "$SOCK" -c 1 -n 8 -d "$ROUND_S" --warmup 0.05 --req id --json 2>/dev/null |
		awk '{match($0, /"p50":[0-9.]+/); p50 = substr($0, RSTART + 6, RLENGTH - 6)
		      match($0, /"p99":[0-9.]+/); p99 = substr($0, RSTART + 6, RLENGTH - 6)
		      match($0, /"requests":[0-9]+/); n = substr($0, RSTART + 11, RLENGTH - 11)
		      print p50, p99, n}'
}

echo "kind,round,mode,p50_us,p99_us,requests" >"$D/isolation.csv"
for kind in $KINDS; do
	name=$(basename "$kind" .img)
	name=${name#hostile_}
	progress "$name: spawn"
	$K spawn 16 --workers 2 --guest mvm:14 --guest "$kind" --socket "$SOCK" >"$TMP/spawn.out" 2>&1 &
	spid=$!
	for _ in $(seq 600); do
		[ "$($K list --socket "$SOCK" 2>/dev/null | awk '/^booted/ {print $2}')" = 16 ] && break
		sleep 0.1
	done
	hw=$($K stats --json --socket "$SOCK" | sed -n 's/.*"worker_pids":\[[0-9]*,\([0-9]*\)\].*/\1/p')
	[ -n "$hw" ] || { echo "isolation: $name: the spawn did not come up: $(tail -3 "$TMP/spawn.out")" >&2; stop_all; continue; }
	for r in $(seq "$ROUNDS"); do
		progress "$name: round $r/$ROUNDS"
		kill -STOP "$hw"
		echo "$name,$r,baseline,$(round | tr ' ' ,)" >>"$D/isolation.csv"
		(while :; do :; done) &
		burner=$!
		echo "$name,$r,busy,$(round | tr ' ' ,)" >>"$D/isolation.csv"
		kill "$burner"
		wait "$burner" 2>/dev/null
		burner=''
		kill -CONT "$hw"
		echo "$name,$r,hostile,$(round | tr ' ' ,)" >>"$D/isolation.csv"
	done
	stop_all
done
[ -t 2 ] && printf '\r\033[K' >&2

# The summary: medians over the rounds, the spread of the baseline and hostile rounds, the ratio.
awk -F, 'NR > 1 && $4 != "" {k = $1; if (!(k in seen)) {seen[k] = 1; order[++nk] = k}; v[k, $3, ++n[k, $3]] = $4}
	function med(k, m,   a, i, j, t, c) {c = n[k, m]; for (i = 1; i <= c; i++) a[i] = v[k, m, i]
		for (i = 1; i <= c; i++) for (j = i + 1; j <= c; j++) if (a[j] < a[i]) {t = a[i]; a[i] = a[j]; a[j] = t}
		lo[k, m] = a[1]; hi[k, m] = a[c]
		return c ? ((c % 2) ? a[(c + 1) / 2] : (a[c / 2] + a[c / 2 + 1]) / 2) : 0}
	BEGIN {print "kind,rounds,baseline_p50_us,baseline_min_us,baseline_max_us,hostile_p50_us,hostile_min_us,hostile_max_us,busy_p50_us,ratio,baseline_spread"}
	END {for (i = 1; i <= nk; i++) {k = order[i]; b = med(k, "baseline"); h = med(k, "hostile"); l = med(k, "busy")
		printf "%s,%d,%.1f,%.1f,%.1f,%.1f,%.1f,%.1f,%.1f,%.2f,%.2f-%.2f\n", k, n[k, "hostile"], b, lo[k, "baseline"], hi[k, "baseline"],
			h, lo[k, "hostile"], hi[k, "hostile"], l, (b > 0) ? h / b : 0, (b > 0) ? lo[k, "baseline"] / b : 0, (b > 0) ? hi[k, "baseline"] / b : 0}}' \
	"$D/isolation.csv" >"$D/isolation-summary.csv"
echo "isolation: $D/isolation-summary.csv"
column -t -s, "$D/isolation-summary.csv"
