/* fault.c - fault injection for tests: KVMLITE_FAULT makes chosen host calls fail for chosen guests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault.h"

#define FAULT_MAX 16

static struct fault {
	char point[16];
	u32 id, left;
	u32 calls; /* fault_next(): calls counted so far */
} faults[FAULT_MAX];
static int nfaults = -1; /* -1: KVMLITE_FAULT not read yet */

static void fault_parse(void)
{
	const char *env = getenv("KVMLITE_FAULT");
	char point[16];
	unsigned id, count;
	int used;

	nfaults = 0;
	while (env && nfaults < FAULT_MAX && sscanf(env, "%15[^:]:%u:%u%n", point, &id, &count, &used) == 3) {
		snprintf(faults[nfaults].point, sizeof(faults[nfaults].point), "%s", point);
		faults[nfaults].id = id;
		faults[nfaults++].left = count;
		env += used;
		if (*env != ',')
			break;
		env++;
	}
}

bool fault_next(const char *point)
{
	bool hit = false;

	if (nfaults < 0)
		fault_parse();
	for (int i = 0; i < nfaults; i++) {
		if (strcmp(faults[i].point, point) != 0)
			continue;
		faults[i].calls++;
		if (faults[i].calls >= faults[i].id && faults[i].left) {
			faults[i].left--;
			hit = true;
		}
	}
	return hit;
}

bool fault_hit(const char *point, u32 id)
{
	if (nfaults < 0)
		fault_parse();
	for (int i = 0; i < nfaults; i++) {
		if (faults[i].left && faults[i].id == id && strcmp(faults[i].point, point) == 0) {
			faults[i].left--;
			return true;
		}
	}
	return false;
}
