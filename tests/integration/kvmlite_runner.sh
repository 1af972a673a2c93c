# kvmlite_runner.sh - sourced by guests_qemu.sh: runs each guest under kvmlite instead of QEMU.
# KVMLITE names the binary; KVMLITE_FIRMWARE is pc or none.
run_guest() {
	exec timeout -k 5 "$GUEST_MAX_SECONDS" "${KVMLITE:-build/kvmlite}" run --firmware "${KVMLITE_FIRMWARE:-pc}" \
		--index 7 "$1"
}
GUEST_INDEX=7
HALT_EXIT_STATUS=0
CRASH_EXIT_STATUS=4
