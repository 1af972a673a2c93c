#!/bin/sh
# make-seeds.sh - writes the seed corpus fuzz/corpus/fuzz_*/: a few meaningful programs per target, in its encoding.
# Rerun it after changing how a harness decodes its input. Needs xxd (a test dependency).
set -eu
mkdir -p "$(dirname "$0")/corpus"
cd "$(dirname "$0")/corpus"

# seed TARGET NAME HEX...: one input, written as hex (spaces are ignored).
seed() {
	mkdir -p "$1"
	t=$1 n=$2
	shift 2
	echo "$*" | xxd -r -p >"$t/$n"
}

# The 512-byte boot sector every loader seed carries: a jmp to itself, zeros, the 0x55 0xaa signature.
sector() {
	printf '\353\376'
	head -c 508 /dev/zero
	printf '\125\252'
}

# fuzz_uart ops: 00 write OFF DATA32 SIZE | 01 read OFF SIZE | 02 feed LEN BYTES | 03 rx_byte B | 04 idle | 05 reset
# (SIZE: 00 one byte, 01 two, 02 four)
seed fuzz_uart fifo_interrupts \
	00 02 c7000000 00  00 01 0f000000 00  00 04 0b000000 00 \
	02 05 68656c6c6f  01 02 00  01 05 00  01 00 00 01 00 00 01 00 00  04  01 02 00  01 00 00 01 00 00  01 02 00
seed fuzz_uart loopback_overrun \
	00 04 1f000000 00  00 02 01000000 00  01 06 00 \
	00 00 41000000 00 00 00 42000000 00 00 00 43000000 00 00 00 44000000 00 00 00 45000000 00 00 00 46000000 00 \
	00 00 47000000 00 00 00 48000000 00 00 00 49000000 00 00 00 4a000000 00 00 00 4b000000 00 00 00 4c000000 00 \
	00 00 4d000000 00 00 00 4e000000 00 00 00 4f000000 00 00 00 50000000 00 00 00 51000000 00 \
	01 05 00  01 00 00  00 04 0b000000 00  01 06 00
seed fuzz_uart overrun_16450 \
	00 01 05000000 00  03 78  03 79  01 02 00  01 05 00  01 00 00  01 05 00  00 04 0a000000 00  02 03 616263
seed fuzz_uart divisor_wide_access \
	00 03 80000000 00  00 00 01000000 01  01 00 02  00 03 03000000 00  01 04 02 \
	00 07 55aa55aa 02  01 06 01  05  01 00 02

# fuzz_pit: NOW64, then ops: 00 write OFF DATA32 SIZE | 01 read OFF SIZE | 02 +ns16 | 03 +us16 | 04 +us32 |
# 05 advance | 06 advance at now-us16 | 07 sleep to deadline, advance | 08 port61 write B | 09 port61 read |
# 0a program B COUNT16 (channel B%3, mode and BCD from B&15) | 0b latch CH | 0c now -= us16 | 0d status CH
seed fuzz_pit bios_18hz_periodic \
	00ca9a3b00000000  0a 24 0000  07 07 07  0b 00  0d 00  03 e803  0b 00  05  07
seed fuzz_pit one_shot_clamped \
	00ca9a3b00000000  0a 30 0a00  0d 00  07  05  03 e803  0a 30 e803  07  0b 00  0d 00  06 0100  07
seed fuzz_pit counter2_gate_port61 \
	00ca9a3b00000000  0a 26 a904  08 03  09  03 6400  09  0d 02  0b 02  08 00  09  03 0a00  09
seed fuzz_pit bcd_readback \
	00ca9a3b00000000  00 03 59000000 00  00 01 99000000 00  0b 01  03 0100  01 01 00 \
	00 03 ce000000 00  01 00 00  01 01 00  01 02 00  0c 0a00  06 0a00  0a 31 0200  07 07

# fuzz_pic ops: 00 write OFF DATA32 SIZE | 01 read OFF SIZE | 02 set_irq B (irq (B>>1)%20-2, level B&1) |
# 03 INTA if INT | 04 INTA | 05 program CMD ICW1 ICW2 [ICW3] [ICW4] | 06 OCW CMD B  (CMD 00: 0x20, 02: 0xa0)
seed fuzz_pic pc_setup_eoi \
	05 00 11 08 04 01  05 02 11 70 02 01  00 01 00000000 00  00 03 00000000 00 \
	02 05  03  06 00 20  02 04  02 0d  03  02 15  03  06 02 20  06 00 20  06 00 0b  01 00 00
seed fuzz_pic poll \
	05 00 11 08 04 01  05 02 11 70 02 01  02 0b  06 00 0c  01 00 00  06 00 0b  01 00 00  06 00 20
seed fuzz_pic level_aeoi_rotate \
	05 00 19 20 04 03  05 02 19 28 02 03  00 00 00000000 01  00 02 00000000 01 \
	02 07  03  03  02 1d  03  04  06 00 80  06 00 68  03  02 06
seed fuzz_pic withdrawn_is_spurious \
	05 00 11 08 04 01  02 0d  02 0c  04  06 00 0a  01 00 00  02 0d  04  04

# fuzz_exit: RUNSIZE16 (added to sizeof(struct kvm_run); d026: 12288 bytes) TRACE, then exits:
# REASON (00-03 io, 04 mmio, 05 hlt, 06 intr, 07 window, 08 shutdown, 09 fail entry, 0a internal, 0b system event,
# 0c rdmsr, 0d wrmsr) IF, then for io: DIR SIZE(00 then 00/01/02) PORT(index) COUNT(n-1) OFFSET(00: 4096) DATA (out,
# when inside); for rdmsr/wrmsr: INDEX32 DATA64 ERROR
seed fuzz_exit out_hello_then_hlt  d026 00  00 00 01 00 00 00 04 00 68656c6c6f  05 00
seed fuzz_exit in_string_mmio_hlt \
	d026 01  00 00 00 00 00 05 02 00  00 00 00 00 01 1b 01 00 \
	04 00 00800b0000000000 04 00 0102030405060708  06 00  07 00  05 01
seed fuzz_exit malformed_io \
	d026 00  00 00 01 00 02 00 00 02 01  00 00 01 00 00 00 ff ffffffff 00  00 00 01 00 01 17 00 00 3400 \
	00 00 00 f3 00 00 03 ffffffffffffffff
seed fuzz_exit other_exits \
	0000 00  08 00 00000000000000000000000000000000  09 00 01000000000000000000000000000000 \
	0a 00 01000000000000000000000000000000  0b 00 02000000000000000000000000000000 \
	f0 63000000 00 00000000000000000000000000000000
seed fuzz_exit msrs_refused  d026 01  0c 00 ff020000 0000000000000000 00  0d 01 10000000 0100000000000000 00  05 00

# fuzz_proto: 00 parse LINE | 01 escape CAP BYTES | 02 lines RECORDS (00-7f: that many + 1 bytes; 80-ff: a run of
# ((B&7f)+1)*64 copies of the next byte) | 03 ranges N16 CAP16 BITMAP
seed fuzz_proto parse_send  00 "$(printf 'send 12 hi\\n there' | xxd -p)"
seed fuzz_proto parse_req   00 "$(printf 'req 0 id\r' | xxd -p)"
seed fuzz_proto parse_read  00 "$(printf 'read 5 100' | xxd -p)"
seed fuzz_proto parse_list  00 "$(printf 'list halted' | xxd -p)"
seed fuzz_proto parse_stop  00 "$(printf 'stop 4294967295' | xxd -p)"
seed fuzz_proto parse_missing 00 "$(printf 'send 5 ' | xxd -p)"
seed fuzz_proto escape  01 20 "$(printf 'a\\b\n\r\t\000\377~ z' | xxd -p)"
seed fuzz_proto unescape 01 08 "$(printf 'hi\\x41\\n\\\\' | xxd -p)"
seed fuzz_proto lines_too_long  02 02 61620a  ff 78  00 0a  c0 79  02 0a6364
seed fuzz_proto ranges  03 4000 4000 ff0ff0f3000080ff
seed fuzz_proto ranges_cut  03 2000 0500 f0f0f0f0

# fuzz_loader: MODE (00 check, 01 file, 02 name; +3: file with the firmware) ERRLEN RAMSIZE16 (x16) DATA
seed fuzz_loader check_sector  00 ff 0000 "$(sector | xxd -p)"
seed fuzz_loader file_sector   01 ff 0040 "$(sector | xxd -p)"
seed fuzz_loader file_small_ram 01 40 0010 "$(sector | xxd -p)"
seed fuzz_loader file_short    01 20 0000 "$(printf 'short' | xxd -p)"
seed fuzz_loader name_hello    02 ff 0000 "$(printf 'hello' | xxd -p)"
seed fuzz_loader name_unknown  02 10 0000 "$(printf 'nosuch' | xxd -p)"
seed fuzz_loader file_firmware 04 ff 00b8 "$(sector | xxd -p)"
seed fuzz_loader file_disk     01 ff 0040 "$( (sector; head -c 700 /dev/zero) | xxd -p)"

# fuzz_disk: SECTORS TRIM PART16, then calls: FRAME32 AX BX CX DX SI DS ES DAP16 (all little endian)
# (a CHS read of 2 sectors to 0000:8000; an LBA read through a packet at 0000:0600 on a disk with a
# partition table of 4 heads, 32 sectors; AH=08 and AH=48)
seed fuzz_disk chs_read  08 00 00000000000000000000000000000000 \
	00700000 0202 0080 0200 8000 0000 0000 0000 00000000000000000000000000000000
seed fuzz_disk lba_read  10 40 800101000603203f20000000e00f0000 \
	00700000 0042 0000 0000 8000 0006 0000 0000 10000300008000000100000000000000
seed fuzz_disk params    02 00 00000000000000000000000000000000 \
	00700000 0008 0000 0000 8000 0000 0000 0000 00000000000000000000000000000000 \
	00700000 0048 0000 0000 8000 0007 0000 0000 1a000000000000000000000000000000

# fuzz_park: OPS1 OPS2 FLAGS (bit 0: guest 2 takes the other VM), then OPS1 + OPS2 state changes, each
# OP K VALUE64: 00 register K | 01 segment K%8, field K/8%4 | 02 CR0/CR2/CR3/CR4/CR8/EFER/GDT/IDT (K%9)
# | 03 debug register | 04 XSAVE bytes 8K | 05 event (exception, interrupt, NMI, shadow) | 06 EFER by
# wrmsr | 07 all registers (VALUE64 twice)
seed fuzz_park nothing  00 00 00
seed fuzz_park every_kind  08 08 01 \
	00 00 1111111111111111  01 04 3412000000000000  02 03 0400000000000000  03 00 5a5a5a5a00000000 \
	04 00 7f03000000000000  05 03 0100000000000000  06 00 0100000000000000  02 00 0200000000000000 \
	00 05 2222222222222222  01 0d 0000010000000000  03 05 0100000000000000  04 03 801f000000000000 \
	05 02 0101010000000000  02 04 0300000000000000  06 00 0000000000000000  05 00 01000d0000000000
seed fuzz_park registers  02 01 00  07 00 0123456789abcdef fedcba9876543210  00 10 0202000000000000 \
	07 00 5555555555555555 aaaaaaaaaaaaaaaa
# CR0.PG with page tables KVM cannot use queues a triple fault for the next entry: the next guest on that VM must not get it
seed fuzz_park paging_then_reuse  01 00 00  02 08 1100008000000000

# fuzz_http: PIECE (bytes per http_feed, 0: all at once), then what a client sends
seed_text() { mkdir -p "$1"; printf '%b' "$3" >"$1/$2"; }
seed_text fuzz_http pipelined '\007GET /guests/1/hello HTTP/1.1\r\nHost: x\r\n\r\nHEAD /stats HTTP/1.1\r\nHost: x\r\n\r\nGET /metrics HTTP/1.0\r\n\r\n'
seed_text fuzz_http body_then_next '\003GET /guests/7 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET http://h/guests/2/a?b HTTP/1.1\nHost: h\n\n'
seed_text fuzz_http errors '\000POST /stats HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, close\r\n\r\nGET /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n'
seed_text fuzz_http expect '\020\r\nGET /guests/1/x HTTP/1.1\r\nHost: [::1]:80\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi'
