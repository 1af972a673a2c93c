/* fault.c - fault injection for tests: KVMLITE_FAULT makes chosen host calls fail for chosen guests. */
#include <pthread.h>
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
static int nfaults;
/* Shard threads pass the points at once: the variable is read by the
 * first of them, and the counts change under the lock. */
static pthread_once_t parsed = PTHREAD_ONCE_INIT;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void fault_parse(void)
{
	const char *env = getenv("KVMLITE_FAULT");
	char point[16];
	unsigned id, count;
	int used;

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

	pthread_once(&parsed, fault_parse);
	if (!nfaults)
		return false;
	pthread_mutex_lock(&lock);
	for (int i = 0; i < nfaults; i++) {
		if (strcmp(faults[i].point, point) != 0)
			continue;
		faults[i].calls++;
		if (faults[i].calls >= faults[i].id && faults[i].left) {
			faults[i].left--;
			hit = true;
		}
	}
	pthread_mutex_unlock(&lock);
	return hit;
}

bool fault_hit(const char *point, u32 id)
{
	bool hit = false;

	pthread_once(&parsed, fault_parse);
	if (!nfaults)
		return false;
	pthread_mutex_lock(&lock);
	for (int i = 0; i < nfaults && !hit; i++) {
		if (faults[i].left && faults[i].id == id && strcmp(faults[i].point, point) == 0) {
			faults[i].left--;
			hit = true;
		}
	}
	pthread_mutex_unlock(&lock);
	return hit;
}
