# spawn_lib.sh - what the spawn and park integration tests share: checks, the client, starting and stopping a spawn.
# Sourced; sets KVMLITE, T (a scratch directory removed at exit), SOCK, and pass/fail counters.
KVMLITE=${KVMLITE:-build/kvmlite}
T=$(mktemp -d)
SOCK=$T/run/control
pass=0 fail=0
spawn_pid=

cleanup() {
	[ -n "$spawn_pid" ] && kill -TERM "$spawn_pid" 2>/dev/null && wait "$spawn_pid" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; shift; for l in "$@"; do echo "     $l"; done; }
check() { if eval "$2"; then ok "$1"; else bad "$1" "${@:3}"; fi; }
ctl() { "$KVMLITE" "$1" --socket "$SOCK" "${@:2}"; }

if [ ! -c /dev/kvm ]; then
	echo "SKIP: /dev/kvm is absent on this host: $(basename "$0") cannot run"
	echo "0 passed, 0 failed, 1 skipped"
	exit 0
fi

# start_spawn N ARGS...: starts `spawn N ARGS` in the background, waits until every guest settled
# (up to 5 minutes: a sanitizer build beside a busy neighbour is slow, and waiting costs nothing)
start_spawn() {
	local deadline=$((SECONDS + 300))
	"$KVMLITE" spawn --socket "$SOCK" "$@" >"$T/spawn.out" 2>"$T/spawn.err" &
	spawn_pid=$!
	while [ $SECONDS -lt $deadline ]; do
		ctl list >"$T/list" 2>/dev/null && grep -q "^booted" "$T/list" &&
			[ $(($(awk '/^booted|^failed|^lost/ {s += $2} END {print s}' "$T/list"))) -ge "$1" ] && return 0
		kill -0 "$spawn_pid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}
stop_spawn() {
	ctl stop >/dev/null 2>&1
	wait "$spawn_pid"
	spawn_status=$?
	spawn_pid=
}

# flat FILE: a summary with its wrapped lines joined (kvmlite wraps them to the terminal, 80 columns in a file)
flat() { sed -e ':a;N;$!ba;s/\n  */ /g' "$1"; }

# wait_for SECONDS COMMAND...: runs COMMAND every 0.1 s until it succeeds (status 0) or SECONDS pass
wait_for() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		[ $SECONDS -ge $deadline ] && return 1
		sleep 0.1
	done
}

# sweep N FILE: sends `req I id` for I in 0..N-1 on one connection; FILE gets the answers
sweep() {
	seq 0 $(($1 - 1)) | sed 's/.*/req & id/' >"$T/reqs"
	timeout 300 socat -t 60 - UNIX-CONNECT:"$SOCK" <"$T/reqs" >"$2"
	seq 0 $(($1 - 1)) | sed 's/.*/ok &/' | cmp -s - "$2"
}
