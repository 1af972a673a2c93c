/* bios.c - the VMM's side of kvmlite's firmware: its events, and the services it lacks, counted and named. */
#include <stdio.h>

#include "bios.h"
#include "layout.h"

void bios_event(struct bios *b, u16 value, u64 now)
{
	if (value == FW_EVENT_BOOT) {
		if (!b->boot_ns)
			b->boot_ns = now ? now : 1;
		return;
	}
	/* A service the firmware does not provide: (vector << 8) | AH. */
	b->missing_total++;
	b->missing_last = value;
	for (int i = 0; i < BIOS_MISSING_KEPT; i++) {
		if (b->missing[i].calls && b->missing[i].what != value)
			continue;
		b->missing[i].what = value;
		b->missing[i].calls++;
		return;
	}
}

char *bios_missing_names(const struct bios *b, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (int i = 0; i < BIOS_MISSING_KEPT && b->missing[i].calls && n < len; i++) {
		int w = snprintf(buf + n, len - n, "%sint %02xh AH=%02x", i ? ", " : "", b->missing[i].what >> 8,
				 b->missing[i].what & 0xff);

		if (w > 0)
			n += (size_t)w;
		if (b->missing[i].calls > 1 && n < len) {
			w = snprintf(buf + n, len - n, " x%u", b->missing[i].calls);
			if (w > 0)
				n += (size_t)w;
		}
	}
	return buf;
}
