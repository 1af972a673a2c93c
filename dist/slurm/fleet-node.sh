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
# fail WHY: this node's result, without a spawn (the driver then counts its guests lost)
fail() {
	printf 'kvmlite-fleet result %s 1/1 {"node":"%s","exit":1,"summary":null,"why":"%s"}\n' \
		"$SLURMD_NODENAME" "$SLURMD_NODENAME" "$1"
	exit 0
}
i=0
for name in $(echo "$nodes" | tr , ' ') ""; do
	[ -z "$name" ] && fail "this node is not among the job's nodes ($nodes)"
	[ "$name" = "$SLURMD_NODENAME" ] && break
	i=$((i + 1))
done
# A directory in /tmp that is ours alone, or nothing: its files are written
# through names another user could otherwise have planted as symlinks.
mkdir -p -m 700 "$dir"
[ -d "$dir" ] && [ ! -L "$dir" ] && [ -O "$dir" ] && chmod 700 "$dir" ||
	fail "$dir is not a directory of this user's: refused"
w=$dir/$SLURMD_NODENAME
"$kvmlite" spawn "$n" --first-id $((i * n)) --socket "$w.sock" --json --boot-times "$w.boot" "$@" >"$w.json" &
exec "$fleet" node --step-start "$step" --pid $! --index $i --n "$n" --work "$w" --kvmlite "$kvmlite"
