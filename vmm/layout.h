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
 *   0x07e00 - 0x9fbff  free conventional memory (int 12h: 639 KiB, as SeaBIOS)
 *   0x9fc00 - 0x9ffff  where SeaBIOS keeps its EBDA: the BDA points there, nothing is in it
 *   0xa0000 - 0xb6fff  RAM, though a PC has video memory here (see below)
 *   0xb7000 - 0xb7fff  the firmware (guest/firmware.S), copied into this
 *                      guest's RAM when it boots with one: segment 0xb700
 *   0xb8000 - 0xbffff  the VGA text buffer: no RAM, every access exits
 *   0xc0000 - 0xfffff  nothing: accesses exit as MMIO, reads give all ones
 *
 * All the RAM, firmware included, is one memslot (GUEST_RAM_SIZE bytes from
 * 0): KVM's per-slot arrays cost the same up to 2 MiB, so one slot of 736
 * KiB costs the kernel what one of 64 KiB did, and the firmware no second
 * (24 KiB a VM, bench/kernel_cost). It ends where the VGA text buffer starts,
 * so that writes there exit and can be shown; the firmware sits just below,
 * in the window of the monochrome adapter, which a colour text-mode guest
 * never uses, so that all of conventional memory is the guest's. Pages a
 * guest never touches cost nothing (the arena is MAP_NORESERVE): a boot
 * sector that uses only the IVT, BDA, stack and itself touches two pages,
 * and one more if it has the firmware.
 */
#define GUEST_RAM_SIZE	0xb8000 /* one memslot from address 0: RAM and the firmware */
#define GUEST_PAGE_SIZE 0x1000

/*
 * A guest's slot in its shard's RAM arena (vmm/mem.c): its RAM, then room
 * it never touches up to what one x86-64 page table maps (2 MiB), slots
 * aligned to that. Giving a parked guest's pages back then empties a page
 * table of its own, which Linux frees with them (MADV_DONTNEED, from 6.14
 * with CONFIG_PT_RECLAIM): a parked guest keeps no page table. Packed at
 * GUEST_RAM_SIZE, three guests shared each page table, and none could
 * free it: 1.45 KiB of kernel memory a parked guest (docs/spawn.md).
 */
#define GUEST_SLOT_SIZE 0x200000
#define CONV_MEM_KB	639    /* int 12h and the BDA: conventional memory below the EBDA */
#define EBDA_SEG	0x9fc0 /* the BDA's EBDA pointer (0x40e), as under SeaBIOS */

#define IVT_ADDR	 0x0000
#define BDA_ADDR	 0x0400
#define BDA_COM1	 0x0400 /* word: I/O base of COM1 (0x3f8) */
#define BDA_EQUIPMENT	 0x0410 /* word: bits 9-11 = number of serial ports */
#define BDA_TICKS	 0x046c /* dword: timer ticks since midnight, 18.2 Hz */
#define BDA_MIDNIGHT	 0x0470 /* byte: set when ticks wrap past 24 h */
#define BDA_COM1_TIMEOUT 0x047c /* byte: int 14h timeout for COM1 */
#define BDA_MEM_KB	 0x0413 /* word: KiB of conventional memory (int 12h) */
#define BDA_EBDA	 0x040e /* word: segment of the extended BIOS data area */

#define VGA_TEXT_ADDR 0xb8000 /* the colour text buffer: 80 x 25 cells of character, attribute */

#define BOOT_ADDR      0x7c00 /* where the boot sector is loaded and entered */
#define BOOT_SIZE      512
#define BOOT_SIGNATURE 0xaa55 /* last two bytes, little endian: 0x55 0xaa */
#define BOOT_STACK     0x7c00 /* SS:SP = 0000:7c00 when the boot sector starts */
#define BOOT_DRIVE     0x80   /* DL at boot: first hard disk, as a PC BIOS sets it */

#define FIRMWARE_ADDR	   0xb7000 /* guest-physical base of the firmware page */
#define FIRMWARE_SIZE	   0x1000
#define FIRMWARE_SEG	   0xb700 /* real-mode segment the firmware runs in, from offset 0 */
#define FIRMWARE_RESET_OFF 0x0ff0 /* where the vCPU starts: 16 bytes below its top, as a PC's ROM */

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

/*
 * kvmlite's own ports, through which its firmware hands work to the VMM
 * (vmm/bios.c). Nothing sits there on a PC or under QEMU: only the
 * firmware writes them, and a guest that does is served the same.
 */
#define FW_EVENT_PORT 0x0520 /* word out: FW_EVENT_BOOT, or (vector << 8) | AH of a service it lacks */
#define FW_EVENT_BOOT 0x0000 /* the firmware is done and enters the boot sector */
#define FW_DISK_PORT  0x0524 /* dword out: guest-physical address of an int 13h register frame */
#define FW_SCREEN_PORT 0x0528 /* byte out: a character int 10h puts on the screen (teletype) */

/* IRQs on the 8259A pair, and the vector bases the firmware programs */
#define IRQ_PIT		  0
#define IRQ_CASCADE	  2
#define IRQ_COM1	  4
#define PIC_MASTER_VECTOR 0x08
#define PIC_SLAVE_VECTOR  0x70

/* The 8254 input clock, Hz (the PC's 14.31818 MHz crystal divided by 12) */
#define PIT_HZ 1193182

#endif
