/* alarm.S - the micro VM with a PIT one-shot it re-arms on request (`alarm`), counting the interrupts (`ticks`). */
/*
 * For timer behaviour that must survive parking: a one-shot deadline armed
 * just before the guest halts passes while the guest may have no VM, and
 * must still fire exactly once.
 */
#define SERVER_TICKS 1
#define SERVER_ALARM 1
#include "server.inc"
	SECTOR_END
