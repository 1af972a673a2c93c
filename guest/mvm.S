/* mvm.S - the request-driven micro VM: PIT stopped, only serial input wakes it (see server.inc). */
#include "server.inc"
	SECTOR_END
