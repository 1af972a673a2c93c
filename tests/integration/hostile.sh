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
# What latency is promised, and why the checks are what they are:
# - Guests on another worker are not slowed: a hostile guest can only use
#   its own shard's thread, at most --cpu-max (20%) of a CPU, and nothing it
#   does reaches the supervisor or the other worker. The p50 of a short
#   `reqload` round moves with where the kernel places the processes and
#   with what else runs: by +50% at times, now and then 7x (measured), with
#   or without hostile guests. So the baseline is taken in the same spawn,
#   interleaved with the hostile rounds, six times each: for a baseline
#   round the hostile guests' worker is stopped (SIGSTOP: its guests cost
#   nothing then, as halted mvm guests would: the run without the hostile
#   guests). Host noise only ever adds latency, while a cost the hostile
#   guests put on the others through kvmlite would be there in every
#   round, so the best round of each is compared: hostile within 10% of
#   baseline, the issue's target.
#   A third kind of round is printed, not checked: a plain busy loop in the
#   stopped worker's place. On this nested host a CPU that goes idle is slow
#   to wake, so requests are answered ~30% faster beside a busy loop than
#   beside nothing (measured: best rounds ~210 us against ~290 us); hostile
#   guests that sleep and wake thousands of times a second (PIT storms, a
#   guest throttled by --cpu-max) let that CPU idle in between and land
#   near the no-hostile baseline, not the busy-loop one.
#   If other work kept the host busy meanwhile (over half a CPU besides
#   this test's processes) the comparison cannot hold: a failure is then
#   reported as skipped, with that load.
# - Guests sharing a thread with busy hostile guests are served round
#   robin with 10 ms slices (SHARD_SLICE_NS), by design: a request waits for
#   the running slice to end and for each other busy guest's slice, so with
#   K busy neighbours its answer comes within (K + 1) slices. We check the
#   median against that bound, and that none waits anywhere near the 5 s
#   request timeout (no starvation).
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/integration/spawn_lib.sh
IT=build/itest
hw='' burner=''
# a worker left stopped (SIGSTOP below) would hold up the spawn's teardown
trap '[ -n "$burner" ] && kill "$burner"; [ -n "$hw" ] && kill -CONT "$hw" 2>/dev/null; cleanup' EXIT
SLICE_MS=10 # SHARD_SLICE_NS in vmm/shard.h
N=16 M=14 K=2 # guests, of them mvm (ids 0..M-1), hostile (ids M..N-1) on worker 1
ROUNDS=6 ROUND_S=0.25
mapfile -t MVM < <(seq 0 $((M - 1))) # the mvm guests
PROBE=8,9,10,11,12,13                # those on worker 1
# The memory checks compare RSS samples; AddressSanitizer's quarantine
# would keep freed memory resident and look like growth (as in park.sh).
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0

command -v python3 >/dev/null || { echo "FAIL python3 is needed for the hostile clients"; exit 1; }
# reqload from its source (make test does not build the benchmarks)
${CC:-cc} -O2 -std=gnu11 -Ivmm -o "$T/reqload" bench/reqload.c vmm/hostinfo.c ||
	{ echo "FAIL cannot build bench/reqload.c"; exit 1; }

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

def reqlat(path, ids, rounds):
    """`req ID id` to each id in turn, on one connection: count, wrong answers, p50 and max in us"""
    s = connect(path)
    f = s.makefile('rb')
    lat, wrong = [], 0
    for _ in range(rounds):
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

def refused(path, n):
    """opens n connections at once: prints how many were refused with `error too many connections`"""
    resource.setrlimit(resource.RLIMIT_NOFILE, (resource.getrlimit(resource.RLIMIT_NOFILE)[1],) * 2)
    socks = [connect(path) for _ in range(n)]
    p = select.poll()
    for s in socks:
        p.register(s, select.POLLIN)
    said, deadline = {}, time.monotonic() + 20
    # The accepted ones say nothing: wait until every refused one has spoken, or no more do.
    while time.monotonic() < deadline:
        ev = p.poll(500)
        if not ev:
            break
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
    reqlat(args[0], [int(x) for x in args[1].split(',')], int(args[2]))
elif cmd == 'hold':
    hold(args[0], int(args[1]), args[2], args[3], args[4], args[5])
elif cmd == 'refused':
    refused(args[0], int(args[1]))
elif cmd == 'pileup':
    pileup(args[0], int(args[1]), args[2], int(args[3]), int(args[4]), float(args[5]))
elif cmd == 'unread':
    unread(args[0], args[1], int(args[2]), int(args[3]), int(args[4]), float(args[5]))
EOF
py() { python3 "$T/clients.py" "$@"; }
skipped=0
skip() { skipped=$((skipped + 1)); echo "skip $1"; shift; for l in "$@"; do echo "     $l"; done; }

jnum() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" "$2"; }                   # jnum KEY FILE: a number in stats JSON
rss() { awk '/^RssAnon/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; } # KiB
now_ms() { echo $(($(date +%s%N) / 1000000)); }
workers() { ctl stats --json | sed 's/.*"worker_pids":\[\([0-9,]*\)\].*/\1/' | tr , ' '; }
# the spawn and all its workers are alive, and stats answers
vmm_alive() {
	kill -0 "$spawn_pid" 2>/dev/null && for w in $wpids; do kill -0 "$w" || return 1; done &&
		ctl stats --json | grep -q '"lost":0,'
}
# p50 of one closed-loop reqload round on the other worker's guests (ids 0..7), in us
round_p50() {
	"$T/reqload" --socket "$SOCK" -c 1 -n $((N / 2)) -d $ROUND_S --warmup 0.05 --req id --json |
		sed -n 's/.*"p50":\([0-9.]*\).*/\1/p'
}
best() { tr ' ' '\n' | grep . | sort -n | head -1; }
median() { tr ' ' '\n' | grep . | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
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

# alternate: ROUNDS baseline, busy-loop and hostile rounds in turn, added to b, l and h
alternate() {
	for i in $(seq $ROUNDS); do
		kill -STOP "$hw"
		b="$b $(round_p50)"
		(while :; do :; done) &
		burner=$!
		l="$l $(round_p50)"
		kill "$burner"
		wait "$burner" 2>/dev/null
		burner=
		kill -CONT "$hw"
		h="$h $(round_p50)"
	done
}
# cpu_ticks: sets host_t, the CPU time (1/100 s) the host spent busy (steal included), and own_t,
# that of this test's processes: the spawn's, and this shell's reaped children (reqload, the busy
# loop, the clients). `times` must run in this shell: a subshell's children are not ours.
cpu_ticks() {
	local p
	times >"$T/times"
	own_t=$(awk 'NR == 2 {split($0, f, /[ms ]+/); print int(100 * (f[1] * 60 + f[2] + f[3] * 60 + f[4]))}' "$T/times")
	for p in $spawn_pid $wpids; do
		own_t=$((own_t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
	done
	host_t=$(awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat)
}

# measure LABEL BUSY IDS: the other worker's latency, baseline and hostile in turn; then the
# same-thread probe (3 requests to each of IDS, mvm guests on worker 1). BUSY: hostile guests
# that want the CPU all the time (they set the bound for their neighbours).
# Leaves stats in $T/s0 (start), $T/s1 and $T/s2 (around the probe, which runs hostile throughout),
# times t1 and t2 (ms) before s1 and after s2, and the hostile guests' worker's RssAnon r0 and r1 before and after the rounds.
measure() {
	local label=$1 busy=$2 ids=$3 b='' l='' h='' probe name host0 own0 ms0 other
	ctl stats --json >"$T/s0"
	r0=$(rss "$hw")
	cpu_ticks
	host0=$host_t own0=$own_t ms0=$(now_ms)
	alternate
	bb=$(best <<<"$b") hb=$(best <<<"$h")
	# Once more if need be: noise rarely spoils the best of 12 rounds, a real cost spoils them all.
	if ! awk "BEGIN {exit !($hb <= 1.10 * $bb)}"; then
		alternate
		bb=$(best <<<"$b") hb=$(best <<<"$h")
	fi
	cpu_ticks
	# what the rest of the host used meanwhile, in % of one CPU
	other=$(((host_t - host0 - (own_t - own0)) * 1000 / ($(now_ms) - ms0 + 1)))
	r1=$(rss "$hw")
	name="$label: guests on the other worker keep their latency: best p50 ${hb} us, within 10% of ${bb} us"
	name="$name (median rounds $(median <<<"$h") and $(median <<<"$b") us; beside a busy loop best $(best <<<"$l") us)"
	if awk "BEGIN {exit !($hb <= 1.10 * $bb)}"; then
		ok "$name"
	elif [ "$other" -gt 50 ]; then
		# The promise needs a CPU for the other worker. Something else
		# keeping this 2-CPU host busy takes it (then the hostile guests'
		# wakeups, e.g. 5,000 PIT interrupts a second, preempt our
		# requests more): that would measure the host, not kvmlite.
		skip "$name" "the host was busy with other work meanwhile: ${other}% of a CPU" \
			"baseline rounds:$b" "hostile rounds: $h"
	else
		bad "$name" "other work on the host meanwhile: ${other}% of a CPU" "baseline rounds:$b" "hostile rounds: $h"
	fi
	t1=$(now_ms) # the stats window lies within t1..t2
	ctl stats --json >"$T/s1"
	probe=$(py reqlat "$SOCK" "$ids" 3)
	ctl stats --json >"$T/s2"
	t2=$(now_ms)
	read -r n wrong p50 max <<<"$probe"
	check "$label: mvm guests on its thread answer within $((busy + 1)) slices (p50 $((p50 / 1000)) ms, max $((max / 1000)) ms)" \
		"[ '$n' = $((3 * $(tr , ' ' <<<"$ids" | wc -w))) ] && [ '$wrong' = 0 ] && [ $p50 -le $(((busy + 1) * SLICE_MS * 1000 + 2000)) ] && [ $max -lt 1000000 ]" \
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
# no more: at most 20 ms of each 100 ms period, +10% for the charge a wakeup adds and the window's edges
# The worker's own CPU time (/proc, not kvmlite's count) over the same window must agree: its
# other guests are idle mvm ones, so at most the hostile guests' shares and a little more.
capped() {
	local label=$1 s t0 w0 w
	shift
	t0=$(now_ms) w0=$(awk '{print $14 + $15}' "/proc/$hw/stat")
	s=$(cpu_shares "$@" | tr '\n' ' ')
	w=$((($(awk '{print $14 + $15}' "/proc/$hw/stat") - w0) * 10000 / ($(now_ms) - t0))) # per mille of a CPU
	check "$label: each hostile guest gets at most its 20% of a CPU (--cpu-max; per mille: $s)" \
		"for x in $s; do [ \$x -ge 50 ] && [ \$x -le 220 ] || exit 1; done" "$(ctl info "$1")"
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
ctl info $M >"$T/info"
out=$(sed 's/.* out=\([0-9]*\).*/\1/' "$T/info") dropped=$(sed 's/.* dropped=\([0-9]*\).*/\1/' "$T/info")
check "flood: a flooding guest keeps only its last 4 KiB: dropped = out - 4096 ($dropped of $out bytes)" \
	"[ $out -gt 16384 ] && [ $dropped = \$(($out - 4096)) ]" "$(cat "$T/info")"
# `read` answers the whole ring; the client prints its bytes unescaped.
ctl read $M >"$T/ring" 2>&1
check "flood: read gives exactly the 4096 bytes of its ring" "[ \$(wc -c <'$T/ring') = 4096 ]" "$(head -c 100 "$T/ring" | cat -v)"
check "flood: out_dropped keeps growing in stats ($(jnum out_dropped "$T/s0") -> $(jnum out_dropped "$T/s2"))" \
	"[ \$(jnum out_dropped '$T/s2') -gt \$(jnum out_dropped '$T/s1') ] && [ \$(jnum out_dropped '$T/s1') -gt \$(jnum out_dropped '$T/s0') ]"
after flood "${MVM[@]}"
stop_spawn

# The PIT guests are not busy (they sleep between interrupts), so their
# neighbours' bound is one slice. At most one interrupt per 200 us reaches
# each (PIT_MIN_PERIOD_NS): between the stats before and after the probe,
# K guests get at most K * (t2 - t1) / 200 us, +1 each for the window's
# edges, +10% for the millisecond clock of the shell. Without the clamp
# they would take as many as the CPU allows: 3-4 times that here.
pit_bound() { echo $(((K * ($2 - $1) * 1000 / 200 + K) * 11 / 10)); }
hostile_spawn $IT/hostile_pit_rate.img "pit rate"
measure "pit rate" 0 $PROBE
irqs=$(($(jnum pit_irqs "$T/s2") - $(jnum pit_irqs "$T/s1")))
check "pit rate: a count of 1 is clamped (pit_clamped $(jnum pit_clamped "$T/s2") for $K loads)" \
	"[ \$(jnum pit_clamped '$T/s2') -ge $K ]"
check "pit rate: interrupts flow, at most one per 200 us a guest ($irqs in $((t2 - t1)) ms, bound $(pit_bound "$t1" "$t2"))" \
	"[ $irqs -gt 0 ] && [ $irqs -le $(pit_bound "$t1" "$t2") ]"
capped "pit rate" $M $((M + 1))
after "pit rate" "${MVM[@]}"
stop_spawn

hostile_spawn $IT/hostile_pit_oneshot.img "pit oneshot"
measure "pit oneshot" 0 $PROBE
irqs=$(($(jnum pit_irqs "$T/s2") - $(jnum pit_irqs "$T/s1")))
check "pit oneshot: every re-arm is clamped (pit_clamped $(jnum pit_clamped "$T/s1") -> $(jnum pit_clamped "$T/s2"))" \
	"[ \$(jnum pit_clamped '$T/s2') -gt \$(jnum pit_clamped '$T/s1') ]"
check "pit oneshot: interrupts flow, at most one per 200 us a guest ($irqs in $((t2 - t1)) ms, bound $(pit_bound "$t1" "$t2"))" \
	"[ $irqs -gt 0 ] && [ $irqs -le $(pit_bound "$t1" "$t2") ]"
after "pit oneshot" "${MVM[@]}"
stop_spawn

hostile_spawn $IT/hostile_ports.img ports
measure ports $K $PROBE
check "ports: accesses to ports with no device are counted ($(jnum unknown_ports "$T/s0") -> $(jnum unknown_ports "$T/s2"))" \
	"[ \$(jnum unknown_ports '$T/s2') -gt \$(jnum unknown_ports '$T/s1') ]"
after ports "${MVM[@]}"
stop_spawn

hostile_spawn $IT/hostile_mmio.img mmio
measure mmio $K $PROBE
check "mmio: accesses to memory it does not have are counted ($(jnum mmio "$T/s0") -> $(jnum mmio "$T/s2"))" \
	"[ \$(jnum mmio '$T/s2') -gt \$(jnum mmio '$T/s1') ]"
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
for _ in $(seq 600); do ctl info 18 | grep -q '^running' || break; sleep 0.1; done
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
for _ in $(seq 100); do ctl info 15 | grep -q 'dropped=0' || break; sleep 0.05; done
ctl stop 15 >/dev/null

# Lines far longer than 4096 bytes are skipped as they come, never buffered.
r0=$(rss $sup)
{
	head -c $((16 << 20)) /dev/zero | tr '\0' x
	printf '\nreq 3 id\n'
	head -c $((1 << 20)) /dev/zero | tr '\0' y
	printf '\ninfo 3\n'
} | timeout 60 socat -t 30 - UNIX-CONNECT:"$SOCK" >"$T/long"
r1=$(rss $sup)
check "a 16 MiB line and a 1 MiB line each get one error line; the requests after them are answered" \
	"[ \"\$(sed 's/ exits=.*//' '$T/long' | tr '\n' '|')\" = 'error line too long|ok 3|error line too long|ok halted booted=1|' ]" \
	"$(cut -c1-80 "$T/long")"
check "and the supervisor did not keep them (RssAnon $r0 -> $r1 KiB)" "[ $((r1 - r0)) -lt 1024 ]"

# Unknown and malformed guest ids, for every command that takes one: an id
# that overflows 32 bits must not wrap around to a real guest.
printf '%s\n' "req $N id" "info 4294967295" "read 4294967296" "send 18446744073709551616 x" "stop -1" \
	"watch +1" "info 0x1" "req  1 id" "read 3 99999999999999999999" "stop 4294967295" "list ended" |
	timeout 20 socat -t 10 - UNIX-CONNECT:"$SOCK" >"$T/ids"
check "unknown, overflowing and malformed ids are refused; nothing was stopped" \
	"[ \"\$(tr '\n' '|' <'$T/ids')\" = 'error no such guest|error no such guest|error bad id|error bad id|error bad id|error bad id|error bad id|error bad id|error bad argument|error no such guest|ok 15|' ]" \
	"$(tr '\n' '|' <"$T/ids")"

# 3000 connections at once, each holding half a line.
fds() { ls /proc/$sup/fd | wc -l; }
# settled: the supervisor has closed what clients left (at most 5 s)
settled() { for _ in $(seq 50); do [ "$(fds)" -le "$fds0" ] && return; sleep 0.1; done; }
fds0=$(fds)
r0=$(rss $sup)
rm -f "$T/ready" "$T/go"
py hold "$SOCK" 3000 "inf" "o 7"$'\n' "$T/ready" "$T/go" >"$T/held" &
hold_pid=$!
for _ in $(seq 300); do [ -s "$T/ready" ] && break; sleep 0.1; done
sleep 0.2 # the last ones accepted
r1=$(rss $sup)
s=$(now_ms)
a=$(ctl req 1 id 2>&1)
e=$(now_ms)
check "while 3000 connections hold half a line each, another client is answered ($((e - s)) ms)" \
	"[ '$(cat "$T/ready")' = 3000 ] && [ '$a' = 1 ] && [ $((e - s)) -lt 2000 ]" "held $(cat "$T/ready"), answer $a"
check "3000 connections cost the supervisor under 8 KiB each (RssAnon $r0 -> $r1 KiB)" \
	"[ $((r1 - r0)) -lt $((3000 * 8)) ]"
touch "$T/go"
wait $hold_pid
check "each of them, once its line is whole, gets its answer" "[ \"\$(cat '$T/held')\" = '3000 3000' ]" "$(cat "$T/held")"
settled

# One more than MAX_CONNS (4096, vmm/supervisor.h) are refused, not queued
# without end; once they are gone the slots serve new clients.
py refused "$SOCK" 4146 >"$T/refused"
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
check "while a client piles up answers it does not read, another is answered ($us us)" \
	"[ '$a' = ok_4 ] && [ $us -lt 2000000 ] && [ '$during' = 1 ]" "$(cat "$T/unread")"
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

echo "hostile: $pass passed, $fail failed, $skipped skipped"
[ "$fail" = 0 ]
