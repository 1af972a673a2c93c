#!/bin/bash
# http.sh - the front doors: curl, python3's http.client and raw sockets against `spawn --http`, nc against --tcp and --tcp-per-guest.
#
# One spawn of 1,300 guests: mvm, and at the end four alternate.S guests
# (even ids sleep and never read their input, odd ids end), which give
# the 504 and 503 answers. Every wait is for an event with a generous
# deadline; nothing here compares timings.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/integration/spawn_lib.sh
PY=/usr/bin/python3
CLIENTS=tests/integration/http_clients.py
N=1300
for tool in curl nc "$PY"; do
	command -v "$tool" >/dev/null || { echo "FAIL $tool is needed (make deps-test installs it)"; exit 1; }
done

# results PYTHON-GROUP ARGS...: a group of http_clients.py's checks, each line counted as ok or FAIL
results() {
	local line
	while IFS= read -r line; do
		case $line in
		"ok   "*) ok "${line#ok   }" ;;
		*) bad "${line#FAIL }" ;;
		esac
	done < <(timeout 600 "$PY" "$CLIENTS" "$@" 2>&1)
}
# port DOOR: the port `spawn` said its door listens on ("kvmlite: http on 127.0.0.1:PORT")
port() { sed -n "s/^kvmlite: $1 on 127\.0\.0\.1:\([0-9]*\)$/\1/p" "$T/spawn.err"; }
# tcp_session PORT INPUT OUTFILE: nc with INPUT in the background, its stdin held open until OUTFILE.end exists
tcp_session() {
	{
		printf '%b' "$2"
		while [ -d "$T" ] && [ ! -e "$3.end" ]; do sleep 0.2; done
	} | nc 127.0.0.1 "$1" >"$3" 2>&1 &
}

if ! start_spawn $N --workers 2 --firmware none --guest mvm:$((N - 4)) --guest build/itest/alternate.img \
	--http 127.0.0.1:0 --tcp 127.0.0.1:0; then
	bad "spawn with --http and --tcp booted" "$(cat "$T/spawn.err")"
	echo "http: $pass passed, $fail failed"
	exit 1
fi
HP=$(port http)
TP=$(port tcp)
check "the ports the kernel chose are said on stderr" "[ -n '$HP' ] && [ -n '$TP' ]" "$(cat "$T/spawn.err")"
check "the supervisor serves them from inside its sandbox (seccomp filter mode 2)" \
	"grep -q '^Seccomp:[[:space:]]*2' /proc/$spawn_pid/status"
# started first: the idle clients are hung up on after 30 s, while the rest runs
"$PY" "$CLIENTS" idle "$HP" $N >"$T/idle" 2>&1 &
idle_pid=$!

# ---- curl ----
curl -s -o "$T/body" -w '%{http_code}' "http://127.0.0.1:$HP/guests/1234/hello" >"$T/code"
check "curl http://127.0.0.1:PORT/guests/1234/hello is answered by guest 1234" \
	"[ \"\$(cat '$T/code')\" = 200 ] && [ \"\$(cat '$T/body')\" = '200 OK /hello' ]" "$(cat "$T/code" "$T/body")"
in_of() { ctl info "$1" | sed -n 's/.* in=\([0-9]*\) .*/\1/p'; }
in0=$(in_of 1234) other0=$(in_of 1233)
curl -s "http://127.0.0.1:$HP/guests/1234/x" >"$T/body"
check "the guest named is the one asked: it read \"GET /x\\n\" (7 bytes), its neighbour nothing" \
	"[ \$((\$(in_of 1234) - in0)) -eq 7 ] && [ \"\$(in_of 1233)\" = '$other0' ]" "$(ctl info 1234)"
curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HP/guests/$((N + 10))/x" >"$T/code"
check "curl: an unknown guest is 404" "[ \"\$(cat '$T/code')\" = 404 ]" "$(cat "$T/code")"
curl -s "http://127.0.0.1:$HP/metrics" >"$T/metrics.http"
ctl stats --prometheus >"$T/metrics.ctl"
names() { sed -n 's/^# TYPE \([a-z_]*\) .*/\1/p' "$1" | sort; }
check "/metrics has the metrics of \`kvmlite stats --prometheus\` (one formatter)" \
	"[ -s '$T/metrics.ctl' ] && [ \"\$(names '$T/metrics.http')\" = \"\$(names '$T/metrics.ctl')\" ]" \
	"$(diff <(names "$T/metrics.http") <(names "$T/metrics.ctl") | head -5)"

# ---- python3's http.client and raw sockets ----
results codes "$HP" $N
results keepalive "$HP" $N
results pipeline "$HP" $N
results concurrent "$HP" $N 1000
results nonreader "$HP" $N
curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HP/guests/7/x" >"$T/code"
check "the spawn still answers after all that" "[ \"\$(cat '$T/code')\" = 200 ]" "$(cat "$T/code")"

# ---- nc against --tcp ----
tcp_session "$TP" '12\nping\nid\n' "$T/tcp1"
wait_for 60 grep -qx 12 "$T/tcp1"
check "nc: the first line names the guest, then its serial port both ways" \
	"[ \"\$(cat '$T/tcp1')\" = \"\$(printf 'pong\n12')\" ]" "$(od -c "$T/tcp1" | head)"
touch "$T/tcp1.end"
# 50 lines in one write are 250 bytes: two `send`s (FRONT_CHUNK), as much as mvm's own ring takes
tcp_session "$TP" "20\n$(printf 'ping\\n%.0s' $(seq 50))" "$T/tcp2"
wait_for 60 sh -c "[ \$(grep -cx pong '$T/tcp2') -eq 50 ]"
check "nc: 50 requests in one write get 50 answers" "[ \$(grep -cx pong '$T/tcp2') -eq 50 ]" \
	"$(sort "$T/tcp2" | uniq -c)"
touch "$T/tcp2.end"
printf 'x\n' | timeout 30 nc 127.0.0.1 "$TP" >"$T/tcp3" 2>&1
check "nc: a first line that is no id is refused" "[ \"\$(cat '$T/tcp3')\" = 'error bad id' ]" "$(cat "$T/tcp3")"
printf '%s\n' $((N + 10)) | timeout 30 nc 127.0.0.1 "$TP" >"$T/tcp4" 2>&1
check "nc: an unknown guest is refused" "[ \"\$(cat '$T/tcp4')\" = 'error no such guest' ]" "$(cat "$T/tcp4")"

wait "$idle_pid"
while IFS= read -r line; do
	case $line in
	"ok   "*) ok "${line#ok   }" ;;
	*) bad "${line#FAIL }" ;;
	esac
done <"$T/idle"
stop_spawn
check "the spawn ends cleanly" "[ $spawn_status -eq 0 ]" "$(tail -3 "$T/spawn.err")"

# ---- --tcp-per-guest within the fd budget ----
# 4,200 fds leave the supervisor 4,200 - 4,096 (client connections) - 2 (shards) - 64 (reserve)
# for ports of their own: fewer than the 100 guests. The ports are found free first.
BASE=$("$PY" -c '
import socket, random
for _ in range(50):
    base, socks = random.randrange(20000, 30000), []
    try:
        for p in range(base, base + 100):
            s = socket.socket(); s.bind(("127.0.0.1", p)); socks.append(s)
        print(base); break
    except OSError:
        pass
    finally:
        for s in socks: s.close()')
SOCK=$T/run2/control
printf '#!/bin/sh\nulimit -n 4200 && exec "%s" "$@"\n' "$(realpath "$KVMLITE")" >"$T/kvmlite-4200"
chmod +x "$T/kvmlite-4200"
if ! KVMLITE=$T/kvmlite-4200 start_spawn 100 --workers 2 --firmware none --tcp-per-guest "127.0.0.1:$BASE"; then
	bad "spawn 100 with --tcp-per-guest under ulimit -n 4200 booted" "$(cat "$T/spawn.err")"
else
	K=$(sed -n 's/.*ports for the first \([0-9]*\) guests only.*/\1/p' "$T/spawn.err")
	check "--tcp-per-guest stops at the fd budget, and says so" "[ -n '$K' ] && [ '$K' -gt 0 ] && [ '$K' -lt 100 ]" \
		"$(cat "$T/spawn.err")"
	K=${K:-1}
	tcp_session $((BASE + K - 1)) 'id\n' "$T/tcp5"
	wait_for 60 grep -qx $((K - 1)) "$T/tcp5"
	check "--tcp-per-guest: port BASE + $((K - 1)) is guest $((K - 1))'s serial port" \
		"grep -qx $((K - 1)) '$T/tcp5'" "$(cat "$T/tcp5")"
	touch "$T/tcp5.end"
	check "--tcp-per-guest: no port beyond the budget" "! nc -z 127.0.0.1 $((BASE + K))"
	stop_spawn
fi

# ---- more clients than the supervisor's fds ----
# Under ulimit -n 100 the supervisor runs out of fds long before its 4,096 connection slots:
# accept() fails with EMFILE, and the spare fd lets each waiting client in to be told 503.
SOCK=$T/run3/control
printf '#!/bin/sh\nulimit -n 100 && exec "%s" "$@"\n' "$(realpath "$KVMLITE")" >"$T/kvmlite-100"
chmod +x "$T/kvmlite-100"
if ! KVMLITE=$T/kvmlite-100 start_spawn 10 --workers 1 --firmware none --http 127.0.0.1:0; then
	bad "spawn 10 with --http under ulimit -n 100 booted" "$(cat "$T/spawn.err")"
else
	results overload "$(port http)" 10
	stop_spawn
fi
echo "http: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
