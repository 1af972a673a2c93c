#!/bin/bash
# run.sh - conversation tests: each guest of tests/compat under QEMU + SeaBIOS, `kvmlite run` and `kvmlite spawn`; whole outputs and exit statuses compared byte for byte.
#
# Usage: KVMLITE=build/kvmlite tests/compat/run.sh [NAME...]   (after `make all`)
#
# A conversation is a list of steps (the conv_NAME functions below):
#   expect TEXT   wait until the guest's output holds TEXT (after what the
#                 last expect matched); printf %b escapes
#   send TEXT     bytes to its COM1
#   key TEXT      keys: under QEMU typed on its keyboard (the monitor's
#                 sendkey), under kvmlite bytes to COM1 (its int 16h reads them)
#   req TEXT ANS  TEXT and a newline, answered by the line ANS: under spawn
#                 through `kvmlite req`, elsewhere send, then expect ANS
#   pause S       sleep S seconds (delays between inputs; no outcome waits on one)
#   screen        QEMU: read the text screen now (the monitor's pmemsave)
#   quit          wait for the guest to end; its exit status is compared too
# Every wait has a deadline (COMPAT_DEADLINE, 60 s): the tests do not
# depend on how fast the host is.
#
# The runs of a guest must give the same output and status:
#   qemu   QEMU 7.2 + SeaBIOS booting the image as an IDE disk (snapshot=on:
#          the file is never written), a VGA, COM1 on a fifo and a file,
#          the isa-debug-exit device; its output is the text on the screen
#          at the `screen` step (tests/compat/screen.py: the rows below
#          SeaBIOS's own, trailing blanks and blank rows left out, each
#          ended by a newline) followed by what came out of COM1
#   run    `kvmlite run IMG`, the same fifo and file
#   spawn  `kvmlite spawn 1 --guest IMG`: `send`, `req`, `read`, `info`
#   parked the same with --park always: the guest is parked whenever it
#          waits (its RAM kept as a delta from a template, its disk's
#          written sectors and its screen as they are) and resumed for
#          each input
# and carriage returns are left out of all (int 10h's "\r\n" is a
# newline on a screen). kvmlite shows screen and serial output in one
# stream, a screen line never running into a serial one: so the guests put
# their screen text first, then say something on COM1.
#
# QEMU guests run one after another, never two at once (several QEMU boots
# started together stall on slow hosts); a QEMU boot that prints nothing
# within 30 s is tried again once. Without qemu-system-x86_64, or with
# COMPAT_QEMU=0 (`make integration SANITIZE=1` sets it: that run is about
# kvmlite's memory safety, and `make test` has compared with QEMU), the
# QEMU run is skipped, said so, and kvmlite's two runs are compared.
set -u
cd "$(dirname "$0")/../.."
KVMLITE=${KVMLITE:-build/kvmlite}
QEMU=${QEMU:-qemu-system-x86_64}
DEADLINE=${COMPAT_DEADLINE:-60}
IMG=build/compat
T=$(mktemp -d)
PID=
BACKEND=
pass=0 fail=0

stop_guest() {
	if [ -n "$PID" ]; then
		kill "$PID" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$PID" 2>/dev/null
		wait "$PID" 2>/dev/null
		PID=
	fi
	exec 3>&- 2>/dev/null
}
trap 'stop_guest; rm -rf "$T"' EXIT
trap 'exit 130' INT TERM

if [ ! -c /dev/kvm ]; then
	echo "SKIP: /dev/kvm is absent on this host: the conversation tests cannot run"
	exit 0
fi
have_qemu=1
if ! command -v "$QEMU" >/dev/null 2>&1; then
	have_qemu=0
	echo "SKIP (QEMU side): $QEMU not found: comparing kvmlite run with kvmlite spawn only"
elif [ "${COMPAT_QEMU:-1}" = 0 ]; then
	have_qemu=0
	echo "SKIP (QEMU side): COMPAT_QEMU=0 (the sanitizer build's run checks kvmlite only): run against spawn"
fi

# ---- the conversations ----
conv_shell_poll() { expect '$>'; send 'a\n'; expect 'b!\n$>'; pause 0.3; send 'z\n'; expect '{!\n$>'; send q; quit; }
conv_shell_block() { expect '> '; send 'hi\n'; expect 'HI\n> '; pause 0.7; send 'x'; expect 'X'; send '\nq'; quit; }
conv_uart_poll() { expect 'polled uart\n'; req 'hello' '< olleh'; pause 0.2; req 'kvm' '< mvk'; send 'q\n'; quit; }
conv_uart_irq() { expect 'irq uart\n'; req 'hello' '05: hello'; req 'abc' '03: abc'; pause 0.2; send 'q\n'; quit; }
conv_kbd_int16() { expect 'keys\n'; key 'ab'; expect '3062 '; key '\n'; expect '1c0d\n'; key 'z1q'; quit; }
conv_ticks_sleep() { expect 'awake\n'; quit; }
conv_time_1ah() { expect 'flag '; quit; }
conv_tty_int10() { expect 'done\n'; screen; send x; quit; }
conv_vga_text() { expect 'done\n'; screen; send q; quit; }
conv_disk() { quit; }
conv_disk_readall() { expect 'last mine\n'; send q; quit; }

# NAME IMAGE CONVERSATION
GUESTS="
shell_poll shell_poll.img conv_shell_poll
shell_block shell_block.img conv_shell_block
uart_poll uart_poll.img conv_uart_poll
uart_irq uart_irq.img conv_uart_irq
kbd_int16 kbd_int16.img conv_kbd_int16
ticks_sleep ticks_sleep.img conv_ticks_sleep
time_1ah time_1ah.img conv_time_1ah
tty_int10 tty_int10.img conv_tty_int10
vga_text vga_text.img conv_vga_text
disk_load disk_load.img conv_disk
disk_load-1440k disk_load-1440k.img conv_disk
disk_load-part disk_load-part.img conv_disk
disk_load-big disk_load-big.img conv_disk
disk_cprog disk_cprog.img conv_disk
disk_readall disk_readall-1440k.img conv_disk_readall
"

# ---- the ways to run a guest ----

# spawned: this run is one of the two under `kvmlite spawn`
spawned() { [ "$BACKEND" = spawn ] || [ "$BACKEND" = parked ]; }

# output: what the guest wrote so far, carriage returns left out
output() {
	case $BACKEND in
	spawn | parked) "$KVMLITE" read --socket "$T/sock" 0 2>/dev/null | tr -d '\r' ;;
	*) tr -d '\r' <"$T/serial" ;;
	esac
}

start() {
	local img=$1
	: >"$T/serial"
	: >"$T/screen"
	CURSOR=0
	STATUS=
	case $BACKEND in
	qemu | run)
		rm -f "$T/in" "$T/mon"
		mkfifo "$T/in"
		exec 3<>"$T/in"
		if [ "$BACKEND" = qemu ]; then
			timeout -k 5 300 "$QEMU" -accel kvm -nodefaults -vga std -display none -serial stdio -m 2 -no-reboot \
				-drive "file=$img,format=raw,if=ide,snapshot=on" -device isa-debug-exit,iobase=0x501,iosize=2 \
				-monitor "unix:$T/mon,server=on,wait=off" <"$T/in" >"$T/serial" 2>"$T/err" &
		else
			timeout -k 5 300 "$KVMLITE" run "$img" <"$T/in" >"$T/serial" 2>"$T/err" &
		fi
		PID=$!
		;;
	spawn | parked)
		"$KVMLITE" spawn 1 --guest "$img" --socket "$T/sock" $([ "$BACKEND" = parked ] && echo --park always) \
			>"$T/spawn.out" 2>"$T/err" &
		PID=$!
		for _ in $(seq $((DEADLINE * 10))); do
			"$KVMLITE" list --socket "$T/sock" >/dev/null 2>&1 && break
			kill -0 "$PID" 2>/dev/null || break
			sleep 0.1
		done
		;;
	esac
}

# expect TEXT: wait (DEADLINE) until the output past CURSOR holds TEXT
expect() {
	local want deadline=$((SECONDS + DEADLINE)) out rest
	want=$(printf '%b_' "$1")
	want=${want%_}
	while :; do
		out=$(output; printf _)
		out=${out%_}
		rest=${out:$CURSOR}
		if [[ $rest == *"$want"* ]]; then
			rest=${rest#*"$want"}
			CURSOR=$((${#out} - ${#rest}))
			return 0
		fi
		if [ $SECONDS -ge $deadline ] || { ! spawned && ! kill -0 "$PID" 2>/dev/null; }; then
			[ -n "${QUIET:-}" ] || echo "     $BACKEND: no '$1' within ${DEADLINE}s; output: $(printf %s "$out" | od -An -c | head -5 | tr -s ' ')"
			return 1
		fi
		sleep 0.05
	done
}

send() {
	local s
	case $BACKEND in
	spawn | parked)
		s=$(printf '%b_' "$1") # the "_" keeps a trailing newline through $(...)
		"$KVMLITE" send -n --socket "$T/sock" 0 "${s%_}" >/dev/null
		;;
	*) printf '%b' "$1" >&3 ;;
	esac
}

key() {
	local s k keys=()
	if [ "$BACKEND" != qemu ]; then
		send "$1"
		return
	fi
	s=$(printf '%b_' "$1")
	s=${s%_}
	for ((i = 0; i < ${#s}; i++)); do
		k=${s:i:1}
		case $k in
		$'\n') keys+=("sendkey ret") ;;
		' ') keys+=("sendkey spc") ;;
		[a-z0-9]) keys+=("sendkey $k") ;;
		[A-Z]) keys+=("sendkey shift-${k,}") ;;
		*) echo "     key: no QEMU key name for '$k'"; return 1 ;;
		esac
	done
	python3 tests/compat/qmon.py "$T/mon" "${keys[@]}" >/dev/null
}

req() {
	if spawned; then
		local got
		got=$("$KVMLITE" req --socket "$T/sock" 0 "$1" 2>&1)
		if [ "$got" != "$2" ]; then
			echo "     spawn: req '$1' answered '$got', expected '$2'"
			return 1
		fi
		expect "$2\n" # past it in the output too
	else
		send "$1\n"
		expect "$2\n"
	fi
}

pause() { sleep "$1"; }

screen() {
	[ "$BACKEND" = qemu ] || return 0
	rm -f "$T/dump"
	python3 tests/compat/qmon.py "$T/mon" "pmemsave 0xb8000 4000 \"$T/dump\"" >/dev/null &&
		python3 tests/compat/screen.py "$T/dump" >"$T/screen"
}

# quit: wait for the guest to end; STATUS as `kvmlite run` would give it
quit() {
	local deadline=$((SECONDS + DEADLINE)) info v
	if spawned; then
		while [ $SECONDS -lt $deadline ]; do
			info=$("$KVMLITE" info --socket "$T/sock" 0 2>/dev/null)
			case $info in
			ended* | failed*) break ;;
			esac
			sleep 0.05
		done
		v=$(sed -n 's/.*reason=debug exit with value 0x\([0-9a-f]*\).*/\1/p' <<<"$info")
		if [ -n "$v" ]; then STATUS=$(((0x$v << 1 | 1) & 0xff)); else STATUS="? ($info)"; fi
		output >"$T/final"
		"$KVMLITE" stop --socket "$T/sock" >/dev/null 2>&1
		wait "$PID"
		PID=
		return 0
	fi
	while kill -0 "$PID" 2>/dev/null; do
		if [ $SECONDS -ge $deadline ]; then
			echo "     $BACKEND: still running ${DEADLINE}s after the conversation"
			stop_guest
			STATUS=timeout
			return 1
		fi
		sleep 0.05
	done
	wait "$PID"
	STATUS=$?
	PID=
	exec 3>&-
	{ cat "$T/screen"; output; } >"$T/final"
}

# converse BACKEND NAME IMAGE CONV: one run; the output in $T/NAME.BACKEND, the status in its .status
converse() {
	BACKEND=$1
	local name=$2 img=$IMG/$3 conv=$4 try
	for try in 1 2; do
		start "$img"
		if [ "$BACKEND" = qemu ] && [ $try = 1 ]; then
			# a QEMU boot that stalls prints nothing: start it again (once)
			local t0=$SECONDS
			while [ ! -s "$T/serial" ] && kill -0 "$PID" 2>/dev/null && [ $((SECONDS - t0)) -lt 30 ]; do sleep 0.1; done
			if [ ! -s "$T/serial" ] && kill -0 "$PID" 2>/dev/null; then
				echo "     qemu: no output within 30 s: starting it again"
				stop_guest
				continue
			fi
		fi
		break
	done
	"$conv" || { stop_guest; STATUS=${STATUS:-failed}; output >"$T/final"; }
	stop_guest
	cp "$T/final" "$T/$name.$BACKEND"
	echo "$STATUS" >"$T/$name.$BACKEND.status"
}

show() { od -An -c "$1" | head -12 | sed 's/^/       /'; }

names=${*:-$(awk 'NF {print $1}' <<<"$GUESTS")}
for name in $names; do
	line=$(awk -v n="$name" '$1 == n' <<<"$GUESTS")
	[ -n "$line" ] || { echo "FAIL $name: no such conversation"; fail=$((fail + 1)); continue; }
	read -r _ img conv <<<"$line"
	backends="run spawn parked"
	[ $have_qemu = 1 ] && backends="qemu run spawn parked"
	for b in $backends; do converse "$b" "$name" "$img" "$conv"; done
	ref=$(set -- $backends; echo "$1")
	ok=1
	for b in $backends; do
		if ! cmp -s "$T/$name.$ref" "$T/$name.$b" || ! cmp -s "$T/$name.$ref.status" "$T/$name.$b.status"; then
			ok=0
		fi
	done
	if [ $ok = 1 ] && [ "$(cat "$T/$name.$ref.status")" = 33 ]; then
		echo "ok   $name: $(echo $backends | tr ' ' '/') agree ($(wc -c <"$T/$name.$ref") bytes, status 33)"
		pass=$((pass + 1))
	else
		echo "FAIL $name"
		for b in $backends; do
			echo "     $b: status $(cat "$T/$name.$b.status")"
			show "$T/$name.$b"
		done
		fail=$((fail + 1))
	fi
done
echo "compat: $pass passed, $fail failed"
[ $fail = 0 ]
