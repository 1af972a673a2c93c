#!/usr/bin/env bash
# guests_qemu.sh - checks each boot-sector guest's serial behaviour under QEMU + SeaBIOS (or another runner).
#
# Usage: tests/integration/guests_qemu.sh IMAGE_DIR      (e.g. build/guest; builds nothing)
#
# Each guest runs alone, one after another. QEMU boots the image as an IDE
# disk (snapshot=on: nothing written, no lock): as a floppy, SeaBIOS waits
# for the floppy interrupt in a way this nested host can miss, and boots
# stall (see tests/diff/run.sh). The guest's serial port is the runner's stdin/stdout: the
# test writes requests into a fifo and polls a file for the answers. Every
# wait is bounded, and every runner started is ended by its pid on exit.
#
# GUESTS="mvm tick" limits the run to some guests.
#
# Another runner: set GUEST_RUNNER to a bash file; it is sourced after the
# defaults below and may redefine run_guest and the expectations, e.g. for
# kvmlite (exit statuses from `kvmlite run --help`):
#   run_guest() { exec timeout -k 5 "$GUEST_MAX_SECONDS" build/kvmlite run --firmware none --index 7 "$1"; }
#   GUEST_INDEX=7           # what `id` must answer
#   HALT_EXIT_STATUS=0      # `cli; hlt` ends the guest with this status
#   CRASH_EXIT_STATUS=4     # a triple fault ends it with this status ("any": any status)
#
# QEMU runs with -no-reboot, so crash's triple fault ends QEMU (status 0)
# instead of rebooting: that is how the test sees the shutdown happen.
set -u

IMAGE_DIR=${1:?usage: $0 IMAGE_DIR}
BOOT_TIMEOUT=${BOOT_TIMEOUT:-30}	# seconds to the guest's first line (SeaBIOS takes ~2-3 s here)
BOOT_TRIES=${BOOT_TRIES:-2}		# boots that print nothing are retried (see boot)
REPLY_TIMEOUT=${REPLY_TIMEOUT:-60}	# seconds for the answers to one batch of requests
GUEST_MAX_SECONDS=${GUEST_MAX_SECONDS:-180} # a runner outliving this script is killed by then

# run_guest IMAGE: run one guest with COM1 on stdin/stdout, in the foreground,
# until it ends (exec, so that the caller's $! is the runner's own pid).
run_guest() {
	exec timeout -k 5 "$GUEST_MAX_SECONDS" qemu-system-x86_64 -accel kvm -nodefaults \
		-display none -serial stdio -m 2 -no-reboot \
		-drive "file=$1,format=raw,if=ide,snapshot=on" \
		-device isa-debug-exit,iobase=0x501,iosize=2
}
GUEST_INDEX=0		# the index the runner passes in ESI (SeaBIOS: 0); `id` answers it
HALT_EXIT_STATUS=	# empty: after `cli; hlt` the runner keeps running (QEMU does)
CRASH_EXIT_STATUS=0	# QEMU -no-reboot ends with status 0 when the CPU shuts down

if [ -n "${GUEST_RUNNER:-}" ]; then
	# shellcheck source=/dev/null
	. "$GUEST_RUNNER"
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/guests.XXXXXX")
PID=
FAILED=0
CURRENT=

cleanup() {
	stop_guest
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
	echo "FAIL $CURRENT: $*" >&2
	FAILED=$((FAILED + 1))
}

# start_guest NAME: start IMAGE_DIR/NAME.img; output in $OUT, input via fd 3.
start_guest() {
	CURRENT=$1
	local img=$IMAGE_DIR/$1.img
	OUT=$WORK/$1.out
	ERR=$WORK/$1.err
	: >"$OUT"
	rm -f "$WORK/in"
	mkfifo "$WORK/in"
	exec 3<>"$WORK/in"	# read-write: neither open blocks, and the guest never sees EOF
	if [ ! -f "$img" ]; then
		fail "no image $img"
		return 1
	fi
	run_guest "$img" <"$WORK/in" >"$OUT" 2>"$ERR" &
	PID=$!
}

# stop_guest: end the runner started by start_guest (by its pid only).
stop_guest() {
	if [ -n "$PID" ]; then
		kill "$PID" 2>/dev/null
		for _ in $(seq 50); do
			kill -0 "$PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$PID" 2>/dev/null
		wait "$PID" 2>/dev/null
		PID=
	fi
	exec 3>&-
}

alive() { [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; }

# wait_lines N SECONDS [FROM]: wait until the output holds N complete lines
# after byte offset FROM (default 0); fails if the runner ends first.
wait_lines() {
	local n=$1 deadline=$((SECONDS + $2)) from=${3:-0}
	while :; do
		[ "$(tail -c +$((from + 1)) "$OUT" | tr -cd '\n' | wc -c)" -ge "$n" ] && return 0
		if ! alive; then
			sleep 0.2	# take what it wrote last
			[ "$(tail -c +$((from + 1)) "$OUT" | tr -cd '\n' | wc -c)" -ge "$n" ] && return 0
			return 1
		fi
		[ "$SECONDS" -ge "$deadline" ] && return 1
		sleep 0.05
	done
}

# wait_bytes N SECONDS: wait until the output holds N bytes.
wait_bytes() {
	local deadline=$((SECONDS + $2))
	while [ "$(stat -c %s "$OUT")" -lt "$1" ]; do
		alive || { sleep 0.2; [ "$(stat -c %s "$OUT")" -ge "$1" ]; return; }
		[ "$SECONDS" -ge "$deadline" ] && return 1
		sleep 0.05
	done
}

# wait_exit SECONDS: wait for the runner to end by itself; sets STATUS.
wait_exit() {
	local deadline=$((SECONDS + $1))
	while alive; do
		[ "$SECONDS" -ge "$deadline" ] && return 1
		sleep 0.1
	done
	wait "$PID"
	STATUS=$?
	PID=
	return 0
}

show() { od -An -c "$1" | head -20 | sed 's/^/    /' >&2; }

# expect_output TEXT: the whole output so far is exactly TEXT.
expect_output() {
	printf '%s' "$1" >"$WORK/expected"
	if ! cmp -s "$WORK/expected" "$OUT"; then
		fail "output differs; expected:"
		show "$WORK/expected"
		echo "  got:" >&2
		show "$OUT"
		[ -s "$ERR" ] && sed 's/^/  stderr: /' "$ERR" | head -5 >&2
		return 1
	fi
}

# boot NAME [FIRST_LINE]: start NAME and wait for its first line to be
# FIRST_LINE; without FIRST_LINE, wait for a first byte.
# A boot that prints nothing is tried BOOT_TRIES times: on this host a QEMU
# boot can stall when another QEMU starts at the same moment (DESIGN.md).
boot() {
	local try
	for try in $(seq "$BOOT_TRIES"); do
		start_guest "$1" || return 1
		if [ $# -gt 1 ]; then
			wait_lines 1 "$BOOT_TIMEOUT" && break
		else
			wait_bytes 1 "$BOOT_TIMEOUT" && break
		fi
		if [ "$try" -lt "$BOOT_TRIES" ] && [ ! -s "$OUT" ]; then
			echo "  no output within ${BOOT_TIMEOUT}s: starting it again" >&2
			stop_guest
			continue
		fi
		fail "no first output within ${BOOT_TIMEOUT}s"
		show "$OUT"
		[ -s "$ERR" ] && sed 's/^/  stderr: /' "$ERR" | head -5 >&2
		return 1
	done
	[ $# -lt 2 ] || expect_output "$2"$'\n'
}

# request TEXT EXPECTED...: send TEXT (printf %b escapes), wait for one answer
# line per EXPECTED and compare ("*" takes any answer); answers in ANSWERS.
request() {
	local text=$1
	shift
	local from
	from=$(stat -c %s "$OUT")
	printf '%b' "$text" >&3
	if ! wait_lines $# "$REPLY_TIMEOUT" "$from"; then
		fail "request '$text': expected $# answer lines within ${REPLY_TIMEOUT}s"
		echo "  got:" >&2
		tail -c +$((from + 1)) "$OUT" | od -An -c | sed 's/^/    /' >&2
		return 1
	fi
	local i=0 line
	ANSWERS=()
	while IFS= read -r line; do
		ANSWERS+=("$line")
	done < <(tail -c +$((from + 1)) "$OUT")
	for want in "$@"; do
		if [ "$want" != "*" ] && [ "${ANSWERS[$i]-}" != "$want" ]; then
			fail "request '$text': answer $((i + 1)): expected '$want', got '${ANSWERS[$i]-}'"
		fi
		i=$((i + 1))
	done
	[ "${#ANSWERS[@]}" -eq $# ] || fail "request '$text': ${#ANSWERS[@]} answer lines, expected $#"
}

test_hello() {
	boot hello "hello, world" || return
	sleep 0.5
	expect_output $'hello, world\n'	# and nothing after it
	if [ -n "$HALT_EXIT_STATUS" ]; then
		if ! wait_exit 60; then
			fail "still running 60s after cli; hlt"
		elif [ "$STATUS" != "$HALT_EXIT_STATUS" ]; then
			fail "ended with status $STATUS, expected $HALT_EXIT_STATUS"
		fi
	fi
}

test_mvm() {
	boot mvm ready || return
	request 'ping\nid\ncount\nGET /x\nfoo\n' pong "$GUEST_INDEX" 3 "200 OK /x" "error: unknown request"
	local p64 p65
	p64="GET /$(printf 'a%.0s' $(seq 59))"	# 64 bytes: the longest request
	p65="${p64}b"
	request "ping\r\n\n\r\n$p64\n$p65\ncount\n" pong "200 OK ${p64#GET }" "error: line too long" 9
}

test_tick() {
	boot tick ready || return
	request 'ticks\n' "*" || return
	local t1=${ANSWERS[0]} t2 try
	# It must go up: asked again each second, for up to a minute however busy the host.
	for try in $(seq 60); do
		sleep 1
		request 'ping\nticks\n' pong "*" || return
		t2=${ANSWERS[1]}
		[[ $t1 =~ ^[0-9]+$ && $t2 =~ ^[0-9]+$ ]] && [ "$t2" -gt "$t1" ] && break
	done
	if ! [[ $t1 =~ ^[0-9]+$ && $t2 =~ ^[0-9]+$ ]] || [ "$t2" -le "$t1" ]; then
		fail "ticks did not increase over $try s: '$t1' then '$t2'"
	else
		echo "  tick: ticks $t1 -> $t2 over ~$try s (18.2 Hz would add ~$((18 * try)))"
	fi
}

test_spin() {
	boot spin spin || return
	sleep 1
	alive || fail "runner ended; a spinning guest must keep running"
	expect_output $'spin\n'
}

test_burst() {
	boot burst || return
	wait_bytes 3 "$REPLY_TIMEOUT"	# a cycle is ~0.2 s here, far less on bare metal
	local got
	got=$(cat "$OUT")
	if [ "${#got}" -lt 3 ]; then
		fail "fewer than 3 '.' within ${REPLY_TIMEOUT}s of the first"
		show "$OUT"
	elif [[ ! $got =~ ^\.+$ ]]; then
		fail "output is not only '.'"
		show "$OUT"
	fi
	alive || fail "runner ended; burst runs forever"
}

test_crash() {
	boot crash crash || return
	if [ -n "$CRASH_EXIT_STATUS" ]; then
		if ! wait_exit 60; then
			fail "did not end within 60s of printing crash (no triple fault?)"
		elif [ "$CRASH_EXIT_STATUS" != any ] && [ "$STATUS" != "$CRASH_EXIT_STATUS" ]; then
			fail "ended with status $STATUS, expected $CRASH_EXIT_STATUS"
		fi
	fi
	expect_output $'crash\n'	# printed once: no second boot
}

for guest in ${GUESTS:-hello mvm tick spin burst crash}; do
	echo "== $guest"
	before=$FAILED
	"test_$guest"
	stop_guest
	[ "$FAILED" -eq "$before" ] && echo "  ok"
done

if [ "$FAILED" -ne 0 ]; then
	echo "$FAILED check(s) failed" >&2
	exit 1
fi
echo "all guests behave"
