/* run.h - `kvmlite run`: one guest with COM1 bridged to the terminal. */
#ifndef KVMLITE_RUN_H
#define KVMLITE_RUN_H

#include "types.h"

struct run_opts {
	const char *image;
	bool firmware;
	bool trace;
	bool verbose;
	bool no_sandbox; /* --no-sandbox: no seccomp filter, for debugging */
	bool json;	 /* --json: the end summary as one JSON object on stderr */
	double boot_timeout; /* --boot-timeout: say so if the guest wrote nothing by then (s; 0: never) */
	u32 index;
};

/*
 * Exit statuses of `kvmlite run` (odd ones are the debug exit's (v << 1) | 1).
 */
enum run_status {
	RUN_OK = 0,    /* the guest halted and nothing can wake it, or Ctrl-A x quit */
	RUN_ERROR = 2, /* kvmlite could not start: usage, image, KVM */
	RUN_TRIPLE_FAULT = 4,
	RUN_RESET = 6, /* the guest asked for a reset: kvmlite ends it */
	RUN_FAIL_ENTRY = 8,
	RUN_INTERNAL_ERROR = 10,
	RUN_GUEST_FAILED = 12, /* unknown exit, system event, host ioctl failure */
	RUN_INTERRUPTED = 130, /* SIGINT/SIGTERM/SIGHUP, as a shell reports it */
};

int run_guest(const struct run_opts *opts);

#endif
