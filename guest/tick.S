/* tick.S - the micro VM of mvm.S with the PIT left periodic at 18.2 Hz, plus a `ticks` request. */
#define SERVER_TICKS 1
#include "server.inc"
	SECTOR_END
