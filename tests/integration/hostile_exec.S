/* hostile_exec.S - hostile guest: jumps into memory it does not have (0xC0000), where no instruction can be fetched. */
/*
 * Code fetched from an MMIO area cannot be emulated: KVM gives up with
 * KVM_EXIT_INTERNAL_ERROR (emulation failure). kvmlite must end this
 * guest as failed with that reason, and nothing else.
 */
#include "diff.inc"
main:
	SAY "exec\n"
	ljmp $0xc000, $0		/* option ROMs on a PC; nothing here */
	SECTOR_END
