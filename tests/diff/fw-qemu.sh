#!/bin/sh
# fw-qemu.sh - runs boot sectors under QEMU with kvmlite's firmware (guest/firmware.S) instead of SeaBIOS.
#
# Usage: tests/diff/fw-qemu.sh IMG...   (run from the repository root)
#
# For firmware development without kvmlite: QEMU's -bios does not load a
# boot sector, so this builds a test variant of the firmware
# (-DFIRMWARE_QEMU_TEST) that copies the sector from F000:0000, and makes a
# 64 KiB BIOS image: the sector at offset 0, the firmware page at the top.
# Each run prints the guest's serial output, then "exit N". Same devices
# as the SeaBIOS run (QEMU's), so a difference from NAME.expected is a
# difference between the two firmwares.
set -eu
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cc -m32 -c -DFIRMWARE_QEMU_TEST -Ivmm -Iguest -o "$tmp/fw.o" guest/firmware.S
ld -m elf_i386 -Ttext=0xf000 --oformat=binary -o "$tmp/fw.bin" "$tmp/fw.o"
for img in "$@"; do
	# 0xff filler, sector at 0x0000, firmware page at 0xf000
	head -c 65536 /dev/zero | tr '\0' '\377' >"$tmp/bios.bin"
	dd if="$img" of="$tmp/bios.bin" conv=notrunc status=none
	dd if="$tmp/fw.bin" of="$tmp/bios.bin" bs=4096 seek=15 conv=notrunc status=none
	rc=0
	timeout 15 qemu-system-x86_64 -accel kvm -bios "$tmp/bios.bin" -nodefaults \
		-display none -serial stdio -m 2 \
		-device isa-debug-exit,iobase=0x501,iosize=2 </dev/null 2>/dev/null || rc=$?
	echo "exit $rc"
done
