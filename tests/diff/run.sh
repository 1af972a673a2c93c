#!/bin/sh
# run.sh - differential tests: each tests/diff/NAME.S boot sector under QEMU+SeaBIOS and under kvmlite; serial output and exit status must be identical.
#
# Usage (from the repository root):
#   KVMLITE=build/kvmlite tests/diff/run.sh [NAME...]
#       runs `$KVMLITE run --firmware pc build/diff/NAME.img` and QEMU with
#       SeaBIOS on each sector, one after another, and compares them.
#   tests/diff/run.sh [NAME...]            (KVMLITE unset)
#       checks QEMU against the saved references tests/diff/NAME.expected.
#   tests/diff/run.sh --update [NAME...]
#       rewrites the references from QEMU (run each twice; they must agree).
# Without qemu-system-x86_64 (or $QEMU, when set) or a usable /dev/kvm, the
# QEMU side is skipped and kvmlite is compared with the references instead.
# KVMLITE=tests/diff/fw-qemu.sh runs the firmware under QEMU instead of
# kvmlite (firmware development without kvmlite).
#
# An output is the guest's serial bytes followed by a line "exit N" (N =
# the exit status; the sectors end through the debug exit port 0x501 with
# 0x10, so 33 is expected). Each run is limited to $DIFF_TIMEOUT seconds
# (default 60; a timeout shows as "exit 124"). QEMU guests are started one
# after another, never in parallel: several at once stall on slow hosts.
set -u
cd "$(dirname "$0")/../.."
timeout_s=${DIFF_TIMEOUT:-60}
update=0
if [ "${1:-}" = "--update" ]; then update=1; shift; fi

if [ $# -gt 0 ]; then
	names="$*"
else
	names=$(for f in tests/diff/*.S; do basename "$f" .S; done)
fi
imgs=$(for n in $names; do printf 'build/diff/%s.img ' "$n"; done)
make -s $imgs || { echo "run.sh: building the sectors failed" >&2; exit 2; }

qemu=${QEMU:-qemu-system-x86_64}
have_qemu=1
if ! command -v $qemu >/dev/null 2>&1; then
	have_qemu=0
	echo "run.sh: $qemu not found: QEMU side skipped, comparing with tests/diff/*.expected"
elif [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
	have_qemu=0
	echo "run.sh: /dev/kvm not usable: QEMU side skipped, comparing with tests/diff/*.expected"
fi
if [ $update = 1 ] && [ $have_qemu = 0 ]; then
	echo "run.sh: --update needs QEMU" >&2
	exit 2
fi
kvmlite=${KVMLITE:-}
if [ -z "$kvmlite" ] && [ $have_qemu = 0 ]; then
	echo "run.sh: neither KVMLITE nor QEMU: nothing to run" >&2
	exit 2
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# run_qemu IMG OUT: SeaBIOS boots IMG as an IDE disk (snapshot=on: nothing
# is written to it, and no lock is taken). Not as a floppy: SeaBIOS's floppy
# driver waits for IRQ 6 in a way this host's nested KVM can miss, and the
# boot stalls ("floppy_wait_irq" timeouts; three floppy boots started
# together stalled every time here, three IDE boots never did). A run that
# still times out without a byte of output is retried, twice at most.
run_qemu() {
	for try in 1 2 3; do
		rc=0
		timeout "$timeout_s" $qemu -accel kvm -nodefaults -display none \
			-serial stdio -m 2 \
			-drive file="$1",format=raw,if=ide,snapshot=on \
			-device isa-debug-exit,iobase=0x501,iosize=2 \
			</dev/null >"$2" 2>"$2.err" || rc=$?
		if [ $rc -ne 124 ] || [ -s "$2" ] || [ $try -eq 3 ]; then
			break
		fi
		echo "note: QEMU printed nothing in ${timeout_s}s on $1, retrying"
	done
	echo "exit $rc" >>"$2"
}

# run_kvmlite IMG OUT
run_kvmlite() {
	rc=0
	timeout "$timeout_s" $kvmlite run --firmware pc "$1" \
		</dev/null >"$2" 2>"$2.err" || rc=$?
	echo "exit $rc" >>"$2"
}

pass=0
fail=0
for n in $names; do
	img=build/diff/$n.img
	exp=tests/diff/$n.expected
	if [ $update = 1 ]; then
		run_qemu "$img" "$tmp/a"
		run_qemu "$img" "$tmp/b"
		if cmp -s "$tmp/a" "$tmp/b"; then
			cp "$tmp/a" "$exp"
			echo "updated $exp"
			pass=$((pass + 1))
		else
			echo "FAIL $n: two QEMU runs differ, $exp not written"
			diff "$tmp/a" "$tmp/b" | sed 's/^/    /'
			fail=$((fail + 1))
		fi
		continue
	fi
	if [ $have_qemu = 1 ]; then
		run_qemu "$img" "$tmp/ref"
		ref_name="QEMU+SeaBIOS"
		if [ -r "$exp" ] && ! cmp -s "$tmp/ref" "$exp"; then
			echo "note $n: QEMU output differs from $exp"
		fi
	else
		if [ ! -r "$exp" ]; then
			echo "FAIL $n: no $exp"
			fail=$((fail + 1))
			continue
		fi
		cp "$exp" "$tmp/ref"
		ref_name=$exp
	fi
	if [ -n "$kvmlite" ]; then
		run_kvmlite "$img" "$tmp/out"
		out_name=kvmlite
	else
		cp "$exp" "$tmp/out" 2>/dev/null || : >"$tmp/out"
		out_name=$exp
	fi
	if cmp -s "$tmp/ref" "$tmp/out"; then
		echo "ok   $n"
		pass=$((pass + 1))
	else
		echo "FAIL $n: --- $ref_name +++ $out_name"
		diff -u "$tmp/ref" "$tmp/out" | tail -n +3 | sed 's/^/    /'
		if [ -s "$tmp/out.err" ]; then
			echo "    stderr of $out_name:"
			sed 's/^/    | /' "$tmp/out.err" | head -20
		fi
		fail=$((fail + 1))
	fi
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
