/* run.c - `kvmlite run`: one guest, its COM1 on stdin/stdout, its PIT deadlines on a POSIX timer. */
#define _GNU_SOURCE /* ppoll */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "kick.h"
#include "layout.h"
#include "mem.h"
#include "run.h"
#include "sandbox.h"
#include "vm.h"

#define SLICE_NS 10000000ull /* how long a busy guest runs before we look at stdin */
#define CTRL_A	 0x01

struct console {
	bool tty;    /* stdin is a terminal: raw mode and Ctrl-A commands */
	bool eof;    /* stdin is closed: no input can wake the guest */
	bool ctrl_a; /* the previous byte was Ctrl-A */
	bool quit;   /* Ctrl-A x */
	struct termios saved;
	u8 in[1024]; /* read from stdin, not yet given to the UART */
	size_t in_len, in_pos;
	u8 out[4096]; /* guest output not yet written to stdout */
	size_t out_len;
	u64 dropped_in; /* terminal input lost: typed while 1 KiB of it waited for the guest */
	bool wrote;	/* the guest has written something */
	u64 silent_at;	/* when to say that it has not (0: said, or never) */
	u32 missing_seen;    /* BIOS calls the firmware lacks, already told */
	double boot_timeout; /* --boot-timeout, s */
};

/* One guest and what `kvmlite run` gives it. */
struct run {
	struct image img;
	struct kvm kvm;
	struct arena arena; /* the guest's RAM */
	struct vm vm;
	struct trace trace; /* --trace: its exits decoded on stderr */
	struct console console;
	timer_t timer; /* the end of a slice, or the PIT's next deadline: kicks the vCPU out of KVM_RUN */
	u64 armed;     /* when it fires; UINT64_MAX: disarmed */
};

/* SIGINT, SIGTERM and SIGHUP stop the guest (status 130), as they would stop QEMU. */
static const int stop_signals[] = { SIGINT, SIGTERM, SIGHUP };

static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig)
{
	stop_signal = sig;
	kick_self(); /* a guest entered just after the check leaves at once */
}

static void console_flush(struct console *c)
{
	size_t done = 0;

	while (done < c->out_len) {
		ssize_t n = write(STDOUT_FILENO, c->out + done, c->out_len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* stdout is gone (EPIPE): the output is dropped, the guest goes on */
		done += (size_t)n;
	}
	c->out_len = 0;
}

static void console_output(void *ctx, struct vm *vm, u8 byte)
{
	struct console *c = ctx;

	(void)vm;
	c->wrote = true;
	if (c->out_len == sizeof(c->out))
		console_flush(c);
	c->out[c->out_len++] = byte;
}

static void console_raw(struct console *c)
{
	struct termios raw;

	c->tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &c->saved) == 0;
	if (!c->tty)
		return;
	raw = c->saved;
	cfmakeraw(&raw);
	/* Guests end lines with "\n" alone: let the terminal add the "\r" on
	 * output, and turn the Enter key's "\r" into "\n" on input. */
	raw.c_oflag |= OPOST | ONLCR;
	raw.c_iflag |= ICRNL;
	tcsetattr(STDIN_FILENO, TCSANOW, &raw);
	fprintf(stderr, "kvmlite: console on COM1; Ctrl-A x quits, Ctrl-A h helps\r\n");
}

static void console_restore(struct console *c)
{
	if (c->tty)
		tcsetattr(STDIN_FILENO, TCSANOW, &c->saved);
}

/*
 * Takes what stdin has. On a terminal, Ctrl-A starts a command as in QEMU,
 * so the terminal is read whether or not the guest takes its input; what
 * it typed waits in c->in (bytes beyond its 1 KiB are lost, and counted).
 * A pipe or file is read only once the guest took the previous read, so
 * nothing of a script's input is lost.
 */
static void console_read(struct console *c, int timeout_ms, const sigset_t *sigmask)
{
	struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };
	struct timespec ts = { timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000 };
	bool want = !c->eof && (c->tty || c->in_pos == c->in_len);
	u8 buf[256];
	ssize_t n;

	if (ppoll(&pfd, want ? 1 : 0, timeout_ms < 0 ? NULL : &ts, sigmask) <= 0 || !want)
		return;
	n = read(STDIN_FILENO, c->tty ? buf : c->in, c->tty ? sizeof(buf) : sizeof(c->in));
	if (n <= 0) {
		if (n == 0 || (errno != EINTR && errno != EAGAIN))
			c->eof = true;
		return;
	}
	if (!c->tty) {
		c->in_pos = 0;
		c->in_len = (size_t)n;
		return;
	}
	if (c->in_pos > 0) { /* keep what waits at the front */
		memmove(c->in, c->in + c->in_pos, c->in_len - c->in_pos);
		c->in_len -= c->in_pos;
		c->in_pos = 0;
	}
	for (ssize_t i = 0; i < n; i++) {
		u8 b = buf[i];

		if (c->ctrl_a) {
			c->ctrl_a = false;
			if (b == 'x') {
				c->quit = true;
				return;
			}
			if (b == 'h') {
				fprintf(stderr, "\r\nconsole commands:\r\n"
						"  Ctrl-A h       this list\r\n"
						"  Ctrl-A x       quit (exit status 0, as QEMU's)\r\n"
						"  Ctrl-A Ctrl-A  send one Ctrl-A to the guest\r\n"
						"  (Ctrl-A and any other key: nothing)\r\n");
				continue;
			}
			if (b != CTRL_A)
				continue;
		} else if (b == CTRL_A) {
			c->ctrl_a = true;
			continue;
		}
		if (c->in_len < sizeof(c->in))
			c->in[c->in_len++] = b;
		else
			c->dropped_in++;
	}
}

/*
 * Hands buffered input to the UART as a serial line into QEMU's 16550
 * would: a byte whenever the receiver has room, whatever the guest does
 * with RTS or DTR; the rest waits for the guest to read (uart_rx_feed).
 */
static void console_deliver(struct console *c, struct vm *vm)
{
	if (c->in_pos == c->in_len)
		return;
	c->in_pos += uart_rx_feed(&vm->uart, c->in + c->in_pos, c->in_len - c->in_pos);
	if (c->in_pos == c->in_len)
		c->in_pos = c->in_len = 0;
}

/* The slice and PIT deadline timer (kick.c), armed only when `when` changes. */
static void timer_arm(struct run *r, u64 when)
{
	if (when == r->armed)
		return;
	r->armed = when;
	kick_timer_at(r->timer, when);
}

/*
 * What the user should know while the guest runs, on stderr, once each:
 * that it has written nothing by its boot deadline (and what it does), and
 * each BIOS service it called that the firmware does not provide.
 */
static void run_notes(struct vm *vm, struct console *c, u64 now)
{
	char what[200];

	if (vm->bios.missing_total != c->missing_seen) {
		c->missing_seen = vm->bios.missing_total;
		for (int i = 0; i < BIOS_MISSING_KEPT; i++)
			if (vm->bios.missing[i].what == vm->bios.missing_last && vm->bios.missing[i].calls == 1)
				fprintf(stderr,
					"kvmlite: guest %u called int %02xh AH=%02x, which kvmlite's firmware does not "
					"provide (it returned CF set; docs/compatibility.md)\r\n",
					vm->index, vm->bios.missing_last >> 8, vm->bios.missing_last & 0xff);
	}
	if (c->silent_at && c->wrote)
		c->silent_at = 0;
	if (c->silent_at && now >= c->silent_at) {
		c->silent_at = 0;
		vm_describe_live(vm, what, sizeof(what));
		fprintf(stderr, "kvmlite: guest %u is silent: no output in its first %.0f s; %s\r\n", vm->index,
			c->boot_timeout, what);
	}
}

/*
 * The guest halted: sleep in ppoll() until stdin has something, its next
 * deadline comes (the PIT's, or the boot timeout's note) or a stop signal
 * arrives. A guest that nothing can wake any more is ended.
 */
static void run_sleep(struct run *r, u64 now)
{
	struct console *c = &r->console;
	u64 deadline = vm_deadline(&r->vm);
	u64 wake = c->silent_at && c->silent_at < deadline ? c->silent_at : deadline;
	sigset_t stops, unblocked;

	console_flush(c);
	/* Input the halted guest did not take now, it never will. */
	if (deadline == UINT64_MAX && (c->eof || c->in_pos < c->in_len)) {
		vm_end(&r->vm, VM_END_IDLE, "halted with interrupts on, and nothing is left to wake it");
		return;
	}
	timer_arm(r, UINT64_MAX);
	/* Stop signals stay blocked from this check until ppoll() sleeps, so
	 * none can slip in between and be missed. */
	sigemptyset(&stops);
	for (size_t i = 0; i < ARRAY_SIZE(stop_signals); i++)
		sigaddset(&stops, stop_signals[i]);
	sigprocmask(SIG_BLOCK, &stops, &unblocked);
	if (!stop_signal)
		console_read(c, wake == UINT64_MAX ? -1 : (int)((wake - now + 999999) / 1000000), &unblocked);
	sigprocmask(SIG_SETMASK, &unblocked, NULL);
}

/* The guest wants the CPU: enter it until its next deadline or for a
 * slice at most. Returns whether stdin should be looked at now. */
static bool run_slice(struct run *r, u64 now)
{
	struct vm *vm = &r->vm;
	u64 deadline = vm_deadline(vm), kicks = vm->stats.kicks;
	bool kicked;

	timer_arm(r, deadline < now + SLICE_NS ? deadline : now + SLICE_NS);
	vm_run(vm);
	/* Input matters when the guest sleeps or has run a whole slice;
	 * so does output: a busy guest's bytes appear within a slice. */
	kicked = vm->stats.kicks != kicks;
	if (kicked)
		console_flush(&r->console);
	if (r->armed <= clock_now())
		r->armed = 0; /* fired: arm again on the next turn */
	return vm->state == VM_HALTED || kicked;
}

/*
 * The loop every hypervisor has: take the terminal's input, bring the
 * devices to the present, then enter the guest for a slice, or sleep while
 * it is halted; until it ends.
 */
static void run_loop(struct run *r)
{
	struct vm *vm = &r->vm;
	struct console *c = &r->console;
	bool look = true; /* check stdin on this turn */

	r->armed = UINT64_MAX;
	kick_target(vm->run);
	while (vm->state != VM_ENDED) {
		u64 now = clock_now();

		if (stop_signal) {
			vm_end(vm, VM_END_STOPPED, "stopped by signal %d", (int)stop_signal);
			break;
		}
		if (look)
			console_read(c, 0, NULL);
		if (c->quit) {
			vm_end(vm, VM_END_STOPPED, "quit with Ctrl-A x");
			break;
		}
		console_deliver(c, vm);
		vm_advance(vm, now);
		run_notes(vm, c, now);
		if (vm->state == VM_HALTED) {
			run_sleep(r, now);
			look = false; /* it has read what came */
		} else {
			look = run_slice(r, now);
		}
	}
	timer_arm(r, UINT64_MAX);
	console_flush(c);
}

/* The guest's image, KVM, the guest's RAM and machine, the timer; on
 * failure the reason in err, and nothing is held. */
static int run_open(struct run *r, const struct run_opts *opts, char *err, size_t errlen)
{
	struct vm_config cfg = {
		.index = opts->index,
		.firmware = opts->firmware,
		.trace = opts->trace ? &r->trace : NULL,
		.output = console_output,
		.output_ctx = &r->console,
		.disk = &r->img.disk,
	};

	if (loader_open(opts->image, &r->img, err, errlen) < 0)
		return -1;
	if (kvm_open(&r->kvm, err, errlen) < 0)
		goto fail_image;
	if (opts->verbose)
		fprintf(stderr, "kvmlite: KVM backend %s, guest %s, firmware %s, MSR filter %s\n", r->kvm.backend,
			r->img.name, opts->firmware ? "pc" : "none",
			r->kvm.msr_filter ? "on" : "off (no such KVM capability)");
	if (arena_init(&r->arena, 1, GUEST_RAM_SIZE, err, errlen) < 0)
		goto fail_kvm;
	loader_place(&r->img, arena_slot(&r->arena, 0), GUEST_RAM_SIZE, opts->firmware);
	r->trace = (struct trace){ .out = stderr, .index = opts->index, .start_ns = clock_now() };
	if (vm_init(&r->vm, &r->kvm, arena_slot(&r->arena, 0), &cfg, err, errlen) < 0)
		goto fail_arena;
	if (kick_install() < 0 || kick_timer_create(&r->timer) < 0) {
		snprintf(err, errlen, "timer setup: %s", strerror(errno));
		vm_destroy(&r->vm);
		goto fail_arena;
	}
	return 0;

fail_arena:
	free(r->vm.why); /* vm_destroy() ended it: "stopped" */
	arena_free(&r->arena);
fail_kvm:
	kvm_close(&r->kvm);
fail_image:
	loader_close(&r->img);
	return -1;
}

static void run_close(struct run *r)
{
	timer_delete(r->timer);
	vm_destroy(&r->vm);
	disk_free(&r->vm.disk);
	vgatext_free(r->vm.vga);
	free(r->vm.why);
	arena_free(&r->arena);
	kvm_close(&r->kvm);
	loader_close(&r->img);
}

static void run_catch_stop_signals(void)
{
	struct sigaction sa = { .sa_handler = on_stop_signal };

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < ARRAY_SIZE(stop_signals); i++)
		sigaction(stop_signals[i], &sa, NULL);
}

static int run_status(const struct vm *vm)
{
	switch (vm->end) {
	case VM_END_HALT:
	case VM_END_IDLE:
		return RUN_OK;
	case VM_END_DEBUG_EXIT:
		return (int)(((vm->exit_code << 1) | 1) & 0xff);
	case VM_END_SHUTDOWN:
		return RUN_TRIPLE_FAULT;
	case VM_END_RESET:
		return RUN_RESET;
	case VM_END_FAIL_ENTRY:
		return RUN_FAIL_ENTRY;
	case VM_END_INTERNAL_ERROR:
		return RUN_INTERNAL_ERROR;
	case VM_END_STOPPED:
		return RUN_INTERRUPTED;
	default:
		return RUN_GUEST_FAILED;
	}
}

/* A JSON string's contents: quotes, backslashes and control bytes escaped. */
static void json_text(FILE *f, const char *s)
{
	for (; *s; s++)
		fprintf(f, *s == '"' || *s == '\\' ? "\\%c" : (u8)*s < 0x20 ? "\\u%04x" : "%c", *s);
}

/* --json: how the guest ended and what it did, one object on stderr (docs/json.md). */
static void run_summary_json(const struct vm *vm, const struct kvm *kvm, const struct image *img, int status)
{
	const struct vm_stats *st = &vm->stats;

	fprintf(stderr, "{\"guest\":\"");
	json_text(stderr, img->name); /* a file name may hold anything */
	fprintf(stderr, "\",\"index\":%u,\"exit_status\":%d,\"reason\":\"", vm->index, status);
	json_text(stderr, vm_why(vm));
	fprintf(stderr,
		"\",\"kvm_backend\":\"%s\",\"exits\":%llu,\"io_exits\":%llu,\"coalesced\":%llu,\"hlts\":%llu,\"irqs\":%llu,"
		"\"kicks\":%llu,\"unknown_port_reads\":%llu,\"unknown_port_writes\":%llu,\"mmio_reads\":%llu,"
		"\"mmio_writes\":%llu,\"out_bytes\":%llu,\"in_bytes\":%llu,\"overruns\":%llu,\"pit_irqs\":%llu,"
		"\"pit_clamped\":%llu}\n",
		kvm->backend, (unsigned long long)st->exits, (unsigned long long)st->io_exits,
		(unsigned long long)st->coalesced, (unsigned long long)st->hlts, (unsigned long long)st->irqs_injected, (unsigned long long)st->kicks,
		(unsigned long long)st->unknown_port_reads, (unsigned long long)st->unknown_port_writes,
		(unsigned long long)st->mmio_reads, (unsigned long long)st->mmio_writes,
		(unsigned long long)vm->uart.stats.tx_bytes, (unsigned long long)vm->uart.stats.rx_bytes,
		(unsigned long long)vm->uart.stats.overruns, (unsigned long long)vm->pit.stats.irqs,
		(unsigned long long)vm->pit.stats.clamped);
}

/* --verbose: what the guest did, on stderr. */
static void run_summary_text(const struct run *r, bool firmware, int status)
{
	const struct vm *vm = &r->vm;
	const struct vm_stats *st = &vm->stats;

	fprintf(stderr,
		"kvmlite: guest %u ended: %s; exit status %d\n"
		"kvmlite: %llu exits (%llu I/O; %llu port writes coalesced), %llu hlt, %llu interrupts, %llu kicks, "
		"%llu/%llu unknown port reads/writes, %llu/%llu MMIO reads/writes, %llu MSR accesses refused\n"
		"kvmlite: COM1: %llu bytes out, %llu in, %llu overruns; PIT: %llu irqs, %llu clamped\n",
		vm->index, vm_why(vm), status, (unsigned long long)st->exits, (unsigned long long)st->io_exits,
		(unsigned long long)st->coalesced, (unsigned long long)st->hlts, (unsigned long long)st->irqs_injected, (unsigned long long)st->kicks,
		(unsigned long long)st->unknown_port_reads, (unsigned long long)st->unknown_port_writes,
		(unsigned long long)st->mmio_reads, (unsigned long long)st->mmio_writes,
		(unsigned long long)st->msrs_refused, (unsigned long long)vm->uart.stats.tx_bytes,
		(unsigned long long)vm->uart.stats.rx_bytes, (unsigned long long)vm->uart.stats.overruns,
		(unsigned long long)vm->pit.stats.irqs, (unsigned long long)vm->pit.stats.clamped);
	if (firmware) {
		char names[160];

		fprintf(stderr, "kvmlite: BIOS services kvmlite's firmware does not provide: %s\n",
			vm->bios.missing_total ? bios_missing_names(&vm->bios, names, sizeof(names)) : "none called");
	}
	fprintf(stderr,
		"kvmlite: disk: %u sectors (CHS %u/%u/%u), %llu read and %llu written with int 13h (%zu KiB "
		"kept, never written to the image)\n",
		r->img.disk.sectors, r->img.disk.cyls, r->img.disk.heads, r->img.disk.spt,
		(unsigned long long)vm->disk.reads, (unsigned long long)vm->disk.writes,
		disk_overlay_bytes(&vm->disk) / 1024);
	if (vm->vga)
		fprintf(stderr, "kvmlite: text buffer: %llu bytes written, %llu characters shown\n",
			(unsigned long long)vm->vga->writes, (unsigned long long)vm->vga->shown);
	if (r->console.dropped_in)
		fprintf(stderr, "kvmlite: %llu bytes typed while 1 KiB waited for the guest were dropped\n",
			(unsigned long long)r->console.dropped_in);
}

/* How the guest ended, on stderr: --json's object, or its failure; with --verbose what it did. */
static void run_report(const struct run *r, const struct run_opts *opts, int status)
{
	const struct vm *vm = &r->vm;

	if (opts->json)
		run_summary_json(vm, &r->kvm, &r->img, status);
	else if (status != RUN_OK && !(vm->end == VM_END_DEBUG_EXIT && !opts->verbose))
		fprintf(stderr, "kvmlite: guest %u: %s\n", vm->index, vm_why(vm));
	if (opts->verbose && !opts->json)
		run_summary_text(r, opts->firmware, status);
}

int run_guest(const struct run_opts *opts)
{
	struct run r = { 0 };
	char err[256];
	int status;

	if (run_open(&r, opts, err, sizeof(err)) < 0) {
		fprintf(stderr, "kvmlite: %s\n", err);
		return RUN_ERROR;
	}
	run_catch_stop_signals();
	r.console.boot_timeout = opts->boot_timeout;
	if (opts->boot_timeout > 0)
		r.console.silent_at = clock_now() + (u64)(opts->boot_timeout * 1e9);
	console_raw(&r.console);
	/* From here on the thread only runs the guest and its console: the
	 * filter goes in before the guest's first instruction. */
	if (!opts->no_sandbox && sandbox_enter(SANDBOX_RUN, err, sizeof(err)) < 0) {
		console_restore(&r.console);
		fprintf(stderr, "kvmlite: %s\n", err);
		run_close(&r);
		return RUN_ERROR;
	}
	sandbox_probe(SANDBOX_RUN);
	run_loop(&r);
	console_restore(&r.console);
	/* Ctrl-A x is the user's way out, not the guest's failure: 0, as QEMU */
	status = r.console.quit ? RUN_OK : run_status(&r.vm);
	run_report(&r, opts, status);
	run_close(&r);
	return status;
}
