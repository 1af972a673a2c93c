/* slow_boot.S - computes for a while (tens of ms of this host's emulated CPU, several slices) before it writes "slow": not silent, only slow. */
/*
 * Among busy guests on one thread it waits in the run queue between its
 * slices far longer than it runs: its boot deadline counts its own time,
 * not that wait, so it is not reported silent (tests/integration/spawn.sh).
 */
#include "diff.inc"
main:
	mov $100000, %ecx
1:	addr32 loop 1b
	SAY "slow\n"
	cli
2:	hlt
	jmp 2b
	SECTOR_END
