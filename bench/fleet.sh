#!/bin/bash
# fleet.sh - the fleet job on a local Slurm cluster of two nodes, beside one spawn of the same guests without Slurm.
#
# Usage: bench/fleet.sh [N] [ROUNDS] [-- SPAWN OPTIONS]   (default 2000 guests a node, 3 rounds; needs root)
#
# Each round, with 2N guests in all, one after another (memory settling
# between them): `kvmlite spawn 2N` run directly (the baseline: no Slurm);
# the fleet job on one node with 2N guests; the fleet job on two nodes with N
# each. Both nodes are this host (dist/slurm/local-cluster.sh), so the two
# spawns share its CPUs: what the split costs or saves here is the launch
# path's, not more hardware. Prints the medians, then the last round's merged
# report of the two-node job; the reports stay in build/bench/fleet/.
set -u
cd "$(dirname "$0")/.."
N=${1:-2000} ROUNDS=${2:-3}
shift $(($# < 2 ? $# : 2))
[ "${1:-}" = -- ] && shift
SPAWN=("$@")
. bench/lib.sh # median, settle
OUT=$PWD/build/bench/fleet
LC=$(mktemp -d)
rm -rf "$OUT" && mkdir -p "$OUT"
export KVMLITE=$PWD/build/kvmlite SLURM_CONF=$LC/slurm.conf
trap 'dist/slurm/local-cluster.sh stop "$LC"; rm -rf "$LC"' EXIT
dist/slurm/local-cluster.sh start "$LC" n1 n2 || exit 1

# fleet NAME NODES PER_NODE: the job, to its end; its report in $OUT/NAME/report.json
fleet() {
	local job
	job=$(sbatch --parsable -N "$2" --chdir "$OUT" --output "$OUT/$1.out" dist/slurm/kvmlite-fleet.sbatch "$3" \
		--dir "$OUT/$1" --for 1 -- "${SPAWN[@]}") || return 1
	while squeue -h -j "$job" 2>/dev/null | grep -q .; do sleep 0.5; done
}
# field FILE EXPR: a figure from a report (r) or a spawn summary (s)
field() { python3 -c "import json, sys; r = s = json.load(open(sys.argv[1])); print($2)" "$1"; }

echo "bench/fleet.sh: $(date -u +%FT%TZ), host $(hostname), $(nproc) CPUs, Linux $(uname -r), $((2 * N)) guests a run, $ROUNDS rounds"
for r in $(seq "$ROUNDS"); do
	settle
	"$KVMLITE" spawn $((2 * N)) --for 1 --json "${SPAWN[@]}" >"$OUT/direct-$r.json" 2>/dev/null
	settle
	fleet one-$r 1 $((2 * N))
	settle
	fleet two-$r 2 "$N"
	printf '\rround %s of %s' "$r" "$ROUNDS" >&2
done
echo >&2
row() { # LABEL FILES EXPR...: the median of each EXPR over the rounds
	local label=$1 files=$2
	shift 2
	printf '| %s |' "$label"
	for e in "$@"; do printf ' %s |' "$(for f in $files; do field "$f" "$e"; done | median)"; done
	echo
}
echo "| medians of $ROUNDS | all booted (s) | guests/s | p50 (ms) | p99 (ms) | max (ms) | srun to step (ms) | step to kvmlite (ms) |"
echo "|---|---|---|---|---|---|---|---|"
row "kvmlite spawn $((2 * N)), no Slurm (from its own start)" "$OUT/direct-*.json" "s['time_to_all_booted_s']" \
	"s['boot_rate_per_s']" "s['boot_ms']['p50']" "s['boot_ms']['p99']" "s['boot_ms']['max']" "0" "0"
for k in one two; do
	nodes=$([ $k = one ] && echo "1 node x $((2 * N))" || echo "2 nodes x $N")
	row "fleet job, $nodes (from the step's start)" "$OUT/$k-*/report.json" "r['fleet']['all_booted_s']" \
		"r['fleet']['boot_rate_per_s']" "r['fleet']['boot_ms']['p50']" "r['fleet']['boot_ms']['p99']" \
		"r['fleet']['boot_ms']['max']" "max(n['launch_ms'] for n in r['nodes'])" "max(n['exec_ms'] for n in r['nodes'])"
done
echo
dist/slurm/kvmlite-fleet report "$OUT/two-$ROUNDS"
