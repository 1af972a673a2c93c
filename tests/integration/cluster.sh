#!/bin/bash
# cluster.sh - kvmlite across a Slurm cluster: spawn --first-id and --boot-times, the node check, then a local cluster running the fleet job.
#
# The Slurm part starts its own munged, slurmctld and three slurmd (nodes n1,
# n2, n3 on this host; n3 with RLIMIT_NOFILE 512, which the fleet refuses) in
# a scratch directory, on free ports, with their own configuration; submits
# dist/slurm/kvmlite-fleet.sbatch twice and stops them all at the end. It is
# skipped, saying why, where Slurm is not installed or cannot be started.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/spawn_lib.sh
FLEET=$PWD/dist/slurm/kvmlite-fleet
KVMLITE=$(realpath "$KVMLITE")
SL=$T/slurm

slurm_stop() {
	for j in ${jobs:-}; do scancel "$j" 2>/dev/null; done
	[ -d "$SL" ] && dist/slurm/local-cluster.sh stop "$SL"
	[ -f "$SL/slurm.conf" ] && rm -rf "/tmp/kvmlite-fleet-$(id -u)-$(sed -n 's/^ClusterName=//p' "$SL/slurm.conf")-"*
}
trap 'slurm_stop; cleanup' EXIT

# pct FILE: p50 p99 max of the µs in FILE's second column, in ms as kvmlite prints them (nearest rank)
pct() {
	python3 -c 'import sys; t = sorted(int(l.split()[1]) for l in open(sys.argv[1])); n = len(t)
print(" ".join(f"{v / 1e3:.1f}" for v in (t[(n + 1) // 2 - 1], t[(n * 99 + 99) // 100 - 1], t[-1])))' "$1"
}
# jfield FILE KEY...: a value from a JSON file
jfield() { python3 -c 'import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2:]: v = v[int(k)] if isinstance(v, list) else v[k]
print(v)' "$@"; }
# ids RANGES: the ids "0-3,7" stands for, one a line
ids() { tr ',' '\n' <<<"$1" | awk -F- 'NF { for (i = $1; i <= (NF > 1 ? $2 : $1); i++) print i }' | sort -n; }

# ---- one host: guests numbered from --first-id, each guest's boot time in a file ----
if start_spawn 30 --first-id 1000 --json --boot-times "$T/boot"; then ok "spawn 30 --first-id 1000: all booted"
else bad "spawn 30 --first-id 1000: all booted" "$(cat "$T/list" "$T/spawn.err")"; fi
check "guests 1000 and 1029 answer id with their global ids" \
	"[ \"\$(ctl req 1000 id)\" = 1000 ] && [ \"\$(ctl req 1029 id)\" = 1029 ]"
check "ids outside 1000-1029 are no such guest" \
	"ctl req 999 id 2>&1 | grep -q 'no such guest' && ctl req 1030 id 2>&1 | grep -q 'no such guest'"
check "list booted names ids 1000-1029" "[ \"\$(ids \"\$(ctl list booted)\" | tr '\n' ' ')\" = \"\$(seq -s ' ' 1000 1029) \" ]" \
	"$(ctl list booted)"
check "info and stop take a global id" "ctl info 1005 | grep -q '^halted booted=1' && ctl stop 1003 && [ \"\$(ctl list ended)\" = 1003 ]"
wpid=$(ctl stats --json | sed 's/.*"worker_pids":\[[0-9]*,\([0-9]*\).*/\1/')
kill -KILL "$wpid"
for _ in $(seq 600); do [ -n "$(ctl list lost)" ] && break; sleep 0.1; done
lost=$(ctl list lost)
check "a dead worker's guests are listed lost by global id, and a request to one says so" \
	"[ -n '$lost' ] && [ \$(ids '$lost' | head -1) -ge 1000 ] && [ \$(ids '$lost' | tail -1) = 1029 ] &&
	 ctl req 1029 id 2>&1 | grep -q 'guest lost' && [ \"\$(ctl req 1001 id)\" = 1001 ]" "lost: $lost"
stop_spawn
check "the JSON summary names the first id and the wall-clock start" \
	"grep -q '\"first_id\":1000,\"started_unix_ns\":[0-9]\{19\}}\$' '$T/spawn.out'" "$(cat "$T/spawn.out")"
check "--boot-times has a line for each booted guest, ids 1000-1029" \
	"[ \$(wc -l <'$T/boot') = $(jfield "$T/spawn.out" booted) ] && [ \"\$(cut -d' ' -f1 '$T/boot' | sort -n | tr '\n' ' ')\" = \"\$(seq -s ' ' 1000 1029) \" ]" \
	"$(head -3 "$T/boot")"
check "the file's percentiles are the summary's" \
	"[ \"\$(pct '$T/boot')\" = \"$(python3 -c 'import json,sys; b = json.load(open(sys.argv[1]))["boot_ms"]
print(" ".join(f"{b[k]:.1f}" for k in ("p50", "p99", "max")))' "$T/spawn.out")\" ]" "$(pct "$T/boot")"
check "an id range past 2^32 is refused" \
	"! $KVMLITE spawn 10 --first-id 4294967290 --for 0 2>'$T/e' && grep -q 'no room' '$T/e'" "$(cat "$T/e" 2>/dev/null)"

# ---- the node check refuses, with the reason ----
check "check: a node with enough of everything is accepted" "$FLEET check 10 --kvmlite $KVMLITE >'$T/c'" "$(cat "$T/c" 2>/dev/null)"
pid_max=$(cat /proc/sys/kernel/pid_max)
check "check: too few PIDs for $pid_max live VMs (--park never) is refused" \
	"! $FLEET check $pid_max --kvmlite $KVMLITE -- --park never >'$T/c' && grep -q 'PIDs: kernel.pid_max' '$T/c'" "$(cat "$T/c" 2>/dev/null)"
check "check: RLIMIT_NOFILE 512 is refused" \
	"! (ulimit -n 512 && $FLEET check 10 --kvmlite $KVMLITE >'$T/c') && grep -q 'fds: RLIMIT_NOFILE (hard) is 512' '$T/c'" "$(cat "$T/c" 2>/dev/null)"
if setpriv --reuid=65534 --regid=65534 --clear-groups test -r /dev/kvm -a -w /dev/kvm 2>/dev/null; then
	echo "skip check: /dev/kvm without permission (nobody may open /dev/kvm here)"
else
	check "check: /dev/kvm without permission is refused" \
		"! setpriv --reuid=65534 --regid=65534 --clear-groups $FLEET check 10 --kvmlite $KVMLITE >'$T/c' 2>&1 &&
		 grep -q '/dev/kvm: Permission denied' '$T/c'" "$(cat "$T/c" 2>/dev/null)"
fi

# ---- a local Slurm cluster ----
skip_slurm() {
	echo "SKIP: $1: the fleet job is not run"
	echo "cluster: $pass passed, $fail failed, 1 skipped"
	[ "$fail" = 0 ]
	exit
}
for c in munged slurmctld slurmd srun sbatch scontrol squeue scancel sinfo; do
	command -v $c >/dev/null || skip_slurm "$c is not installed (Debian: slurm-wlm, munge)"
done
[ "$(id -u)" = 0 ] || skip_slurm "slurmd must run as root to start jobs"
dist/slurm/local-cluster.sh start "$SL" n1 n2 n3:512 >"$T/lc" 2>&1 ||
	skip_slurm "Slurm does not start here: $(cat "$T/lc")"
export SLURM_CONF=$SL/slurm.conf KVMLITE KVMLITE_FLEET=$FLEET
check "a local Slurm cluster of three nodes on this host is up" "[ \"\$(sinfo -h -N -o %t | grep -c idle)\" = 3 ]" \
	"$(sinfo -N 2>&1)"

# submit NAME NODES N: submits the fleet job; JOB gets its id
submit() {
	JOB=$(sbatch --parsable --time=10 -N "$(tr , '\n' <<<"$2" | wc -l)" -w "$2" --chdir "$SL" --output "$SL/$1.out" \
		dist/slurm/kvmlite-fleet.sbatch "$3" --dir "$SL/$1")
	jobs="${jobs:-} $JOB"
}
# wait_for TEST: polls TEST for 120 s
wait_for() { for _ in $(seq 600); do eval "$1" && return 0; sleep 0.2; done; return 1; }
ready() { [ -f "$SL/$1/fleet.json" ] && [ "$(jfield "$SL/$1/fleet.json" ready)" = True ]; }
ended() { ! squeue -h -j "$1" 2>/dev/null | grep -q .; }
fl() { "$FLEET" "$1" --dir "$SL/$2" "${@:3}"; }

# ---- job 1: two nodes x 40 guests, served, asked, stopped ----
N=40
submit d1 n1,n2 $N
check "the fleet job on n1,n2 comes up: every guest booted" "wait_for 'ready d1'" "$(cat "$SL/d1.out" 2>/dev/null)"
check "fleet req reaches the node holding each id (0, 39 on n1; 40, 79 on n2)" \
	"[ \"\$(fl req d1 0 id) \$(fl req d1 39 id) \$(fl req d1 40 id) \$(fl req d1 79 id)\" = '0 39 40 79' ]"
check "fleet req to id 80 is no such guest" "! fl req d1 80 id 2>'$T/e' && grep -q 'no such guest' '$T/e'" "$(cat "$T/e" 2>/dev/null)"
check "fleet list counts all 80 booted, list booted names 0-79" \
	"fl list d1 | grep -qx 'booted 80' && [ \"\$(ids \"\$(fl list d1 booted)\" | tr '\n' ' ')\" = \"\$(seq -s ' ' 0 79) \" ]" \
	"$(fl list d1) $(fl list d1 booted)"
check "fleet info and stats reach the nodes" \
	"fl info d1 45 | grep -q '^halted booted=1' && fl stats d1 | grep -q '\"total\": {\"guests\": 80,'"
fl stop d1 >/dev/null
check "fleet stop ends the job" "wait_for 'ended $JOB'" "$(squeue 2>&1)"
R=$SL/d1/report.json
python3 - "$SL/d1" >"$T/r1" 2>&1 <<'EOF'
import json, sys
d = sys.argv[1]
rep = json.load(open(d + "/report.json"))
f, nodes = rep["fleet"], {r["node"]: r for r in rep["nodes"]}
def pct(t):
    t, n = sorted(t), len(t)
    return {"p50": round(t[(n + 1) // 2 - 1] / 1e3, 1), "p99": round(t[(n * 99 + 99) // 100 - 1] / 1e3, 1),
            "max": round(t[-1] / 1e3, 1)}
all_us, worst = [], {}
for name, first in (("n1", 0), ("n2", 40)):
    own = json.load(open(f"{d}/nodes/{name}.json"))
    sm, r = own["summary"], nodes[name]
    assert r["state"] == "ended" and r["first_id"] == first == sm["first_id"], (name, r)
    for k in ("booted", "failed", "lost"):
        assert r[k] == sm[k], (name, k, r[k], sm[k])
    us = [t for t in own["boot_us"] if t is not None]
    assert len(us) == sm["booted"] == 40, (name, len(us))
    assert pct(us) == {k: round(v, 1) for k, v in sm["boot_ms"].items()}, (name, pct(us), sm["boot_ms"])
    off = (sm["started_unix_ns"] - own["step_start_unix_ns"]) / 1e3
    assert off > 0, (name, off)
    all_us += [off + t for t in us]
    worst[name] = max(off + t for t in us)
    assert f["boot_ms"]["max"] >= sm["boot_ms"]["max"]
assert f["booted"] == 80 and f["failed"] == 0 and f["lost"] == 0 and f["nodes_ok"] == 2, f
assert f["boot_ms"] == pct(all_us), (f["boot_ms"], pct(all_us))
assert f["slowest_node"] == max(worst, key=worst.get), (f["slowest_node"], worst)
print("ok")
EOF
check "the merged report agrees with each node's own summary and boot times" "[ \"\$(cat '$T/r1')\" = ok ]" \
	"$(cat "$T/r1" 2>/dev/null)"
check "the job's output is the report" "grep -q '80 of 80 booted, 0 failed, 0 lost' '$SL/d1.out'" "$(cat "$SL/d1.out")"

# ---- job 2: n3 refused (fds), n2's spawn killed: n1's report stands ----
N=20
submit d2 n1,n2,n3 $N
check "the fleet job on n1,n2,n3 comes up without n3" "wait_for 'ready d2'" "$(cat "$SL/d2.out" 2>/dev/null)"
check "n3 is refused up front for its RLIMIT_NOFILE" \
	"[ \"\$(jfield '$SL/d2/fleet.json' nodes 2 state)\" = refused ] && jfield '$SL/d2/fleet.json' nodes 2 why | grep -q 'RLIMIT_NOFILE (hard) is 512'" \
	"$(jfield "$SL/d2/fleet.json" nodes 2)"
kill -KILL "$(jfield "$SL/d2/fleet.json" nodes 1 pid)"
check "n2's spawn, killed, is reported lost" "wait_for '[ \"\$(jfield \"$SL/d2/fleet.json\" nodes 1 state)\" = lost ]'" \
	"$(jfield "$SL/d2/fleet.json" nodes 1)"
check "requests: n1's guests answer, n2's are lost, n3's refused" \
	"[ \"\$(fl req d2 5 id)\" = 5 ] && ! fl req d2 25 id 2>'$T/e' && grep -q lost '$T/e' &&
	 ! fl req d2 45 id 2>'$T/e2' && grep -q refused '$T/e2'" "$(cat "$T/e" "$T/e2" 2>/dev/null)"
check "fleet list counts them: 20 booted, 20 lost, 20 refused; list lost names 20-39" \
	"fl list d2 >'$T/l' && grep -qx 'booted 20' '$T/l' && grep -qx 'lost 20' '$T/l' && grep -qx 'refused 20' '$T/l' &&
	 [ \"\$(fl list d2 lost)\" = 20-39 ]" "$(cat "$T/l" 2>/dev/null)"
fl stop d2 >/dev/null
check "fleet stop ends the job" "wait_for 'ended $JOB'" "$(squeue 2>&1)"
check "the report: n1 ran (20 booted), n2 lost its 20, n3 refused" \
	"python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); f = r[\"fleet\"]; n = r[\"nodes\"]
assert (f[\"booted\"], f[\"lost\"], f[\"refused\"], f[\"nodes_ok\"]) == (20, 20, 20, 1), f
assert [x[\"state\"] for x in n] == [\"ended\", \"lost\", \"refused\"] and n[0][\"booted\"] == 20 and n[1][\"lost\"] == 20, n
assert f[\"nodes_lost\"] == [\"n2\"] and f[\"nodes_refused\"] == [\"n3\"] and f[\"slowest_node\"] == \"n1\"' '$SL/d2/report.json'" \
	"$(cat "$SL/d2.out")"

echo "cluster: $pass passed, $fail failed"
[ "$fail" = 0 ]
