/* unit.h - what every cmocka unit test includes, in the order cmocka needs. */
#ifndef KVMLITE_UNIT_H
#define KVMLITE_UNIT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "types.h"

/* Records what a device did to its interrupt line, for assertions. */
struct irq_probe {
	int level; /* current level */
	int rises; /* 0 -> 1 transitions seen */
	int sets;  /* calls of any kind */
};

static inline void irq_probe_set(void *ctx, int irq, int level)
{
	struct irq_probe *p = ctx;

	(void)irq;
	if (level && !p->level)
		p->rises++;
	p->level = level;
	p->sets++;
}

#endif
