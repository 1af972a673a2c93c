#!/bin/bash
# tool.sh - kvmlite spawn as a Unix tool: honest counts, merged ranges, JSON to its schema, Prometheus metrics, watch, consoles and lines that fit.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/spawn_lib.sh
export LC_ALL=C
# Debian's python3 (with python3-prometheus-client), not another one earlier on PATH
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
schema() { "$PY" tests/integration/json_schema.py docs/json.md "$1"; } # schema SECTION <JSON

# ---- a guest is booted, failed, lost or ended exactly once ----
# Two guests print and crash at once; the third prints only after 3.3 s of PIT periods. The spawn
# counted the crashed guests twice (booted and failed) as settled, so it called all booted before
# the third had and summed up without it.
timeout 300 "$KVMLITE" spawn 3 --guest crash:2 --guest build/itest/late.img --for 0 --json --socket "$SOCK" \
	>"$T/count.json" 2>"$T/count.err"
st=$?
count() { "$PY" -c "import json,sys; d=json.load(open('$T/count.json')); print(eval(sys.argv[1]))" "$1" 2>/dev/null; }
check "a guest that printed and crashed is booted once and failed once; the spawn waits for the late one" \
	"[ $st = 1 ] && [ \"\$(count 'd[\"booted\"], d[\"failed\"], d[\"ended\"], d[\"live_at_end\"]')\" = '(3, 2, 1, 0)' ]" \
	"status $st: $(cat "$T/count.json" "$T/count.err")"
check "every guest ends in exactly one of live, ended, failed, lost, not created" \
	"[ \"\$(count 'd[\"live_at_end\"] + d[\"ended\"] + d[\"failed\"] + d[\"lost\"] + d[\"not_created\"]')\" = 3 ]"
check "time to all booted is when the last guest booted, and every stage mean is measured" \
	"[ \"\$(count 'd[\"time_to_all_booted_s\"] * 1000 >= d[\"boot_ms\"][\"max\"] and all(v and v > 0 for v in d[\"stage_us\"].values())')\" = True ]" \
	"$(cat "$T/count.json")"
schema 'spawn summary' <"$T/count.json" >"$T/schema" 2>&1
check "the spawn summary follows docs/json.md" "[ ! -s '$T/schema' ]" "$(cat "$T/schema")"

# ---- one spawn over three workers: ranges, JSON, Prometheus, watch, console ----
N=300
mkdir -p "$T/prom"
start_spawn $N --workers 3 --park never --metrics-file "$T/prom/kvmlite.prom" ||
	bad "spawn $N over three workers booted" "$(cat "$T/spawn.err")"
check "list halted merges the ranges of the three workers" "[ \"\$(ctl list halted)\" = 0-$((N - 1)) ]" \
	"$(ctl list halted 2>&1)"
ctl stop 150 >/dev/null
ended150() { ctl info 150 | grep -q '^ended'; }
wait_for 60 ended150
check "a range split by a stopped guest stays split" \
	"[ \"\$(ctl list halted)\" = 0-149,151-$((N - 1)) ] && [ \"\$(ctl list ended)\" = 150 ]" "$(ctl list halted 2>&1)"
ctl list halted --json >"$T/lj"
check "list STATE --json follows docs/json.md and counts the ids" \
	"schema 'list ranges' <'$T/lj' && grep -q '\"count\":$((N - 1)),\"ranges\":\[\[0,149\],\[151,$((N - 1))\]\]' '$T/lj'" \
	"$(cat "$T/lj")"
check "list --json follows docs/json.md" "ctl list --json | schema 'list counts'"
check "info --json follows docs/json.md" "ctl info 7 --json | schema 'info' && ctl info 150 --json | schema 'info'" \
	"$(ctl info 7 --json 2>&1)"
check "stats --json follows docs/json.md" "ctl stats --json | schema 'stats'" "$(ctl stats --json | schema stats 2>&1)"

# Prometheus: parsed by the client library's text parser, names by the conventions, all in docs/metrics.md
cat >"$T/prom.py" <<'EOF'
import re, sys
from prometheus_client.parser import text_string_to_metric_families
text, booted, doc = open(sys.argv[1]).read(), int(sys.argv[2]), open("docs/metrics.md").read()
bad, values = [], {}
for f in text_string_to_metric_families(text):
    if not f.name.startswith("kvmlite_") or not re.fullmatch(r"[a-z_]+", f.name):
        bad.append(f"{f.name}: not kvmlite_ and snake case")
    if f.type not in ("counter", "gauge") or not f.documentation:
        bad.append(f"{f.name}: no TYPE or HELP")
    for s in f.samples:
        values[s.name] = s.value
        total = s.name.endswith("_total")
        if total != (f.type == "counter"):
            bad.append(f"{s.name}: _total is for counters, and every counter has it")
        if re.search(r"_(kib|kb|mib|pct|percent|ms|us|ns)(_|$)", s.name):
            bad.append(f"{s.name}: not in a base unit")
        if "bytes" in s.name and not re.search(r"_bytes(_total)?$", s.name):
            bad.append(f"{s.name}: bytes go at the end")
        if s.name.endswith("_ratio") and not 0 <= s.value <= 1:
            bad.append(f"{s.name}: a ratio of {s.value}")
        if f"`{s.name}`" not in doc:
            bad.append(f"{s.name}: not in docs/metrics.md")
if values.get("kvmlite_guests_booted_total") != booted:
    bad.append(f"kvmlite_guests_booted_total is {values.get('kvmlite_guests_booted_total')}, not {booted}")
if bad:
    print("\n".join(bad))
sys.exit(1 if bad else 0)
EOF
ctl stats --prometheus >"$T/stats.prom"
"$PY" "$T/prom.py" "$T/stats.prom" $N >"$T/prom.out" 2>&1
check "stats --prometheus parses, with Prometheus names and units, each in docs/metrics.md" "[ ! -s '$T/prom.out' ]" \
	"$(head -5 "$T/prom.out")"
prom_booted() { "$PY" "$T/prom.py" "$T/prom/kvmlite.prom" $N >"$T/promfile.out" 2>&1; }
wait_for 60 prom_booted
check "--metrics-file is kept up to date, and parses the same way" "[ ! -s '$T/promfile.out' ]" \
	"$(head -5 "$T/promfile.out")"
check "--metrics-file has a hidden twin to swap with, which the collector's *.prom does not match" \
	"[ -f '$T/prom/.kvmlite.prom.tmp' ] && [ \"\$(ls '$T/prom')\" = kvmlite.prom ]" "$(ls -A "$T/prom")"

# watch: output as it comes; Ctrl-C ends it
"$KVMLITE" watch 21 --socket "$SOCK" >"$T/watch" 2>"$T/watch.err" &
watch_pid=$!
sleep_until_watching() { ctl send 21 ping >/dev/null && grep -q pong "$T/watch"; }
check "kvmlite watch prints what the guest writes" "wait_for 60 sleep_until_watching" "$(cat "$T/watch" "$T/watch.err")"
kill -INT $watch_pid; wait $watch_pid; st=$?
check "Ctrl-C ends kvmlite watch (130)" "[ $st = 130 ]" "status $st"

# the console on a terminal: Ctrl-A h lists every command, Ctrl-A x leaves with 0
if command -v script >/dev/null; then
	mkfifo "$T/con.in"
	timeout 120 script -qec "$KVMLITE console 22 --socket $SOCK" /dev/null <"$T/con.in" >"$T/con" 2>&1 &
	con_pid=$!
	exec 5>"$T/con.in"
	wait_for 60 grep -q "Ctrl-A h helps" "$T/con"
	printf 'id\r' >&5
	wait_for 60 grep -q '^22' "$T/con"
	printf '\001h' >&5
	wait_for 60 grep -q 'Ctrl-A Ctrl-A' "$T/con"
	printf '\001x' >&5
	wait $con_pid; st=$?
	exec 5>&-
	check "console: Ctrl-A h lists every command, Ctrl-A x leaves with status 0" \
		"[ $st = 0 ] && grep -q 'Ctrl-A h *this list' '$T/con' && grep -q 'Ctrl-A x *leave' '$T/con' && grep -q '^22' '$T/con'" \
		"status $st: $(tr '\r\n' '||' <"$T/con")"
fi
"$KVMLITE" watch 23 --socket "$SOCK" >"$T/watch2" 2>&1 &
watch_pid=$!
watching23() { ctl send 23 ping >/dev/null && grep -q pong "$T/watch2"; }
wait_for 60 watching23
stop_spawn
wait $watch_pid; st=$?
check "kvmlite watch ends with 0 when the spawn ends" "[ $st = 0 ]" "status $st: $(cat "$T/watch2")"
check "--metrics-file is removed with the spawn" "[ -z \"\$(ls -A '$T/prom')\" ]" "$(ls -A "$T/prom")"

# ---- lines that fit the terminal ----
# The status line is redrawn in place: any line wider than the terminal wraps and stacks up.
# fits FILE COLS: every line, and every part of one between carriage returns, fits in COLS columns
fits() {
	sed 's/\x1b\[K//g' "$1" | tr '\r' '\n' | "$PY" -c "
import sys
w = [l for l in sys.stdin.read().split('\n') if len(l) > int(sys.argv[1])]
w and print('\n'.join(w)); sys.exit(1 if w else 0)" "$2"
}
if command -v script >/dev/null; then
	for cols in 80 50; do
		timeout 300 script -qec "stty cols $cols rows 24; $KVMLITE spawn 1000 --for 1 --socket $SOCK" \
			/dev/null </dev/null >"$T/tty.$cols" 2>&1
		fits "$T/tty.$cols" $cols >"$T/wide"
		check "at $cols columns the status line, messages and summary all fit (and they all came)" \
			"[ ! -s '$T/wide' ] && grep -q 'kvmlite spawn: 1000 of 1000' '$T/tty.$cols' && grep -q 'serving:' '$T/tty.$cols'" \
			"$(cat "$T/wide")"
	done
fi
timeout 300 "$KVMLITE" spawn 20 --for 0 --socket "$SOCK" --guest crash:5 >"$T/pipe.out" 2>"$T/pipe.err"
check "without a terminal, the summary and messages fit 80 columns" \
	"fits '$T/pipe.out' 80 && fits '$T/pipe.err' 80 && grep -q '15 of 20\|20 of 20' '$T/pipe.out'" \
	"$(cat "$T/pipe.out" "$T/pipe.err")"

echo "tool: $pass passed, $fail failed"
[ "$fail" = 0 ]
