#!/bin/bash
# hostile.sh - integration tests: hostile guests and hostile clients cannot hurt the VMM or the other guests.
#
# Each hostile guest that keeps running (tests/integration/hostile_*.S, and
# the built-in `spin`) runs twice over among 14 `mvm` guests in a spawn of
# two worker processes: ids 0-7 on worker 0 (the "other worker's" guests),
# ids 8-15 on worker 1, where mvm guests 8-13 share their thread with the
# hostile guests 14 and 15. The guests that end themselves share a spawn,
# laid out the same way. For each we check that the VMM keeps running, that
# every mvm guest keeps answering, what latency the others keep, that
# memory stays flat, and that the counters say what happened. Then hostile
# clients hit one spawn. A peer with another uid is refused: spawn.sh
# checks that.
#
# What latency is promised, and what is checked here:
# - Guests on another worker are not slowed: a hostile guest can only use
#   its own shard's thread, at most --cpu-max (20%) of a CPU, and nothing it
#   does reaches the supervisor or the other worker. How much latency the
#   others keep is a figure, measured against the same spawn without the
#   hostile guests in bench/isolation.sh (make bench): request latency on
#   this host moves by +50% and more from round to round with where the
#   kernel places the processes and what else runs, so a comparison of
#   timings cannot be a test (CI runs beside a busy neighbour). The test
#   checks what fails only on a real defect: every request to the other
#   worker's guests is answered right, and none waits anywhere near the
#   5 s request timeout (under 1 s: a guest that could starve the others
#   would hold them for its whole run).
# - Guests sharing a thread with busy hostile guests are served round
#   robin with 10 ms slices (SHARD_SLICE_NS), by design: a request waits for
#   the running slice to end and for each other busy guest's slice, so with
#   K busy neighbours its answer comes within (K + 1) slices when the host
#   gives the thread a CPU. The median is printed; the check is that every
#   answer is right and none waits 1 s (100 slices): no starvation.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/integration/spawn_lib.sh
IT=build/itest
hw=''
SLICE_MS=10 # SHARD_SLICE_NS in vmm/shard.h
N=16 M=14 K=2 # guests, of them mvm (ids 0..M-1), hostile (ids M..N-1) on worker 1
OTHER_S=2 # seconds of requests to the other worker's guests while the hostile guests run
mapfile -t MVM < <(seq 0 $((M - 1))) # the mvm guests
PROBE=8,9,10,11,12,13                # those on worker 1
# The memory checks compare RSS samples; AddressSanitizer's quarantine
# would keep freed memory resident and look like growth (as in park.sh).
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0

command -v python3 >/dev/null || { echo "FAIL python3 is needed for the hostile clients"; exit 1; }

# The hostile clients and the same-thread latency probe, in Python.
cat >"$T/clients.py" <<'EOF'
"""hostile clients for hostile.sh: each subcommand prints one line of results"""
import os, resource, select, socket, sys, time

def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s

def rss_anon(pid):
    """KiB; 0 once the process is gone"""
    try:
        with open('/proc/%d/status' % pid) as f:
            return int(next(l for l in f if l.startswith('RssAnon')).split()[1])
    except (OSError, StopIteration):
        return 0

def reqlat(path, ids, rounds, secs=0.0):
    """`req ID id` to each id in turn, on one connection, for ROUNDS rounds and at least SECS seconds:
    count, wrong answers, p50 and max in us"""
    s = connect(path)
    f = s.makefile('rb')
    lat, wrong, t0, r = [], 0, time.monotonic(), 0
    while r < rounds or time.monotonic() - t0 < secs:
        r += 1
        for i in ids:
            t = time.monotonic()
            s.sendall(b'req %d id\n' % i)
            wrong += f.readline() != b'ok %d\n' % i
            lat.append((time.monotonic() - t) * 1e6)
    lat.sort()
    print(len(lat), wrong, int(lat[len(lat) // 2]), int(lat[-1]))

def hold(path, n, head, tail, ready, go):
    """opens n connections and sends each the head of a line; says so in file ready; once file go
    exists, sends each the tail and reads its answer: prints connections, answers starting "ok " """
    resource.setrlimit(resource.RLIMIT_NOFILE, (resource.getrlimit(resource.RLIMIT_NOFILE)[1],) * 2)
    socks = [connect(path) for _ in range(n)]
    for s in socks:
        s.sendall(head.encode())
    with open(ready, 'w') as f:
        f.write('%d\n' % len(socks))
    while not os.path.exists(go):
        time.sleep(0.02)
    for s in socks:
        s.sendall(tail.encode())
    good = sum(s.makefile('rb').readline().startswith(b'ok ') for s in socks)
    print(len(socks), good)

def refused(path, n, want):
    """opens n connections at once: prints how many were refused with `error too many connections`,
    and how many said anything. The accepted ones say nothing: waits until WANT have spoken (at most
    60 s), then 1 s more for any beyond them"""
    resource.setrlimit(resource.RLIMIT_NOFILE, (resource.getrlimit(resource.RLIMIT_NOFILE)[1],) * 2)
    socks = [connect(path) for _ in range(n)]
    p = select.poll()
    for s in socks:
        p.register(s, select.POLLIN)
    said, deadline = {}, time.monotonic() + 60
    while time.monotonic() < deadline:
        if len(said) >= want:
            deadline = min(deadline, time.monotonic() + 1)
        ev = p.poll(100)
        for fd, _ in ev:
            said[fd] = os.read(fd, 100)
            p.unregister(fd)
    print(sum(v == b'error too many connections\n' for v in said.values()), len(said))

def ask(path, i):
    """`req I id` on a connection of its own: the answer (spaces as _) and the microseconds it took"""
    t = time.monotonic()
    c = connect(path)
    c.sendall(b'req %d id\n' % i)
    a = c.makefile('rb').readline().decode().strip().replace(' ', '_')
    c.close()
    return a or '-', int((time.monotonic() - t) * 1e6)

def unread(path, line, count, sup, probe_id, timeout):
    """sends count copies of line and reads no answer until the spawn hangs up. Meanwhile samples the
    supervisor's RssAnon, and once 4 MiB of answers pile up there, asks `req PROBE_ID id` on another
    connection. Prints: seconds until the hang-up (-1: none), RssAnon before and at its peak (KiB),
    the bytes and whole answers still waiting when the client read at last, then the probe's
    answer, microseconds, and 1 if it was asked while the answers piled up (0: after)"""
    try:
        s = connect(path)
    except OSError as e:
        print('-1 0 0 0 0 %s 0 0' % type(e).__name__)
        return
    before = peak = rss_anon(sup)
    s.sendall(line.encode() * count)
    p = select.poll()
    p.register(s, select.POLLRDHUP)  # not POLLIN: answers are waiting all along
    t0, hung, probe = time.monotonic(), -1, None
    while time.monotonic() - t0 < timeout:
        peak = max(peak, rss_anon(sup))
        if probe is None and peak - before > 4096:
            probe = ask(path, probe_id) + (1,)
        if p.poll(5):
            hung = time.monotonic() - t0
            break
    if probe is None:
        probe = ask(path, probe_id) + (0,)
    data = b''
    s.setblocking(False)
    try:
        while True:
            b = s.recv(1 << 20)
            if not b:
                break
            data += b
    except OSError:
        pass
    print('%.2f %d %d %d %d %s %d %d' % ((hung, before, peak, len(data), data.count(b'\n')) + probe))

def pileup(path, n, line, count, sup, timeout):
    """n clients each send count copies of line and read nothing; watched until for 2 s the
    supervisor's memory has not grown and no client was hung up on. Prints how many were hung up
    on, and the supervisor's RssAnon before and at its peak (KiB)"""
    before = peak = rss_anon(sup)
    socks = [connect(path) for _ in range(n)]
    p = select.poll()
    for s in socks:
        s.sendall(line.encode() * count)
        p.register(s, select.POLLRDHUP)  # not POLLIN: answers are waiting all along
    hung, t0 = 0, time.monotonic()
    last = t0
    while time.monotonic() - t0 < timeout and time.monotonic() - last < 2:
        r = rss_anon(sup)
        if r > peak:
            peak, last = r, time.monotonic()
        for fd, _ in p.poll(5):
            p.unregister(fd)
            hung, last = hung + 1, time.monotonic()
    print(hung, before, peak)

cmd, args = sys.argv[1], sys.argv[2:]
if cmd == 'reqlat':
    reqlat(args[0], [int(x) for x in args[1].split(',')], int(args[2]), float(args[3]) if len(args) > 3 else 0.0)
elif cmd == 'hold':
    hold(args[0], int(args[1]), args[2], args[3], args[4], args[5])
elif cmd == 'refused':
    refused(args[0], int(args[1]), int(args[2]))
elif cmd == 'pileup':
    pileup(args[0], int(args[1]), args[2], int(args[3]), int(args[4]), float(args[5]))
elif cmd == 'unread':
    unread(args[0], args[1], int(args[2]), int(args[3]), int(args[4]), float(args[5]))
EOF
py() { python3 "$T/clients.py" "$@"; }

jnum() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" "$2"; }                   # jnum KEY FILE: a number in stats JSON
rss() { awk '/^RssAnon/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; } # KiB
now_ms() { echo $(($(date +%s%N) / 1000000)); }
workers() { ctl stats --json | sed 's/.*"worker_pids":\[\([0-9,]*\)\].*/\1/' | tr , ' '; }
# the spawn and all its workers are alive, and stats answers
vmm_alive() {
	kill -0 "$spawn_pid" 2>/dev/null && for w in $wpids; do kill -0 "$w" || return 1; done &&
		ctl stats --json | grep -q '"lost":0,'
}
# sweep_ids FILE ID...: `req ID id` to each on one connection; FILE gets the answers; all right?
sweep_ids() {
	local f=$1
	shift
	printf 'req %s id\n' "$@" >"$T/reqs"
	timeout 300 socat -t 60 - UNIX-CONNECT:"$SOCK" <"$T/reqs" >"$f"
	printf 'ok %s\n' "$@" | cmp -s - "$f"
}

# hostile_spawn IMAGE LABEL: the spawn above with IMAGE as guests M..N-1; sets wpids and hw (worker 1)
hostile_spawn() {
	start_spawn $N --workers 2 --guest mvm:$M --guest "$1" ||
		bad "$2: spawn booted" "$(cat "$T/list" "$T/spawn.err")"
	wpids=$(workers)
	hw=${wpids#* }
}

# measure LABEL BUSY IDS: while the hostile guests run, OTHER_S seconds of requests to the other
# worker's guests (ids 0..7), then the same-thread probe (3 requests to each of IDS, mvm guests on
# worker 1). BUSY: hostile guests that want the CPU all the time (the median's expected bound).
# Leaves stats in $T/s0 and $T/s2 (before and after; seconds apart, so that every counter of a
# hostile guest moves between them even while --cpu-max throttles it), times t1 and t2 (ms) before
# s0 and after s2, and the hostile guests' worker's RssAnon r0 and r1 before and after the requests.
measure() {
	local label=$1 busy=$2 ids=$3 n wrong p50 max
	t1=$(now_ms) # the stats window lies within t1..t2
	ctl stats --json >"$T/s0"
	r0=$(rss "$hw")
	read -r n wrong p50 max <<<"$(py reqlat "$SOCK" 0,1,2,3,4,5,6,7 1 $OTHER_S)"
	r1=$(rss "$hw")
	check "$label: guests on the other worker answer every request right, none near the timeout ($n requests, p50 $p50 us, max $((max / 1000)) ms < 1 s)" \
		"[ '$n' -ge 8 ] && [ '$wrong' = 0 ] && [ $max -lt 1000000 ]" "requests $n, wrong answers $wrong, max $max us"
	read -r n wrong p50 max <<<"$(py reqlat "$SOCK" "$ids" 3)"
	ctl stats --json >"$T/s2"
	t2=$(now_ms)
	check "$label: mvm guests on its thread answer every request right, none starved (p50 $p50 us, by design within $((busy + 1)) slices; max $((max / 1000)) ms < 1 s)" \
		"[ '$n' = $((3 * $(tr , ' ' <<<"$ids" | wc -w))) ] && [ '$wrong' = 0 ] && [ $max -lt 1000000 ]" \
		"requests $n, wrong answers $wrong, p50 $p50 us, max $max us"
}

# cpu_shares ID...: what each guest used of its thread's CPU over 2 s, in per mille of a CPU
# (info's cpu_us), one per line
cpu_shares() {
	local i a=() t0
	t0=$(now_ms)
	for i in "$@"; do a+=("$(ctl info "$i" | sed 's/.* cpu_us=\([0-9]*\).*/\1/')"); done
	sleep 2
	for i in "$@"; do
		echo $((($(ctl info "$i" | sed 's/.* cpu_us=\([0-9]*\).*/\1/') - a[0]) / ($(now_ms) - t0)))
		a=("${a[@]:1}")
	done
}
# capped LABEL ID...: those guests want more than the default --cpu-max (20%) and get their share,
# no more: at most 20 ms of each 100 ms period, +10% for the charge a wakeup adds and the window's edges.
# (How much of it they get depends on what else the host runs: that they run at all is checked.)
# The worker's own CPU time (/proc, not kvmlite's count) over the same window must agree: its
# other guests are idle mvm ones, so at most the hostile guests' shares and a little more.
capped() {
	local label=$1 s t0 w0 w
	shift
	t0=$(now_ms) w0=$(awk '{print $14 + $15}' "/proc/$hw/stat")
	s=$(cpu_shares "$@" | tr '\n' ' ')
	w=$((($(awk '{print $14 + $15}' "/proc/$hw/stat") - w0) * 10000 / ($(now_ms) - t0))) # per mille of a CPU
	check "$label: each hostile guest gets at most its 20% of a CPU (--cpu-max; per mille: $s)" \
		"for x in $s; do [ \$x -ge 1 ] && [ \$x -le 220 ] || exit 1; done" "$(ctl info "$1")"
	check "$label: and their worker used $w per mille of a CPU in all (/proc), at most $# x 220 + 60" \
		"[ $w -le $(($# * 220 + 60)) ]"
	check "$label: and stats counts them throttled ($(ctl stats --json | jnum throttles /dev/stdin) times)" \
		"[ \$(ctl stats --json | jnum throttles /dev/stdin) -gt 0 ]"
}

# after LABEL ID...: what every hostile guest run must leave: a live VMM, right answers from the
# mvm guests ID..., flat memory
after() {
	local label=$1 st
	shift
	check "$label: the spawn and both workers are alive and stats answers" "vmm_alive"
	sweep_ids "$T/answers" "$@"
	st=$?
	check "$label: every mvm guest answers id with its own index" "[ $st = 0 ]" \
		"$(grep -v '^ok [0-9]*$' "$T/answers" | head -3)"
	check "$label: the hostile guests' worker did not grow (RssAnon $r0 -> $r1 KiB)" "[ $((r1 - r0)) -le 64 ]"
}

# ---- hostile guests that keep running, one kind per spawn ----

hostile_spawn spin spin
measure spin $K $PROBE
check "spin: the spinning guests are preempted each slice and stay running" \
	"[ \$(jnum preempted '$T/s2') -gt \$(jnum preempted '$T/s0') ] && ctl info $M | grep -q '^running'" \
	"$(ctl info $M)"
capped spin $M $((M + 1))
after spin "${MVM[@]}"
stop_spawn
check "spin: the spawn ends with status 0 (preempted guests are not failures)" "[ $spawn_status = 0 ]" \
	"status $spawn_status: $(cat "$T/spawn.out")"

# The flooder writes ~80,000 bytes/s here: each byte is an exit of 10-15 us on
# kvm_pvm, so the 1 GiB of the issue would take hours. What matters is the cap:
# the guest keeps a 4 KiB ring, the rest is counted dropped, memory stays flat.
hostile_spawn $IT/hostile_flood.img flood
measure flood $K $PROBE
# (its ring has wrapped four times over: waited for, up to 60 s, however busy the host)
for _ in $(seq 600); do
	ctl info $M >"$T/info"
	[ "$(sed 's/.* out=\([0-9]*\).*/\1/' "$T/info")" -gt 16384 ] && break
	sleep 0.1
done
out=$(sed 's/.* out=\([0-9]*\).*/\1/' "$T/info") dropped=$(sed 's/.* dropped=\([0-9]*\).*/\1/' "$T/info")
check "flood: a flooding guest keeps only its last 4 KiB: dropped = out - 4096 ($dropped of $out bytes)" \
	"[ $out -gt 16384 ] && [ $dropped = \$(($out - 4096)) ]" "$(cat "$T/info")"
# `read` answers the whole ring; the client prints its bytes unescaped.
ctl read $M >"$T/ring" 2>&1
check "flood: read gives exactly the 4096 bytes of its ring" "[ \$(wc -c <'$T/ring') = 4096 ]" "$(head -c 100 "$T/ring" | cat -v)"
# and goes on growing: a later look finds more (waited for, up to 60 s)
grew() { for _ in $(seq 600); do [ "$(ctl stats --json | jnum out_dropped /dev/stdin)" -gt "$1" ] && return; sleep 0.1; done; false; }
check "flood: out_dropped keeps growing in stats ($(jnum out_dropped "$T/s0") -> $(jnum out_dropped "$T/s2") -> more)" \
	"[ \$(jnum out_dropped '$T/s2') -gt \$(jnum out_dropped '$T/s0') ] && grew \$(jnum out_dropped '$T/s2')"
after flood "${MVM[@]}"
stop_spawn

# The PIT guests are not busy (they sleep between interrupts), so their
# neighbours' bound is one slice. At most one interrupt per 200 us reaches
# each (PIT_MIN_PERIOD_NS): between the stats before and after measure,
# K guests get at most K * (t2 - t1) / 200 us, +1 each for the window's
# edges, +10% for the millisecond clock of the shell. Without the clamp
# they would take as many as the CPU allows: 3-4 times that here.
pit_bound() { echo $(((K * ($2 - $1) * 1000 / 200 + K) * 11 / 10)); }
hostile_spawn $IT/hostile_pit_rate.img "pit rate"
measure "pit rate" 0 $PROBE
irqs=$(($(jnum pit_irqs "$T/s2") - $(jnum pit_irqs "$T/s0")))
check "pit rate: a count of 1 is clamped (pit_clamped $(jnum pit_clamped "$T/s2") for $K loads)" \
	"[ \$(jnum pit_clamped '$T/s2') -ge $K ]"
check "pit rate: interrupts flow, at most one per 200 us a guest ($irqs in $((t2 - t1)) ms, bound $(pit_bound "$t1" "$t2"))" \
	"[ $irqs -gt 0 ] && [ $irqs -le $(pit_bound "$t1" "$t2") ]"
capped "pit rate" $M $((M + 1))
after "pit rate" "${MVM[@]}"
stop_spawn

hostile_spawn $IT/hostile_pit_oneshot.img "pit oneshot"
measure "pit oneshot" 0 $PROBE
irqs=$(($(jnum pit_irqs "$T/s2") - $(jnum pit_irqs "$T/s0")))
check "pit oneshot: every re-arm is clamped (pit_clamped $(jnum pit_clamped "$T/s0") -> $(jnum pit_clamped "$T/s2"))" \
	"[ \$(jnum pit_clamped '$T/s2') -gt \$(jnum pit_clamped '$T/s0') ]"
check "pit oneshot: interrupts flow, at most one per 200 us a guest ($irqs in $((t2 - t1)) ms, bound $(pit_bound "$t1" "$t2"))" \
	"[ $irqs -gt 0 ] && [ $irqs -le $(pit_bound "$t1" "$t2") ]"
after "pit oneshot" "${MVM[@]}"
stop_spawn

hostile_spawn $IT/hostile_ports.img ports
measure ports $K $PROBE
check "ports: accesses to ports with no device are counted ($(jnum unknown_ports "$T/s0") -> $(jnum unknown_ports "$T/s2"))" \
	"[ \$(jnum unknown_ports '$T/s2') -gt \$(jnum unknown_ports '$T/s0') ]"
after ports "${MVM[@]}"
stop_spawn

hostile_spawn $IT/hostile_mmio.img mmio
measure mmio $K $PROBE
check "mmio: accesses to memory it does not have are counted ($(jnum mmio "$T/s0") -> $(jnum mmio "$T/s2"))" \
	"[ \$(jnum mmio '$T/s2') -gt \$(jnum mmio '$T/s0') ]"
check "mmio: a read of memory it does not have gives all ones" "ctl read $M | grep -q 'c0000 ff'" "$(ctl read $M)"
after mmio "${MVM[@]}"
stop_spawn

# ---- guests that end themselves, and one that tries every port first ----
# ids 12-13 triple-fault, 14-15 `cli; hlt`, 16-17 jump into MMIO, 18 scans
# every port and then asks for a reset; 0-11 and 19 are mvm.
start_spawn 20 --workers 2 --guest mvm:12 --guest $IT/hostile_triple.img:2 --guest $IT/hostile_halt.img:2 \
	--guest $IT/hostile_exec.img:2 --guest $IT/hostile_portscan.img:1 --guest mvm ||
	bad "enders: spawn booted" "$(cat "$T/list" "$T/spawn.err")"
wpids=$(workers)
hw=${wpids#* }
# The scan takes ~5 s here: measured while it runs, as the other busy guests.
measure portscan 1 10,11,19
for _ in $(seq 3000); do ctl info 18 | grep -q '^running' || break; sleep 0.1; done # (up to 5 min: capped to 20% of a CPU)
for i in 12 13 14 15 16 17 18; do ctl info $i; done >"$T/ends"
check "a triple fault fails only that guest, with its reason" \
	"[ \$(grep -c '^failed .*reason=triple fault' '$T/ends') = 2 ]" "$(cat "$T/ends")"
check "cli; hlt ends that guest (ended, not failed), with its reason" \
	"[ \$(grep -c '^ended .*reason=halted with interrupts off' '$T/ends') = 2 ]" "$(cat "$T/ends")"
check "code fetched from MMIO fails that guest as an emulation failure" \
	"[ \$(grep -c '^failed .*reason=KVM_EXIT_INTERNAL_ERROR: emulation failure' '$T/ends') = 2 ]" "$(cat "$T/ends")"
check "a guest that wrote every port at every width runs to its reset request and fails with that reason" \
	"grep -q '^failed .*reason=reset requested through port 0xcf9' '$T/ends'" "$(cat "$T/ends")"
ctl stats --json >"$T/s3"
# 65,534 start ports x (1 + 2 + 4) bytes in and out; all but ~30 device ports have nothing
check "the scan's accesses are counted as unknown ports ($(jnum unknown_ports "$T/s3") >= 900000)" \
	"[ \$(jnum unknown_ports '$T/s3') -ge 900000 ]"
check "stats counts 5 failed and 2 ended guests, 13 live" \
	"grep -q '\"live\":13,.*\"ended\":2,\"failed\":5,' '$T/s3'" "$(cat "$T/s3")"
r1=$(rss "$hw") # memory: the scanning worker over the whole scan
after enders $(seq 0 11) 19
stop_spawn
check "enders: the spawn exits 1 and its summary names each failure reason" \
	"[ $spawn_status = 1 ] && grep -q 'failed  *2: triple fault' '$T/spawn.out' &&
	 grep -q 'failed  *2: KVM_EXIT_INTERNAL_ERROR: emulation failure' '$T/spawn.out' &&
	 grep -q 'failed  *1: reset requested through port 0xcf9' '$T/spawn.out'" "status $spawn_status: $(cat "$T/spawn.out")"

# ---- hostile clients, against one spawn ----
# Guest 15 floods, and is stopped once its ring is full: a `read` of it is
# then ~12 KiB of escapes, answered at once (its thread is idle).
start_spawn $N --workers 2 --guest mvm:15 --guest $IT/hostile_flood.img || bad "clients: spawn booted" "$(cat "$T/spawn.err")"
wpids=$(workers)
sup=$spawn_pid
for _ in $(seq 600); do ctl info 15 | grep -q 'dropped=0' || break; sleep 0.05; done
ctl stop 15 >/dev/null

# Lines far longer than 4096 bytes are skipped as they come, never buffered.
r0=$(rss $sup)
{
	head -c $((16 << 20)) /dev/zero | tr '\0' x
	printf '\nreq 3 id\n'
	head -c $((1 << 20)) /dev/zero | tr '\0' y
	printf '\ninfo 3\n'
} | timeout 300 socat -t 120 - UNIX-CONNECT:"$SOCK" >"$T/long"
r1=$(rss $sup)
check "a 16 MiB line and a 1 MiB line each get one error line; the requests after them are answered" \
	"[ \"\$(sed 's/ exits=.*//' '$T/long' | tr '\n' '|')\" = 'error line too long|ok 3|error line too long|ok halted booted=1|' ]" \
	"$(cut -c1-80 "$T/long")"
check "and the supervisor did not keep them (RssAnon $r0 -> $r1 KiB)" "[ $((r1 - r0)) -lt 1024 ]"

# Unknown and malformed guest ids, for every command that takes one: an id
# that overflows 32 bits must not wrap around to a real guest.
printf '%s\n' "req $N id" "info 4294967295" "read 4294967296" "send 18446744073709551616 x" "stop -1" \
	"watch +1" "info 0x1" "req  1 id" "read 3 99999999999999999999" "stop 4294967295" "list ended" |
	timeout 120 socat -t 60 - UNIX-CONNECT:"$SOCK" >"$T/ids"
check "unknown, overflowing and malformed ids are refused; nothing was stopped" \
	"[ \"\$(tr '\n' '|' <'$T/ids')\" = 'error no such guest|error no such guest|error bad id|error bad id|error bad id|error bad id|error bad id|error bad id|error bad argument|error no such guest|ok 15|' ]" \
	"$(tr '\n' '|' <"$T/ids")"

# 3000 connections at once, each holding half a line.
fds() { ls /proc/$sup/fd | wc -l; }
# settled: the supervisor has closed what clients left (waits up to 30 s)
settled() { for _ in $(seq 300); do [ "$(fds)" -le "$fds0" ] && return; sleep 0.1; done; }
fds0=$(fds)
r0=$(rss $sup)
rm -f "$T/ready" "$T/go"
py hold "$SOCK" 3000 "inf" "o 7"$'\n' "$T/ready" "$T/go" >"$T/held" &
hold_pid=$!
for _ in $(seq 1200); do [ -s "$T/ready" ] && break; sleep 0.1; done
sleep 0.2 # the last ones accepted
r1=$(rss $sup)
s=$(now_ms)
a=$(ctl req 1 id 2>&1)
e=$(now_ms)
check "while 3000 connections hold half a line each, another client is answered ($((e - s)) ms; under 10 s: not starved)" \
	"[ '$(cat "$T/ready")' = 3000 ] && [ '$a' = 1 ] && [ $((e - s)) -lt 10000 ]" "held $(cat "$T/ready"), answer $a"
check "3000 connections cost the supervisor under 8 KiB each (RssAnon $r0 -> $r1 KiB)" \
	"[ $((r1 - r0)) -lt $((3000 * 8)) ]"
touch "$T/go"
wait $hold_pid
check "each of them, once its line is whole, gets its answer" "[ \"\$(cat '$T/held')\" = '3000 3000' ]" "$(cat "$T/held")"
settled

# One more than MAX_CONNS (4096, vmm/supervisor.h) are refused, not queued
# without end; once they are gone the slots serve new clients.
py refused "$SOCK" 4146 50 >"$T/refused"
settled
check "past 4096 connections at once, the rest are refused with an error line (50 of 4146)" \
	"[ \"\$(cat '$T/refused')\" = '50 50' ]" "refused, answered: $(cat "$T/refused")"
check "after they went away a new client is served" "[ \"\$(ctl req 2 id)\" = 2 ]"

# A client that asks and never reads: its answers pile up in the supervisor
# until CONN_OUT_MAX (16 MiB), then it is dropped. 8000 reads of the ring
# are ~94 MB of answers: without the limit the supervisor would hold them.
# The buffer doubles as it grows; the smaller ones it grew out of (16 MiB
# in all) may stay in the C library's heap, and the last copy needs the
# old and the new buffer at once: 3 x CONN_OUT_MAX resident at most (37 MB
# measured). A sanitizer build copies on every realloc and adds shadow
# memory: 4 x there (55 MB measured).
UNREAD_MAX=$((3 * 16 << 10)) # KiB
grep -qa __asan_init "$KVMLITE" && UNREAD_MAX=$((4 * 16 << 10))
py unread "$SOCK" "read 15"$'\n' 8000 "$sup" 4 20 >"$T/unread"
read -r hung before peak _ lines a us during <"$T/unread"
check "while a client piles up answers it does not read, another is answered ($us us; under 10 s: not starved)" \
	"[ '$a' = ok_4 ] && [ $us -lt 10000000 ] && [ '$during' = 1 ]" "$(cat "$T/unread")"
check "the client that never reads is dropped (after $hung s), having taken $lines of its 8000 answers; the spawn lives on" \
	"awk 'BEGIN {exit !($hung >= 0)}' && [ $lines -lt 8000 ] && vmm_alive" "$(cat "$T/unread")" \
	"the supervisor is $(awk '$3 != "Z" {print "alive"}' "/proc/$sup/stat" 2>/dev/null | grep . || echo dead)"
check "meanwhile the supervisor's memory grew by $((peak - before)) KiB, at most $((UNREAD_MAX >> 14)) x CONN_OUT_MAX" \
	"[ $((peak - before)) -le $UNREAD_MAX ]"
# Freed buffers may stay in the C library's heap for reuse (glibc here
# keeps 65-100 MB after a few such clients, the sanitizer's allocator
# more): what is checked is that each is dropped and bounded the same way.
for i in 2 3; do py unread "$SOCK" "read 15"$'\n' 8000 "$sup" 5 20; done >"$T/unread2"
check "two more such clients are dropped as well, each within the same bound ($(awk '{printf " %d", $3 - $2}' "$T/unread2") KiB)" \
	"[ \$(awk '\$1 >= 0 && \$3 - \$2 <= $UNREAD_MAX' '$T/unread2' | wc -l) = 2 ]" "$(cat "$T/unread2")"

# Many clients that never read, each below its own 16 MiB: 32 x ~12 MiB of
# answers would be ~400 MB held. Past CONN_OUT_ALL (256 MiB) in all, the
# client furthest behind is dropped, so only that rule can drop them here.
# Memory: the total, plus the slack of one client above (3 x CONN_OUT_MAX).
dropped0=$(ctl stats --json | jnum clients_dropped /dev/stdin)
py pileup "$SOCK" 32 "read 15"$'\n' 1050 "$sup" 120 >"$T/pileup"
read -r hung before peak <"$T/pileup"
dropped1=$(ctl stats --json | jnum clients_dropped /dev/stdin)
check "32 clients each under its own limit but ~400 MB together: the furthest behind are dropped ($hung of 32; stats clients_dropped $dropped0 -> $dropped1)" \
	"[ $hung -ge 1 ] && [ $hung -lt 32 ] && [ $((dropped1 - dropped0)) -ge $hung ]" "$(cat "$T/pileup")"
check "and the supervisor's memory grew by $((peak - before)) KiB, at most CONN_OUT_ALL + $((UNREAD_MAX >> 14)) x CONN_OUT_MAX" \
	"[ $((peak - before)) -le $(((256 << 10) + UNREAD_MAX)) ]"
check "clients: the spawn and both workers are alive and stats answers" "vmm_alive"
check "clients: every mvm guest answers id with its own index" "sweep_ids '$T/answers' $(seq -s ' ' 0 14)"
stop_spawn
check "clients: the spawn ends with status 0" "[ $spawn_status = 0 ]" "status $spawn_status: $(cat "$T/spawn.out")" \
	"$([ "$spawn_status" -gt 128 ] && echo "killed by SIG$(kill -l $((spawn_status - 128)))")"

echo "hostile: $pass passed, $fail failed"
[ "$fail" = 0 ]
