#!/bin/bash
# park_cost.sh - what parked guests cost: memory per parked guest (counted and measured), and a worker's CPU per park-and-resume.
#
# Usage: bench/park_cost.sh [KVMLITE...]   (default build/kvmlite; give two binaries to compare them, run alternately)
#
# For each binary, ROUNDS times (default 3), alternately:
#   memory  `spawn MEM_N --park always --for 0 --json` (MEM_N 20000): the summary's
#           per parked guest (what the shards count), the workers' anonymous memory in
#           all (VMM userspace) and that over the parked guests, the templates
#   resume  `spawn RES_N --workers 1 ARGS` (RES_N 5000, ARGS --park always; try
#           RES_ARGS="--resident 1000" with RES_N 3000 for the VM limit): once all
#           booted, `req I id` to every guest in turn on one connection (each a resume
#           and a park), and the worker's CPU time for it (/proc, utime + stime)
# One line per run on stdout. Wall times on a shared host are noise; the worker's
# CPU time for the same work is the figure to compare.
set -u
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3} MEM_N=${MEM_N:-20000} RES_N=${RES_N:-5000} RES_ARGS=${RES_ARGS:---park always}
[ $# -gt 0 ] || set -- build/kvmlite
S=$(mktemp -d)
chmod 700 "$S"
trap 'rm -rf "$S"' EXIT
SOCK=$S/run/control

memory() {
	"$1" spawn "$MEM_N" --park always --for 0 --json --socket "$SOCK" 2>/dev/null | python3 -c '
import json, sys
j = json.load(sys.stdin)
p = j["parked_at_end"]
print("%s memory: %d parked, %d resident, %d workers; per parked guest %.2f KiB counted, VMM userspace %d KiB, / parked %.2f KiB; templates %s, %s KiB" % (
    sys.argv[1], p, j["resident_at_end"], j["workers"], j["vmm_userspace_kib_per_parked"] or 0, j["vmm_anon_kib"],
    j["vmm_anon_kib"] / max(p, 1), j.get("templates"), j.get("vmm_template_kib")))' "$1"
}

resume() {
	local b=$1 n=$RES_N pid wpid c0 c1 r0 r1
	# shellcheck disable=SC2086
	"$b" spawn "$n" --workers 1 --socket "$SOCK" $RES_ARGS >/dev/null 2>&1 &
	pid=$!
	for _ in $(seq 1500); do
		"$b" list --socket "$SOCK" 2>/dev/null | awk -v n="$n" '/^booted/ {b = $2} END {exit !(b >= n)}' && break
		sleep 0.2
	done
	sleep 2 # the last guests halt and park
	wpid=$("$b" stats --json --socket "$SOCK" | sed 's/.*"worker_pids":\[\([0-9]*\).*/\1/')
	seq 0 $((n - 1)) | sed 's/.*/req & id/' >"$S/reqs"
	r0=$("$b" stats --json --socket "$SOCK" | sed 's/.*"resumes":\([0-9]*\).*/\1/')
	c0=$(awk '{print $14 + $15}' "/proc/$wpid/stat")
	timeout 600 socat -t 60 - UNIX-CONNECT:"$SOCK" <"$S/reqs" >"$S/ans"
	c1=$(awk '{print $14 + $15}' "/proc/$wpid/stat")
	r1=$("$b" stats --json --socket "$SOCK" | sed 's/.*"resumes":\([0-9]*\).*/\1/')
	"$b" stop --socket "$SOCK" >/dev/null 2>&1
	wait "$pid"
	local right=wrong
	seq 0 $((n - 1)) | sed 's/.*/ok &/' | cmp -s - "$S/ans" && right=right
	echo "$b resume: $n guests ($RES_ARGS), $((r1 - r0)) resumes, answers $right; worker CPU $(((c1 - c0) * 10)) ms," \
		"$(((c1 - c0) * 10000 / ((r1 - r0) > 0 ? (r1 - r0) : 1))) us a resume"
}

for _ in $(seq "$ROUNDS"); do
	for b in "$@"; do memory "$b"; done
	for b in "$@"; do resume "$b"; done
done
