#!/bin/bash
# faults.sh - injected host failures (KVMLITE_FAULT): only the affected guest fails, with its reason; nothing leaks or is lost.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/spawn_lib.sh

# worker_usage: "FDS MAPS" of KVM the (only) worker process holds: its fds
# to KVM VMs and vCPUs, its kvm_run mappings (only KVM's: a sanitizer
# build's allocator maps and unmaps memory of its own meanwhile)
worker_usage() {
	local w
	w=$(ctl stats --json | sed 's/.*"worker_pids":\[\([0-9]*\).*/\1/')
	echo "$(ls -l /proc/"$w"/fd | grep -c 'anon_inode:kvm-') $(grep -c 'anon_inode:kvm-vcpu' "/proc/$w/maps")"
}

# The baseline: 20 guests, one worker, no fault (--park never: one fd per guest).
N=20
start_spawn $N --workers 1 --park never || bad "baseline spawn booted" "$(cat "$T/spawn.err")"
read -r fd0 map0 <<<"$(worker_usage)"
stop_spawn

# create_vm:5 fails the 5th KVM_CREATE_VM of the worker (guest 4), create_vcpu
# and mmap_run fail after the VM exists: its fd must be closed again.
for fault in create_vm:5:1 create_vcpu:5:1 mmap_run:5:1; do
	point=${fault%%:*}
	KVMLITE_FAULT=$fault start_spawn $N --workers 1 --park never ||
		bad "$point: spawn with the fault booted the others" "$(cat "$T/spawn.err")"
	case $point in
	create_vm) want="KVM_CREATE_VM: Cannot allocate memory" ;;
	create_vcpu) want="KVM_CREATE_VCPU: Too many open files" ;;
	mmap_run) want="mmap of kvm_run: Cannot allocate memory" ;;
	esac
	check "$point: guest 4 failed with its reason" "ctl info 4 | grep -q '^failed .*reason=guest 4: $want'" \
		"$(ctl info 4)"
	check "$point: the others answer" "sweep 4 '$T/a' && [ \"\$(ctl req 5 id)\" = 5 ] && [ \"\$(ctl req 19 id)\" = 19 ]" \
		"$(cat "$T/a" 2>/dev/null)"
	check "$point: the failure is counted" "ctl stats --json | grep -q '\"create_failed\":1,'" "$(ctl stats --json)"
	read -r fd1 map1 <<<"$(worker_usage)"
	# one guest fewer holds its vCPU fd and kvm_run mapping; nothing else stays behind
	check "$point: KVM fds and mappings are the baseline's minus one guest's" \
		"[ $fd1 = $((fd0 - 1)) ] && [ $map1 = $((map0 - 1)) ]" "fds $fd0 -> $fd1, maps $map0 -> $map1"
	stop_spawn
	check "$point: the summary names the reason" "grep -q 'failed *1: guest 4: $want' '$T/spawn.out'" \
		"$(cat "$T/spawn.out")"
done

# Short writes from the shards to the supervisor: every answer still arrives whole and in order.
KVMLITE_FAULT=short_write:1:200 start_spawn 300 --workers 1 || bad "spawn with short writes booted" "$(cat "$T/spawn.err")"
check "200 short writes: each of 300 guests' answers arrive whole, in order" "sweep 300 '$T/sw'" \
	"$(head -3 "$T/sw" 2>/dev/null)"
check "and the console output is whole too" "ctl read 150 | grep -qx 'ready' && [ \"\$(ctl read 150 | tail -1)\" = 150 ]" \
	"$(ctl read 150)"
stop_spawn
# A completion queue of two, kept overflowing (with --log, tick guests'
# timeouts and answers in flight too): no completion may be lost.
KVMLITE_FAULT=full_cq:1:1 start_spawn 300 --workers 1 --guest tick:100 --guest mvm --log "$T/cq.log" ||
	bad "spawn with a full completion queue booted" "$(cat "$T/spawn.err")"
check "a completion queue kept full: each of 300 guests' answers arrive whole, in order" "sweep 300 '$T/cq'" \
	"$(head -3 "$T/cq" 2>/dev/null)"
check "the queue did overflow" "ctl stats --json | grep -q '\"cq_overflows\":[1-9]'" "$(ctl stats --json)"
t0=$(ctl req 5 ticks)
ticked4() { t1=$(ctl req 5 ticks); [ $((t1 - t0)) -ge 4 ]; }
wait_for 60 ticked4
check "PIT deadlines still fire (tick guest 5: $t0 -> $t1)" "[ $((t1 - t0)) -ge 4 ]"
stop_spawn
check "and the log has every guest's boot line" "[ \"\$(grep -c ' ready\$' '$T/cq.log')\" = 300 ]" \
	"$(grep -c ' ready$' "$T/cq.log")"
KVMLITE_FAULT=write_eagain:1:200 start_spawn 300 --workers 1 || bad "spawn with EAGAIN writes booted" "$(cat "$T/spawn.err")"
check "200 writes failing with EAGAIN: each of 300 guests' answers arrive whole, in order" "sweep 300 '$T/ea'" \
	"$(head -3 "$T/ea" 2>/dev/null)"
stop_spawn

# The sandbox, in the real processes: a forbidden call right after each
# role's filter is in (sandbox_probe) kills with SIGSYS; --no-sandbox lifts it.
printf '\nping\n' | KVMLITE_FAULT=sandbox:3:1 "$KVMLITE" run mvm >/dev/null 2>&1
check "run: a forbidden system call kills kvmlite run with SIGSYS" "[ $? = 159 ]"
out=$(printf '\nping\n' | KVMLITE_FAULT=sandbox:3:1 "$KVMLITE" run --no-sandbox mvm 2>&1)
check "run --no-sandbox: the same call is allowed" "[ \"\$(echo '$out' | tail -1)\" = pong ]" "$out"
# (its own socket path, so that the next spawn need not replace a stale one)
KVMLITE_FAULT=sandbox:0:1 timeout 300 "$KVMLITE" spawn 4 --for 0 --socket "$T/killed/control" >/dev/null 2>&1
check "spawn: a forbidden system call kills the supervisor with SIGSYS" "[ $? = 159 ]"
for role in 1:worker 2:shard; do
	KVMLITE_FAULT=sandbox:${role%%:*}:1 timeout 300 "$KVMLITE" spawn 4 --workers 1 --for 0 --socket "$SOCK" \
		>/dev/null 2>"$T/sb.err"
	check "spawn: a forbidden system call in a ${role#*:} thread kills its worker with SIGSYS; the supervisor reports it" \
		"grep -q 'killed by signal 31' '$T/sb.err'" "$(cat "$T/sb.err")"
done
start_spawn 2 --no-sandbox
check "stats says whether the sandbox is on" "ctl stats --json | grep -q '\"sandbox\":false'" "$(ctl stats --json)"
stop_spawn

echo "faults: $pass passed, $fail failed"
[ "$fail" = 0 ]
