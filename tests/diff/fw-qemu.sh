#!/bin/sh
# fw-qemu.sh - runs a boot sector under QEMU with kvmlite's firmware (guest/firmware.S) in place of SeaBIOS.
#
# Usage: tests/diff/fw-qemu.sh [run --firmware pc] IMG   (from the repository root)
#
# It takes the same arguments as `kvmlite run`, so it can stand in for
# kvmlite while the firmware is developed:
#     KVMLITE=tests/diff/fw-qemu.sh tests/diff/run.sh
# The guest's serial output goes to stdout; the exit status is QEMU's.
#
# QEMU's -bios does not load a boot sector, so this builds a test variant
# of the firmware (-DFIRMWARE_QEMU_TEST: it runs in place at segment 0xff00,
# copies the sector from F000:0000 and turns off QEMU's local APIC so the
# 8259A reaches the CPU) inside a 64 KiB BIOS image: the sector at offset 0,
# the page at the top.
# The devices are QEMU's, as in the SeaBIOS run, so a difference from
# tests/diff/NAME.expected is a difference between the two firmwares.
set -eu
while [ $# -gt 1 ]; do shift; done	# the image is the last argument
img=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cc -m32 -c -DFIRMWARE_QEMU_TEST -Ivmm -Iguest -o "$tmp/fw.o" guest/firmware.S
ld -m elf_i386 -Ttext=0 --oformat=binary -o "$tmp/fw.bin" "$tmp/fw.o"
head -c 65536 /dev/zero | tr '\0' '\377' >"$tmp/bios.bin"
dd if="$img" of="$tmp/bios.bin" conv=notrunc status=none
dd if="$tmp/fw.bin" of="$tmp/bios.bin" bs=4096 seek=15 conv=notrunc status=none
rc=0
timeout 15 qemu-system-x86_64 -accel kvm -bios "$tmp/bios.bin" -nodefaults \
	-display none -serial stdio -m 2 \
	-device isa-debug-exit,iobase=0x501,iosize=2 2>/dev/null || rc=$?
exit $rc
