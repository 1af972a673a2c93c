#!/bin/bash
# http.sh - the HTTP front door under wrk beside bench/reqload on the control socket, in one spawn: rates, latencies, the gateway's cost.
#
# Usage: bench/http.sh [quick|full] [DATA_DIR]   (run by bench/experiments.sh as the "http" experiment)
#
# One spawn of GUESTS mvm guests (full: 20,000; quick: 1,000) with --http.
# Both clients send each guest the same line, `GET /ping` (answer `200 OK
# /ping`), so the guests' work is the same and what differs is the path:
# wrk asks guests GUESTS/2..GUESTS-1 through HTTP (GET /guests/ID/ping,
# bench/http.lua), reqload asks guests 0..GUESTS/2-1 through the unix
# socket (`req ID GET /ping`), each with CONNS connections in a closed
# loop. ROUNDS rounds, each of three runs of SECONDS: wrk alone, reqload
# alone, then both at once. For the runs alone, the supervisor's CPU time
# (/proc, utime + stime) over the run divided by the requests answered:
# its cost per request by each path; the difference is what the HTTP
# gateway (parsing, routing, the response) adds. Rows: DATA_DIR/http.csv;
# medians over the rounds: DATA_DIR/http-summary.csv.
set -u
cd "$(dirname "$0")/.."
. bench/lib.sh
MODE=${1:-quick}
D=${2:-build/bench/$MODE}
case $MODE in
full) GUESTS=20000 CONNS=16 SECONDS_RUN=10 ROUNDS=3 ;;
quick) GUESTS=1000 CONNS=16 SECONDS_RUN=1 ROUNDS=1 ;;
*) sed -n '4p' "$0" | sed 's/^# //' >&2; exit 2 ;;
esac
K=build/kvmlite
for f in $K build/bench/reqload; do
	[ -x "$f" ] || { echo "http: $f missing: make all and the bench programs first (make bench does)" >&2; exit 1; }
done
command -v wrk >/dev/null || { echo "http: wrk is missing (Debian package wrk; make deps-bench installs it)" >&2; exit 1; }
mkdir -p "$D"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/kvmhttp.XXXXXX")
SOCK=$TMP/control
spid=''
stop_all() {
	if [ -n "$spid" ]; then
		$K stop --socket "$SOCK" >/dev/null 2>&1 || kill -TERM "$spid" 2>/dev/null
		wait "$spid" 2>/dev/null
	fi
	spid=''
}
trap 'stop_all; rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM
progress() { [ -t 2 ] && printf '\r\033[K[http] %s' "$*" >&2; }
ticks() { awk '{sub(/.*\) /, ""); print $12 + $13}' "/proc/$spid/stat"; }
HZ=$(getconf CLK_TCK)
HALF=$((GUESTS / 2))

# the two clients; each prints reqload's JSON keys (seconds requests errors throughput p50 p90 p99 p99.9 max)
run_wrk() {
	HTTP_FIRST=$HALF HTTP_COUNT=$((GUESTS - HALF)) wrk -t1 -c "$CONNS" -d "${SECONDS_RUN}s" -s bench/http.lua \
		"http://127.0.0.1:$PORT/" 2>/dev/null | grep '^{'
}
run_reqload() {
	build/bench/reqload --socket "$SOCK" -n "$HALF" -c "$CONNS" -d "$SECONDS_RUN" --warmup 0 --req 'GET /ping' \
		--json 2>/dev/null
}
# row ROUND MODE CLIENT JSON CPU_TICKS: one line of http.csv
row() {
	local j=$4
	echo "$1,$2,$3,$CONNS,$(jget seconds <<<"$j"),$(jget requests <<<"$j"),$(jget errors <<<"$j")," \
		"$(jget throughput <<<"$j"),$(jget p50 <<<"$j"),$(jget p90 <<<"$j"),$(jget p99 <<<"$j"),$(jget 'p99\.9' <<<"$j")," \
		"$(jget max <<<"$j"),$(awk -v t="$5" -v n="$(jget requests <<<"$j")" -v hz="$HZ" \
			'BEGIN {if (t != "" && n > 0) printf "%.1f", t * 1e6 / hz / n}')" | tr -d ' ' >>"$D/http.csv"
}

progress "starting $GUESTS mvm guests with --http"
$K spawn "$GUESTS" --guest mvm --firmware none --socket "$SOCK" --http 127.0.0.1:0 >"$TMP/spawn.out" 2>"$TMP/spawn.err" &
spid=$!
for _ in $(seq 3000); do
	[ "$($K list --socket "$SOCK" 2>/dev/null | awk '/^booted/ {print $2}')" = "$GUESTS" ] && break
	kill -0 "$spid" 2>/dev/null || break
	sleep 0.2
done
PORT=$(sed -n 's/^kvmlite: http on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$TMP/spawn.err")
if [ -z "$PORT" ] || [ "$($K list --socket "$SOCK" 2>/dev/null | awk '/^booted/ {print $2}')" != "$GUESTS" ]; then
	echo "http: the spawn did not come up: $(tail -3 "$TMP/spawn.err")" >&2
	exit 1
fi
echo "round,mode,client,conns,seconds,requests,errors,req_per_s,p50_us,p90_us,p99_us,p999_us,max_us,supervisor_cpu_us_per_req" \
	>"$D/http.csv"
for r in $(seq "$ROUNDS"); do
	progress "round $r/$ROUNDS: wrk alone"
	t0=$(ticks)
	j=$(run_wrk)
	row "$r" alone http "$j" $(($(ticks) - t0))
	progress "round $r/$ROUNDS: reqload alone"
	t0=$(ticks)
	j=$(run_reqload)
	row "$r" alone unix "$j" $(($(ticks) - t0))
	progress "round $r/$ROUNDS: both at once"
	run_wrk >"$TMP/wrk.json" &
	w=$!
	run_reqload >"$TMP/req.json"
	wait "$w"
	row "$r" both http "$(cat "$TMP/wrk.json")" ''
	row "$r" both unix "$(cat "$TMP/req.json")" ''
done
stop_all
[ -t 2 ] && printf '\r\033[K' >&2

# Medians over the rounds per mode and client; the gateway's cost: HTTP's CPU per request less the socket's.
awk -F, 'NR > 1 && $8 != "" {k = $2 "," $3; if (!(k in seen)) {seen[k] = 1; order[++nk] = k}; c = ++n[k]
		for (f = 6; f <= 14; f++) v[k, f, c] = $f}
	function med(k, f,   a, i, j, t, c) {c = n[k]; for (i = 1; i <= c; i++) a[i] = v[k, f, i]
		for (i = 1; i <= c; i++) for (j = i + 1; j <= c; j++) if (a[j] + 0 < a[i] + 0) {t = a[i]; a[i] = a[j]; a[j] = t}
		return (c % 2) ? a[(c + 1) / 2] : (a[c / 2] + a[c / 2 + 1]) / 2}
	BEGIN {print "mode,client,rounds,requests,errors,req_per_s,p50_us,p90_us,p99_us,p999_us,max_us,supervisor_cpu_us_per_req,gateway_cpu_us_per_req"}
	END {h = med("alone,http", 14); u = med("alone,unix", 14)
		for (i = 1; i <= nk; i++) {k = order[i]
			printf "%s,%d,%d,%d,%.0f,%.0f,%.0f,%.0f,%.0f,%.0f,%s,%s\n", k, n[k], med(k, 6), med(k, 7), med(k, 8), med(k, 9),
				med(k, 10), med(k, 11), med(k, 12), med(k, 13), (k ~ /^alone/) ? sprintf("%.1f", med(k, 14)) : "",
				(k == "alone,http" && h != "" && u != "") ? sprintf("%.1f", h - u) : ""}}' "$D/http.csv" >"$D/http-summary.csv"
echo "http: $D/http-summary.csv"
column -t -s, "$D/http-summary.csv"
