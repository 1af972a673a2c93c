#!/bin/bash
# local-cluster.sh - a throwaway Slurm cluster on this host (munged, slurmctld, one slurmd per node) to try the fleet job.
#
#   dist/slurm/local-cluster.sh start DIR [NODE[:NOFILE]]...   (default nodes: n1 n2)
#   export SLURM_CONF=DIR/slurm.conf; sbatch -N2 dist/slurm/kvmlite-fleet.sbatch 1000 --for 5
#   dist/slurm/local-cluster.sh stop DIR
#
# Everything lives in DIR: configuration, munge key and socket, state, logs,
# pid files; the ports are free ones picked at start. Nothing global changes
# and no service manager is needed. Several slurmd share this host, each its
# own node (NodeName with its own Port, `slurmd -N`), as Debian's Slurm 22.05
# allows. NODE:NOFILE starts that node's slurmd with RLIMIT_NOFILE NOFILE,
# which its jobs inherit (a misconfigured node, for the fleet's check).
# Needs root (slurmd starts jobs as their user) and the Debian packages
# slurm-wlm and munge. Exit status 0 once every node is idle; 1 and the
# logs' tails if a daemon does not start.
set -u
cmd=${1:-} DIR=${2:-}
[ -n "$DIR" ] || { sed -n '4,6p' "$0" >&2; exit 2; }
shift 2

# alive PID: the process runs (one that ended may stay a zombie until its adopter reaps it)
alive() { [ -r "/proc/$1/stat" ] && ! grep -q '^[0-9]* (.*) Z' "/proc/$1/stat"; }
fail() { echo "local-cluster: $1" >&2; tail -n 3 "$DIR"/log/*.log "$DIR"/munge/log 2>/dev/null >&2; exit 1; }

if [ "$cmd" = stop ]; then
	for f in "$DIR"/slurmd-*.pid "$DIR"/slurmctld.pid "$DIR"/munge/pid; do
		[ -s "$f" ] && kill -TERM "$(cat "$f")" 2>/dev/null
	done
	for f in "$DIR"/slurmd-*.pid "$DIR"/slurmctld.pid "$DIR"/munge/pid; do
		[ -s "$f" ] || continue
		p=$(cat "$f")
		for _ in $(seq 100); do alive "$p" || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null
		rm -f "$f"
	done
	exit 0
fi
[ "$cmd" = start ] || { sed -n '4,6p' "$0" >&2; exit 2; }
[ $# -gt 0 ] || set -- n1 n2
names=$(for n in "$@"; do echo "${n%%:*}"; done)

mkdir -p "$DIR"/munge "$DIR"/state "$DIR"/log && chmod 700 "$DIR"/munge
[ -s "$DIR/munge/key" ] || { head -c 1024 /dev/urandom >"$DIR/munge/key" && chmod 400 "$DIR/munge/key"; }
munged -f --key-file="$DIR/munge/key" --socket="$DIR/munge.sock" --pid-file="$DIR/munge/pid" \
	--log-file="$DIR/munge/log" --seed-file="$DIR/munge/seed" || fail "munged does not start"

# Free ports: the controller's, slurmd's default, and one per node.
read -r -a ports < <(python3 -c 'import socket, sys
ss = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in ss: s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in ss))' $(($# + 2)))
host=$(hostname -s)
# Job ids start at 1 in every new cluster: its name tells two apart (kvmlite-fleet's socket directory).
cluster=local$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
{
	cat <<EOF
ClusterName=$cluster
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=${ports[0]}
SlurmdPort=${ports[1]}
SlurmUser=root
AuthType=auth/munge
AuthInfo=socket=$DIR/munge.sock
CredType=cred/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool-%n
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd-%n.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd-%n.log
# No cgroups, no accounting: nothing beyond these daemons is needed.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/linear
SchedulerType=sched/builtin
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
# Every node claims all of this host's CPUs.
SlurmdParameters=config_overrides
EOF
	i=2
	for n in $names; do
		echo "NodeName=$n NodeHostname=$host NodeAddr=127.0.0.1 Port=${ports[$i]} CPUs=$(nproc)"
		i=$((i + 1))
	done
	echo "PartitionName=kvm Nodes=$(echo $names | tr ' ' ,) Default=YES MaxTime=INFINITE State=UP"
} >"$DIR/slurm.conf"
export SLURM_CONF=$DIR/slurm.conf
slurmctld -f "$SLURM_CONF" || fail "slurmctld does not start"
for n in "$@"; do
	name=${n%%:*} nofile=${n#*:}
	mkdir -p "$DIR/spool-$name"
	if [ "$nofile" != "$n" ]; then
		prlimit --nofile="$nofile:$nofile" slurmd -f "$SLURM_CONF" -N "$name" || fail "slurmd $name does not start"
	else
		slurmd -f "$SLURM_CONF" -N "$name" || fail "slurmd $name does not start"
	fi
done
for _ in $(seq 600); do
	[ "$(sinfo -h -N -o %t 2>/dev/null | grep -c idle)" = $# ] && exit 0
	sleep 0.1
done
fail "the nodes are not idle after 60 s: $(sinfo -N 2>&1)"
