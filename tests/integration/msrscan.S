/* msrscan.S - scans the MSR ranges a guest can reach, marks every MSR it can write, and checks the marks survive parking. */
/*
 * Prints (hash and count in hex):
 *   cpuid H       OR of every register of the CPUID leaves below: 0 = no features
 *   view H N      what a fresh guest finds: N readable MSRs, H over (index, value)
 *   mine H N      the same after it wrote its marks (values depend on ESI)
 *   back H N      after sleeping in hlt until a PIT tick (parked, with --park always)
 * A rdmsr/wrmsr that faults raises #GP, which in real mode goes through
 * IVT vector 13: the handler skips the 2-byte instruction and sets BL.
 * An MSR that reads two different values in a row (a clock) counts as
 * "ticking": only that goes into the hash, not its value. Each mark is
 * the first of these that wrmsr takes: (i << 32 | i << 12) with
 * i = ESI + 1, a memory type in every byte (0x06 or 0x04 by the parity of
 * ESI: PAT, fixed MTRRs), the same type with the MTRR enable bits (0xc06,
 * 0xc04: MTRRdefType), all ones (MCi_CTL), zero. The first three keep
 * bit 0 clear, which would turn on kvmclock, async PF and the like.
 * tests/integration/park.sh compares these lines across guests, VMs and
 * park/resume. No firmware is needed (it programs its own PIC and PIT).
 */
#include "layout.h"

#define GP_VECTOR 13
#define TICK_VECTOR (PIC_MASTER_VECTOR + IRQ_PIT)

	.struct 0x7e00
index:	.skip 4			/* ESI at boot */
left:	.skip 2			/* MSRs left in the current range */
nread:	.skip 2			/* readable MSRs found by this scan */

	.code16
	.text
	.globl _start
_start:				/* kvmlite enters at 0000:7c00, interrupts off, DF = 0 */
	xor %ax, %ax
	mov %ax, %ds
	mov %ax, %ss
	mov $BOOT_STACK, %sp
	mov %esi, index
	movl $gp, 4 * GP_VECTOR		/* 0000:gp */
	movl $tick, 4 * TICK_VECTOR

	xor %edi, %edi			/* CPUID: nothing is set, all must be 0 */
	mov $leaves, %si
2:	lodsl
	xor %ecx, %ecx
	cpuid
	or %eax, %edi
	or %ebx, %edi
	or %ecx, %edi
	or %edx, %edi
	cmp $leaves_end, %si
	jb 2b
	mov $'c', %al
	call hash
	call nl

	xor %bp, %bp			/* BP = 0: look, 1: mark */
	call scan
	mov $'v', %al
	call report
	inc %bp
	call scan
	dec %bp
	call scan
	mov $'m', %al
	call report

	mov $devices, %si		/* PIC and PIT: a tick to wake up from hlt */
3:	lodsw				/* AL = port, AH = value */
	movzbw %al, %dx
	mov %ah, %al
	out %al, %dx
	cmp $devices_end, %si
	jb 3b
	sti
	hlt				/* parked here with --park always */
	cli
	call scan
	mov $'b', %al
	call report
	mov $0x30, %al			/* PIT counter 0 stopped (mode 0, no count): */
	out %al, $PIT_BASE + 3		/* no more ticks, sleep for good */
	sti
5:	hlt
	jmp 5b

/* scan: every MSR of the ranges; BP = 0: hash into EDI, count in nread; 1: mark */
scan:
	xor %edi, %edi
	movw $0, nread
	mov $ranges, %si
1:	lodsl
	mov %eax, %ecx
	lodsw
	mov %ax, left
2:	call rd
	jc 4f
	test %bp, %bp
	jz 3f
	call mark
	jmp 4f
3:	call look
4:	inc %ecx
	decw left
	jnz 2b
	cmp $ranges_end, %si
	jb 1b
	ret

/* look: MSR ECX read as EDX:EAX; read it again: a clock counts only as ticking */
look:
	push %edx
	push %eax
	call rd
	pop %ebx
	cmp %ebx, %eax
	pop %eax			/* EAX = the first read's EDX; pop keeps flags */
	jne 1f
	cmp %eax, %edx
	jne 1f
	call mix
	mov %ebx, %eax
	jmp 2f
1:	mov $0x7469636b, %eax		/* "tick" */
2:	call mix
	mov %ecx, %eax
	call mix
	incw nread
	ret

/* mark: write the first candidate value that MSR ECX takes */
mark:
	mov index, %edx
	inc %edx
	mov %edx, %eax
	shl $12, %eax
	call wr
	jnc 9f
	mov $0x06060606, %eax
	testb $1, index
	jz 1f
	mov $0x04040404, %eax
1:	mov %eax, %edx
	call wr
	jnc 9f
	movzbl %al, %eax
	or $0xc00, %ax
	xor %edx, %edx
	call wr
	jnc 9f
	or $-1, %eax
	or $-1, %edx
	call wr
	jnc 9f
	xor %eax, %eax
	xor %edx, %edx
	call wr
9:	ret

/* rd, wr: rdmsr/wrmsr of MSR ECX; CF set if it raised #GP */
rd:	mov $0, %bl
	rdmsr
	jmp 1f
wr:	mov $0, %bl
	wrmsr
1:	shr $1, %bl
	ret

/* #GP (vector 13, no error code in real mode): skip the rdmsr/wrmsr, say so in BL */
gp:	push %bp
	mov %sp, %bp
	addw $2, 2(%bp)
	pop %bp
	mov $1, %bl
	iret

tick:	push %ax
	mov $0x20, %al			/* non-specific EOI */
	out %al, $PIC_MASTER_CMD
	pop %ax
	iret

/* mix: EDI = EDI * FNV prime ^ EAX */
mix:	imul $0x01000193, %edi, %edi
	xor %eax, %edi
	ret

/* report: "L H N\n", L = AL, H = EDI, N = nread; hash: "L H" */
report:
	call hash
	mov $' ', %al
	call putc
	mov nread, %ax
	shl $16, %eax
	mov $4, %cx
	call hex
nl:	mov $'\n', %al
	jmp putc
hash:	call putc
	mov $' ', %al
	call putc
	mov %edi, %eax
	mov $8, %cx

/* hex: print the top CX nibbles of EAX */
hex:	rol $4, %eax
	push %ax
	and $0xf, %al
	add $'0', %al
	cmp $'9', %al
	jbe 1f
	add $'a' - '0' - 10, %al
1:	call putc
	pop %ax
	loop hex
	ret

/* putc: AL to COM1; keeps all registers (kvmlite's THR is always empty again at once) */
putc:	push %dx
	mov $COM1_BASE, %dx
	out %al, %dx
	pop %dx
	ret

/*
 * MSR ranges: first index, count. Each MSR costs ~40 us here (an exit, a
 * #GP delivered in real mode), so the blocks that hold no MSR KVM knows
 * are left out: all of 0-0x1fff; of 0xc0000000-0xc0001fff and
 * 0xc0010000-0xc0011fff the parts where Intel, AMD and KVM define MSRs
 * (EFER to TSC_AUX, AMD's PMU and MCA, HWCR to OSVW, the *_CFG and IBS
 * MSRs); Hyper-V's; KVM's and PVM's. Reading the whole blocks from the
 * host (KVM_GET_MSRS, as fuzz_park.c does) finds nothing KVM serves
 * outside these on kvm_pvm. With the MSR filter it does not matter: it
 * denies every number not allowed, scanned here or not.
 */
ranges:
	.long 0x00000000
	.word 0x2000
	.long 0xc0000000
	.word 0x500
	.long 0xc0010000
	.word 0x300
	.long 0xc0011000
	.word 0x100
	.long 0x40000000		/* Hyper-V */
	.word 0x200
	.long 0x4b564d00		/* KVM (kvmclock, async PF, steal time...) and PVM */
	.word 0x100
ranges_end:
leaves:	.long 0, 1, 0x40000000, 0x80000001
leaves_end:
/* port, value: the master 8259A (ICW1-4, only IRQ0 unmasked), PIT counter 0 periodic, 13.7 ms */
devices:
	.byte PIC_MASTER_CMD, 0x11, PIC_MASTER_DATA, PIC_MASTER_VECTOR, PIC_MASTER_DATA, 1 << IRQ_CASCADE
	.byte PIC_MASTER_DATA, 0x01, PIC_MASTER_DATA, 0xfe
	.byte PIT_BASE + 3, 0x34, PIT_BASE, 0x00, PIT_BASE, 0x40
devices_end:
	.org BOOT_SIZE - 2
	.word BOOT_SIGNATURE
