/* spawn_opts.h - the options of `kvmlite spawn`, as main.c parses them and the supervisor and shards read them. */
#ifndef KVMLITE_SPAWN_OPTS_H
#define KVMLITE_SPAWN_OPTS_H

#include "types.h"

/* When guests give their KVM VM back (park.c): see docs/architecture.md, "Parking". */
enum park_mode {
	PARK_NEVER,  /* every guest keeps its VM: strict live density, for measuring */
	PARK_AUTO,   /* park the least recently active once the host's budget is reached */
	PARK_ALWAYS, /* park every guest the moment it halts: the most guests per host */
};

struct spawn_opts {
	u32 count;	      /* guests to start */
	const char *guest[8]; /* image paths or built-in names, in id order */
	u32 guest_count[8];   /* how many guests boot each; 0: all the rest */
	int nguest;
	const char *socket; /* control socket path; NULL: the default */
	double for_s;	    /* serve this long after all booted; < 0: until stopped */
	bool json;
	bool firmware;
	bool verbose;
	u32 workers;		  /* worker processes; 0: one per online CPU (more if the limits need) */
	u32 threads;		  /* worker threads per process; 0: one */
	u32 mem_budget;		  /* stop creating guests at this % of host memory in use */
	const char *log;	  /* --log FILE: every guest's output lines, prefixed with its id */
	const char *metrics_file; /* --metrics-file PATH: the counters for node_exporter, kept up to date */
	u32 per_process;	  /* at most this many guests per worker process; 0: what the limits allow */
	enum park_mode park;
	u32 resident;		/* at most this many guests on a KVM VM at once; 0: what the host allows */
	bool no_sandbox;	/* --no-sandbox: no seccomp filters, no io_uring restrictions */
	u32 cpu_max;		/* --cpu-max: % of a CPU each guest may use at most; 100: no cap */
	u32 first_id;		/* --first-id: guests are numbered first_id .. first_id + count - 1 */
	const char *boot_times; /* --boot-times FILE: each booted guest's id and µs to its first byte */
	double boot_timeout;	/* --boot-timeout: a guest that wrote nothing by then is silent (s; 0: never) */
	const char *http;	   /* --http ADDR:PORT: the HTTP front door (frontdoor.c); NULL: none */
	const char *tcp;	   /* --tcp ADDR:PORT: the raw serial front door */
	const char *tcp_per_guest; /* --tcp-per-guest [ADDR:]BASEPORT: a port per guest from the first */
};

#endif
