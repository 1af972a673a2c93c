/* sandbox.h - what each kind of kvmlite thread may ask of the kernel (seccomp) and of its io_uring. */
#ifndef KVMLITE_SANDBOX_H
#define KVMLITE_SANDBOX_H

#include <liburing.h>

#include "types.h"

/*
 * The roles a thread plays. A shard thread is both a vCPU worker and the
 * I/O loop of its guests: kvmlite runs guests M:N, so the thread that
 * enters KVM_RUN is the one that serves their consoles (docs/security.md).
 */
enum sandbox_role {
	SANDBOX_SUPERVISOR, /* `spawn`'s first process: control socket, workers, summary */
	SANDBOX_WORKER,	    /* a worker process's main thread once its shards run: waits */
	SANDBOX_SHARD,	    /* runs guests (KVM_RUN) and their I/O through its io_uring */
	SANDBOX_RUN,	    /* `kvmlite run`: one guest and the terminal */
	SANDBOX_ROLES
};

/* Installs the calling thread's seccomp filter for `role` (default: kill
 * the process). From then on a system call outside the role's list ends
 * the process with SIGSYS. -1 with err on failure. */
int sandbox_enter(enum sandbox_role role, char *err, size_t errlen);

/*
 * What the supervisor may touch beyond its role's list, named when it
 * enters the sandbox: the one directory it may remove a file from (its
 * control socket's; -1: none), and the files it opened beforehand to write
 * its results to (--boot-times, --metrics-file): those fds, and no other
 * but stdout and stderr, take write().
 */
struct sandbox_grant {
	int dir;
	const int *out;
	unsigned nout;
	/*
	 * --metrics-file, rewritten whole without opening anything: its two
	 * files (pwrite64 and ftruncate on these fds only) and their
	 * directory (renameat2 RENAME_EXCHANGE within it, unlinkat of its
	 * files at the end). metrics false: none.
	 */
	bool metrics;
	int metrics_dir, metrics_fd[2];
};

/* As sandbox_enter(SANDBOX_SUPERVISOR), with what `g` grants. */
int sandbox_enter_supervisor(const struct sandbox_grant *g, char *err, size_t errlen);

/* io_uring_queue_init() for a ring limited to the operations `role` uses
 * (IORING_REGISTER_RESTRICTIONS on a ring created disabled), with `files`
 * registered: operations name them by index (IOSQE_FIXED_FILE), and with
 * limit_ops they can name nothing else. Returns what io_uring_queue_init()
 * returns. With limit_ops false, a ring without restrictions. */
int sandbox_ring_init(struct io_uring *ring, unsigned entries, enum sandbox_role role, bool limit_ops, const int *files,
		      unsigned nfiles);

/* For tests: with KVMLITE_FAULT="sandbox:ROLE:1" (ROLE the enum's number),
 * makes a system call no role allows (socket), which must kill. */
void sandbox_probe(enum sandbox_role role);

const char *sandbox_role_name(enum sandbox_role role);

#endif
