/* layout.h - every guest-physical address, I/O port, IRQ and size kvmlite uses, in one place. */
#ifndef KVMLITE_LAYOUT_H
#define KVMLITE_LAYOUT_H

/*
 * This header is included by the C code of the VMM and by the assembly of
 * the firmware and guests (gcc defines __ASSEMBLER__ for .S files), so it
 * holds only plain #defines.
 *
 * Guest-physical memory of one guest (real mode, first megabyte):
 *
 *   0x00000 - 0x003ff  interrupt vector table (256 far pointers)
 *   0x00400 - 0x004ff  BIOS data area (COM1 base at 0x400, ticks at 0x46c)
 *   0x00500 - 0x07bff  free; the stack grows down from 0x7c00
 *   0x07c00 - 0x07dff  the boot sector, loaded here as a PC BIOS does
 *   0x07e00 - RAM end  free
 *   RAM end - 0xfefff  nothing: accesses exit as MMIO, reads give all ones
 *   0xff000 - 0xfffff  the firmware: one read-only page shared by all guests,
 *                      seen by the CPU as segment 0xf000, offsets 0xf000-0xffff
 *
 * A guest that uses only the IVT, BDA, stack and boot sector touches two
 * pages (0x0000 and 0x7000): that is its whole private memory.
 */
#define GUEST_RAM_SIZE	0x10000 /* 64 KiB of RAM from address 0 */
#define GUEST_PAGE_SIZE 0x1000

#define IVT_ADDR	 0x0000
#define BDA_ADDR	 0x0400
#define BDA_COM1	 0x0400 /* word: I/O base of COM1 (0x3f8) */
#define BDA_EQUIPMENT	 0x0410 /* word: bits 9-11 = number of serial ports */
#define BDA_TICKS	 0x046c /* dword: timer ticks since midnight, 18.2 Hz */
#define BDA_MIDNIGHT	 0x0470 /* byte: set when ticks wrap past 24 h */
#define BDA_COM1_TIMEOUT 0x047c /* byte: int 14h timeout for COM1 */

#define BOOT_ADDR      0x7c00 /* where the boot sector is loaded and entered */
#define BOOT_SIZE      512
#define BOOT_SIGNATURE 0xaa55 /* last two bytes, little endian: 0x55 0xaa */
#define BOOT_STACK     0x7c00 /* SS:SP = 0000:7c00 when the boot sector starts */
#define BOOT_DRIVE     0x80   /* DL at boot: first hard disk, as a PC BIOS sets it */

#define FIRMWARE_ADDR	  0xff000 /* guest-physical base of the firmware page */
#define FIRMWARE_SIZE	  0x1000
#define FIRMWARE_SEG	  0xf000 /* real-mode segment the firmware runs in */
#define FIRMWARE_BASE_OFF 0xf000 /* offset of the page within FIRMWARE_SEG */
#define RESET_VECTOR_OFF  0xfff0 /* F000:FFF0, where an x86 starts after reset */

/*
 * The guest's index (0..N-1 in a spawn, 0 for `kvmlite run`) is passed in
 * ESI at reset and preserved by the firmware up to the boot sector. SeaBIOS
 * enters a boot sector with ESI = 0, so the same image sees index 0 there.
 */
#define GUEST_INDEX_REG esi

/* I/O ports */
#define PIC_MASTER_CMD	 0x20
#define PIC_MASTER_DATA	 0x21
#define PIC_SLAVE_CMD	 0xa0
#define PIC_SLAVE_DATA	 0xa1
#define PIT_BASE	 0x40 /* 0x40-0x42 counters 0-2, 0x43 control word */
#define PIT_PORTS	 4
#define PORT_POST	 0x80 /* POST codes; also written to for short I/O delays */
#define PORT_SYSCTL_B	 0x61 /* bit 0 gates PIT counter 2, bit 5 reads its output */
#define PORT_KBD_CMD	 0x64 /* writing 0xfe pulses the CPU reset line */
#define KBD_CMD_RESET	 0xfe
#define COM1_BASE	 0x3f8
#define COM1_PORTS	 8
#define DEBUG_EXIT_PORT	 0x501 /* like QEMU's isa-debug-exit,iobase=0x501,iosize=2 */
#define DEBUG_EXIT_PORTS 2
#define PORT_RESET_CTRL	 0xcf9 /* PCI reset control: bit 2 set requests a reset */

/* IRQs on the 8259A pair, and the vector bases the firmware programs */
#define IRQ_PIT		  0
#define IRQ_CASCADE	  2
#define IRQ_COM1	  4
#define PIC_MASTER_VECTOR 0x08
#define PIC_SLAVE_VECTOR  0x70

/* The 8254 input clock, Hz (the PC's 14.31818 MHz crystal divided by 12) */
#define PIT_HZ 1193182

#endif
