/* spawn.h - `kvmlite spawn N`: the supervisor that shards guests over worker processes and serves the control socket. */
#ifndef KVMLITE_SPAWN_H
#define KVMLITE_SPAWN_H

#include "types.h"

struct spawn_opts {
	u32 count;	    /* guests to start */
	const char *guest;  /* image path or built-in name */
	const char *socket; /* control socket path; NULL: the default */
	double for_s;	    /* serve this long after all booted; < 0: until stopped */
	bool json;
	bool firmware;
	bool verbose;
	u32 threads;	    /* worker threads per process; 0: one per online CPU */
	u32 mem_budget;	    /* stop creating guests at this % of host memory in use */
};

int spawn_main(const struct spawn_opts *o);

#endif
