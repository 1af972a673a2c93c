#!/bin/sh
# fleet-node.sh - one node's task in a kvmlite fleet's launch step: reads the clock, starts this node's spawn, hands over to the driver.
#
#   fleet-node.sh DRIVER KVMLITE N NODES DIR [SPAWN OPTIONS]   (run by `kvmlite-fleet run` through srun)
#
# Node i of NODES (the job's, in order) runs guests i*N .. i*N+N-1. kvmlite
# starts before any Python does, so launch to callback counts no driver; it
# stays this process's child across the exec, for the driver to wait for.
step=$(date +%s%N) # this node's launch moment: the first thing the step's task does
fleet=$1 kvmlite=$2 n=$3 nodes=$4 dir=$5
shift 5
i=0
for name in $(echo "$nodes" | tr , ' ') ""; do
	[ "$name" = "$SLURMD_NODENAME" ] && break
	[ -z "$name" ] && { echo "fleet-node.sh: node '$SLURMD_NODENAME' is not among $nodes" >&2; exit 1; }
	i=$((i + 1))
done
mkdir -p -m 700 "$dir"
w=$dir/$SLURMD_NODENAME
"$kvmlite" spawn "$n" --first-id $((i * n)) --socket "$w.sock" --json --boot-times "$w.boot" "$@" >"$w.json" &
exec "$fleet" node --step-start "$step" --pid $! --index $i --n "$n" --work "$w" --kvmlite "$kvmlite"
