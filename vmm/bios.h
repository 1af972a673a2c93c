/* bios.h - what kvmlite's firmware tells the VMM and hands over to it, through its own ports (layout.h). */
#ifndef KVMLITE_BIOS_H
#define KVMLITE_BIOS_H

#include "types.h"

#define BIOS_MISSING_KEPT 4 /* distinct services remembered by name; all are counted */

/*
 * Per guest: when its firmware entered the boot sector, and the BIOS
 * services it called that the firmware does not provide (SeaBIOS does),
 * so that a user learns why a guest misbehaves.
 */
struct bios {
	u64 boot_ns;	   /* clock_now() when the boot sector was entered; 0: not yet */
	u32 missing_total; /* calls to services the firmware lacks */
	struct {
		u16 what; /* (vector << 8) | AH */
		u32 calls;
	} missing[BIOS_MISSING_KEPT];
	u16 missing_last; /* the most recent one */
};

/* A word the firmware wrote to FW_EVENT_PORT, at host time now. */
void bios_event(struct bios *b, u16 value, u64 now);
/* "int 13h AH=05 x3, int 15h AH=86" into buf (empty if none); returns buf. */
char *bios_missing_names(const struct bios *b, char *buf, size_t len);

#endif
