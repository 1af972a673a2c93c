/* sandbox.c - what each kind of kvmlite thread may ask of the kernel (seccomp) and of its io_uring. */
#define _GNU_SOURCE /* RENAME_EXCHANGE */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "fault.h"
#include "sandbox.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZER_BUILD 1
#else
#define SANITIZER_BUILD 0
#endif

#define ROLE(r) (1u << (r))
#define ALL	(ROLE(SANDBOX_SUPERVISOR) | ROLE(SANDBOX_WORKER) | ROLE(SANDBOX_SHARD) | ROLE(SANDBOX_RUN))
#define GUESTS	(ROLE(SANDBOX_SHARD) | ROLE(SANDBOX_RUN)) /* threads that run guests */

/*
 * Every system call a role may make after its filter is in, and why. A
 * call not listed kills the process: a guest that took over the thread
 * running it could open no file, socket or process, and run no code it
 * mapped (mmap and mprotect refuse PROT_EXEC below).
 */
static const struct {
	int nr;
	u32 roles;
	const char *why;
} allowed[] = {
	/* the C library, in every role */
	{ SCMP_SYS(futex), ALL, "locks in malloc and stdio, pthread_join" },
	{ SCMP_SYS(brk), ALL, "malloc" },
	{ SCMP_SYS(munmap), ALL, "free() of large blocks; a guest's kvm_run when it ends" },
	{ SCMP_SYS(mremap), ALL, "realloc() of large blocks" },
	{ SCMP_SYS(madvise), ALL, "free(); a guest's RAM given back when it ends" },
	{ SCMP_SYS(rt_sigreturn), ALL, "returning from the kick and stop signal handlers" },
	{ SCMP_SYS(restart_syscall), ALL, "the kernel resuming a sleep a signal interrupted" },
	{ SCMP_SYS(rt_sigprocmask), ALL, "ppoll and signal handling; abort()" },
	{ SCMP_SYS(clock_gettime), ALL, "the vDSO's fallback: every device is driven by the monotonic clock" },
	{ SCMP_SYS(getpid), ALL, "abort() (raise)" },
	{ SCMP_SYS(gettid), ALL, "abort() (raise)" },
	{ SCMP_SYS(exit), ALL, "a thread ends" },
	{ SCMP_SYS(exit_group), ALL, "the process ends" },
	{ SCMP_SYS(write), ROLE(SANDBOX_RUN), "the console's output (other roles: sandbox_arg_rules)" },
	{ SCMP_SYS(close), ALL, "a guest's vCPU and VM fds when it ends; a client's socket; /proc files" },
	/* threads that run guests */
	{ SCMP_SYS(timer_settime), GUESTS, "the time slice and PIT deadline timer that kicks KVM_RUN" },
	{ SCMP_SYS(timer_delete), GUESTS, "that timer, at the end" },
	{ SCMP_SYS(mincore), ROLE(SANDBOX_SHARD), "counting the RAM pages a parked guest keeps" },
	{ SCMP_SYS(io_uring_enter), ROLE(SANDBOX_SHARD) | ROLE(SANDBOX_SUPERVISOR), "the event loop" },
	/* `kvmlite run`: one guest on a terminal */
	{ SCMP_SYS(read), ROLE(SANDBOX_RUN) | ROLE(SANDBOX_SUPERVISOR), "the console's input; /proc files" },
	{ SCMP_SYS(ppoll), ROLE(SANDBOX_RUN), "waiting for input, the timer or a stop signal" },
	{ SCMP_SYS(fcntl), ROLE(SANDBOX_RUN) | ROLE(SANDBOX_SUPERVISOR), "O_NONBLOCK on a console or client socket" },
	/* the supervisor */
	{ SCMP_SYS(sendto), ROLE(SANDBOX_SUPERVISOR), "answers to clients (non-blocking send)" },
	{ SCMP_SYS(getsockopt), ROLE(SANDBOX_SUPERVISOR), "SO_PEERCRED: refusing another user's client" },
	{ SCMP_SYS(shutdown), ROLE(SANDBOX_SUPERVISOR), "ending a client that stopped reading its answers" },
	{ SCMP_SYS(geteuid), ROLE(SANDBOX_SUPERVISOR), "the uid a client must have" },
	{ SCMP_SYS(newfstatat), ROLE(SANDBOX_SUPERVISOR), "stdio reading /proc" },
	{ SCMP_SYS(fstat), ROLE(SANDBOX_SUPERVISOR), "stdio reading /proc" },
	{ SCMP_SYS(lseek), ROLE(SANDBOX_SUPERVISOR), "stdio reading /proc" },
	{ SCMP_SYS(sched_getaffinity), ROLE(SANDBOX_SUPERVISOR), "sysconf(_SC_NPROCESSORS_ONLN) for CPU figures" },
	{ SCMP_SYS(sysinfo), ROLE(SANDBOX_SUPERVISOR), "glibc's qsort() sizing its buffer (boot-time percentiles)" },
	{ SCMP_SYS(wait4), ROLE(SANDBOX_SUPERVISOR), "reaping a worker that died, and at the end" },
	{ SCMP_SYS(clock_nanosleep), ROLE(SANDBOX_SUPERVISOR), "waiting for workers at the end" },
#if SANITIZER_BUILD
	/* Sanitizer builds only: LeakSanitizer stops the world with a ptrace
	 * helper at exit, and reports read /proc. Not in the real binary. */
	{ SCMP_SYS(clone), ALL, "LeakSanitizer" },
	{ SCMP_SYS(tgkill), ALL, "LeakSanitizer's helper stops the threads it checks" },
	{ SCMP_SYS(ptrace), ALL, "LeakSanitizer" },
	{ SCMP_SYS(wait4), ALL & ~ROLE(SANDBOX_SUPERVISOR), "LeakSanitizer" },
	{ SCMP_SYS(sched_yield), ALL, "LeakSanitizer" },
	{ SCMP_SYS(getdents64), ALL, "LeakSanitizer" },
	{ SCMP_SYS(getdents), ALL, "LeakSanitizer" },
	{ SCMP_SYS(lseek), ALL & ~ROLE(SANDBOX_SUPERVISOR), "LeakSanitizer" },
	{ SCMP_SYS(prctl), ALL, "LeakSanitizer" },
	{ SCMP_SYS(sigaltstack), ALL, "LeakSanitizer" },
	{ SCMP_SYS(rt_sigaction), ALL, "LeakSanitizer" },
	{ SCMP_SYS(readlink), ALL, "sanitizer reports" },
	{ SCMP_SYS(read), ALL & ~(ROLE(SANDBOX_RUN) | ROLE(SANDBOX_SUPERVISOR)), "sanitizer reports" },
	{ SCMP_SYS(fstat), ALL & ~ROLE(SANDBOX_SUPERVISOR), "sanitizer reports" },
	{ SCMP_SYS(newfstatat), ALL & ~ROLE(SANDBOX_SUPERVISOR), "sanitizer reports" },
	{ SCMP_SYS(getppid), ALL, "LeakSanitizer" },
	{ SCMP_SYS(getrlimit), ALL, "sanitizer reports" },
	{ SCMP_SYS(prlimit64), ALL, "sanitizer reports" },
#endif
};

/* The KVM ioctls a guest-running thread uses; any other request kills. */
static const unsigned long kvm_ioctls[] = {
	KVM_RUN,	     KVM_INTERRUPT,	  KVM_CREATE_VM,	 KVM_CREATE_VCPU,	KVM_SET_USER_MEMORY_REGION,
	KVM_GET_REGS,	     KVM_SET_REGS,	  KVM_GET_SREGS,	 KVM_SET_SREGS,		KVM_GET_MSRS,
	KVM_SET_MSRS,	     KVM_GET_MSR_INDEX_LIST, KVM_GET_XSAVE,	 KVM_SET_XSAVE,		KVM_GET_XCRS,
	KVM_SET_XCRS,	     KVM_GET_VCPU_EVENTS, KVM_SET_VCPU_EVENTS, KVM_GET_DEBUGREGS,	KVM_SET_DEBUGREGS,
	KVM_HAS_DEVICE_ATTR, KVM_GET_DEVICE_ATTR, KVM_SET_DEVICE_ATTR,
	KVM_ENABLE_CAP,	     KVM_X86_SET_MSR_FILTER, /* a new VM's MSR filter (machine.c) */
	KVM_REGISTER_COALESCED_MMIO,			 /* its coalesced ports (machine.c) */
};

static const char *const role_names[SANDBOX_ROLES] = { "supervisor", "worker", "shard", "run" };

const char *sandbox_role_name(enum sandbox_role role)
{
	return (unsigned)role < SANDBOX_ROLES ? role_names[role] : "?";
}

/*
 * The supervisor writes the --metrics-file without opening anything for
 * writing: it rewrites the hidden one of two files it opened before its
 * filter went in, swaps the two names atomically, and removes both at the
 * end (metrics.h, docs/security.md).
 */
static int sandbox_metrics_rules(scmp_filter_ctx ctx, const struct sandbox_grant *g)
{
	int rc = 0;

	for (int i = 0; rc == 0 && i < 2; i++) {
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(pwrite64), 1,
				      SCMP_A0_32(SCMP_CMP_EQ, (u32)g->metrics_fd[i]));
		if (rc == 0)
			rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ftruncate), 1,
					      SCMP_A0_32(SCMP_CMP_EQ, (u32)g->metrics_fd[i]));
	}
	if (rc == 0)
		rc = seccomp_rule_add(
			ctx, SCMP_ACT_ALLOW, SCMP_SYS(renameat2), 3, SCMP_A0_32(SCMP_CMP_EQ, (u32)g->metrics_dir),
			SCMP_A2_32(SCMP_CMP_EQ, (u32)g->metrics_dir), SCMP_A4_32(SCMP_CMP_EQ, RENAME_EXCHANGE));
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(unlinkat), 2,
				      SCMP_A0_32(SCMP_CMP_EQ, (u32)g->metrics_dir), SCMP_A2_32(SCMP_CMP_EQ, 0));
	return rc;
}

/*
 * The rules that look at arguments: what a role may write, open, remove
 * and signal, and which ioctls it may make; g: what the supervisor is
 * granted (sandbox.h).
 */
static int sandbox_arg_rules(scmp_filter_ctx ctx, enum sandbox_role role, const struct sandbox_grant *g)
{
	int rc = 0;

	/* Memory may be mapped and protected, never executable. */
	rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1, SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
				      SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	/* Workers write only messages to stderr, the supervisor its summary
	 * too; their other output goes through io_uring (sandbox_ring_init)
	 * and send(). `run` writes the guest's console wherever it is. */
	if (rc == 0 && role != SANDBOX_RUN)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(write), 1, SCMP_A0_32(SCMP_CMP_EQ, STDERR_FILENO));
	if (rc == 0 && role == SANDBOX_SUPERVISOR)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(write), 1, SCMP_A0_32(SCMP_CMP_EQ, STDOUT_FILENO));
	for (unsigned i = 0; rc == 0 && role == SANDBOX_SUPERVISOR && i < g->nout; i++)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(write), 1, SCMP_A0_32(SCMP_CMP_EQ, (u32)g->out[i]));
	/* The supervisor opens /proc files to read (fopen "r"): exactly
	 * O_RDONLY, so no O_TRUNC, O_CREAT or O_APPEND either. */
	if (rc == 0 && role == SANDBOX_SUPERVISOR)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1, SCMP_A2_32(SCMP_CMP_EQ, O_RDONLY));
	if (rc == 0 && role == SANDBOX_SUPERVISOR)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1,
				      SCMP_A2_32(SCMP_CMP_EQ, O_RDONLY | O_CLOEXEC));
	/* Sanitizer builds: every role may open to read (LeakSanitizer lists
	 * /proc/self/task), and never to change a file. */
	if (rc == 0 && SANITIZER_BUILD)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1,
				      SCMP_A2_32(SCMP_CMP_MASKED_EQ, O_ACCMODE | O_CREAT | O_TRUNC, O_RDONLY));
	if (rc == 0 && SANITIZER_BUILD) /* the sanitizers' own open(2) */
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(open), 1,
				      SCMP_A1_32(SCMP_CMP_MASKED_EQ, O_ACCMODE | O_CREAT | O_TRUNC, O_RDONLY));
	if (rc == 0 && role == SANDBOX_SUPERVISOR && g->metrics)
		rc = sandbox_metrics_rules(ctx, g);
	/* The control socket is removed at the end, by name in its directory
	 * (held open since it was checked): no other file, no directory. */
	if (rc == 0 && role == SANDBOX_SUPERVISOR && g->dir >= 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(unlinkat), 2, SCMP_A0_32(SCMP_CMP_EQ, (u32)g->dir),
				      SCMP_A2_32(SCMP_CMP_EQ, 0));
	/* abort() signals its own process; no role signals another one. */
	if (rc == 0 && !SANITIZER_BUILD)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1, SCMP_A0_32(SCMP_CMP_EQ, (u32)getpid()));
	/* Guest threads: the KVM requests above; `run` also sets the terminal
	 * back to how it found it. */
	for (size_t i = 0; rc == 0 && (GUESTS & ROLE(role)) && i < ARRAY_SIZE(kvm_ioctls); i++)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1, SCMP_A1_64(SCMP_CMP_EQ, kvm_ioctls[i]));
	if (rc == 0 && role == SANDBOX_RUN)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1, SCMP_A1_64(SCMP_CMP_EQ, TCSETS));
	/* stdio asks whether stdout is a terminal before its first write. */
	if (rc == 0 && (role == SANDBOX_RUN || role == SANDBOX_SUPERVISOR))
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1, SCMP_A1_64(SCMP_CMP_EQ, TCGETS));
	/* The status line and the summary fit the terminal's width. */
	if (rc == 0 && role == SANDBOX_SUPERVISOR)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1, SCMP_A1_64(SCMP_CMP_EQ, TIOCGWINSZ));
	return rc;
}

static int sandbox_load(enum sandbox_role role, const struct sandbox_grant *g, char *err, size_t errlen)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	int rc = ctx ? 0 : -ENOMEM;
	const char *what = "seccomp_init";

	for (size_t i = 0; rc == 0 && i < ARRAY_SIZE(allowed); i++)
		if (allowed[i].roles & ROLE(role))
			rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i].nr, 0);
	if (rc == 0)
		rc = sandbox_arg_rules(ctx, role, g);
	if (rc == 0) {
		what = "seccomp_load";
		rc = seccomp_load(ctx);
	} else {
		what = "seccomp_rule_add";
	}
	if (ctx)
		seccomp_release(ctx);
	if (rc < 0) {
		snprintf(err, errlen, "sandbox (%s): %s: %s", role_names[role], what, strerror(-rc));
		return -1;
	}
	return 0;
}

int sandbox_enter(enum sandbox_role role, char *err, size_t errlen)
{
	static const struct sandbox_grant none = { .dir = -1 };

	return sandbox_load(role, &none, err, errlen);
}

int sandbox_enter_supervisor(const struct sandbox_grant *g, char *err, size_t errlen)
{
	return sandbox_load(SANDBOX_SUPERVISOR, g, err, errlen);
}

/* The io_uring operations each role submits (see the io_uring_prep_* calls). */
static const u8 ring_ops_supervisor[] = { IORING_OP_ACCEPT, IORING_OP_RECV, IORING_OP_READ, IORING_OP_POLL_ADD,
					  IORING_OP_TIMEOUT };
static const u8 ring_ops_shard[] = { IORING_OP_READ, IORING_OP_WRITE, IORING_OP_SEND, IORING_OP_TIMEOUT,
				     IORING_OP_TIMEOUT_REMOVE /* the timeout's update */ };

int sandbox_ring_init(struct io_uring *ring, unsigned entries, enum sandbox_role role, bool limit_ops, const int *files,
		      unsigned nfiles)
{
	struct io_uring_restriction res[8];
	const u8 *ops = role == SANDBOX_SHARD ? ring_ops_shard : ring_ops_supervisor;
	size_t n = role == SANDBOX_SHARD ? ARRAY_SIZE(ring_ops_shard) : ARRAY_SIZE(ring_ops_supervisor);
	int r;

	/* Created disabled: restrictions can only be registered before the
	 * ring is enabled, and then hold for its life. No register operation
	 * is allowed at all afterwards. */
	r = io_uring_queue_init(entries, ring, limit_ops ? IORING_SETUP_R_DISABLED : 0);
	if (r < 0)
		return r;
	if (nfiles)
		r = io_uring_register_files(ring, files, nfiles);
	if (r < 0 || !limit_ops)
		goto out;
	memset(res, 0, sizeof(res));
	for (size_t i = 0; i < n; i++) {
		res[i].opcode = IORING_RESTRICTION_SQE_OP;
		res[i].sqe_op = ops[i];
	}
	/* A ring given files reaches those only: every operation must name
	 * one by its index in the registered table (IOSQE_FIXED_FILE), never
	 * an fd of the process. Operations without a file carry the flag too;
	 * the kernel ignores it there. */
	if (nfiles) {
		res[n].opcode = IORING_RESTRICTION_SQE_FLAGS_REQUIRED;
		res[n++].sqe_flags = IOSQE_FIXED_FILE;
	}
	/* io_uring_register() itself: Debian's liburing 2.3 declares the
	 * restriction helpers but its library lacks them. */
	r = io_uring_register((unsigned)ring->ring_fd, IORING_REGISTER_RESTRICTIONS, res, (unsigned)n);
	if (r == 0)
		r = io_uring_register((unsigned)ring->ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0);
out:
	if (r < 0)
		io_uring_queue_exit(ring);
	return r;
}

void sandbox_probe(enum sandbox_role role)
{
	if (fault_hit("sandbox", (u32)role))
		socket(AF_INET, SOCK_STREAM, 0); /* no role may open a socket: this must kill */
}
