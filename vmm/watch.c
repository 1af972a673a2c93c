/* watch.c - `kvmlite watch` and `kvmlite console`: a guest's output as it comes; the console sends it the keys too. */
#define _GNU_SOURCE /* signalfd */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include "proto.h"
#include "watch.h"

#define CONSOLE_CHUNK 256 /* stdin bytes per `send`: as many as a guest queues */
#define RETRY_MS      20  /* how soon a pipe's input is offered again after "input full" */
#define CTRL_A	      0x01

struct watch {
	struct conn *c;
	const char *id;
	bool input;	   /* the console: stdin goes to the guest */
	bool tty;	   /* and stdin is a terminal: raw mode, Ctrl-A commands */
	bool ctrl_a, quit; /* the previous key was Ctrl-A; Ctrl-A x was typed */
	bool eof;	   /* no (more) input to send */
	bool pending;	   /* a `send` is out, its answer not in yet */
	bool retry;	   /* it was refused for "input full": sent again after RETRY_MS */
	int sfd;	   /* the signals that end it, as a signalfd */
	struct termios saved;
	sigset_t old;
};

/* Ctrl-A commands, as in `kvmlite run`: x leaves, h helps, Ctrl-A sends itself; others are dropped. */
static size_t watch_keys(struct watch *w, const u8 *in, size_t n, u8 *out)
{
	size_t i, o = 0;

	for (i = 0; i < n && !w->quit; i++) {
		if (w->ctrl_a) {
			w->ctrl_a = false;
			w->quit = in[i] == 'x';
			if (in[i] == 'h')
				fprintf(stderr, "\nconsole commands:\n"
						"  Ctrl-A h       this list\n"
						"  Ctrl-A x       leave the console (exit status 0)\n"
						"  Ctrl-A Ctrl-A  send one Ctrl-A to the guest\n"
						"  (Ctrl-A and any other key: nothing)\n");
			if (in[i] == CTRL_A)
				out[o++] = CTRL_A;
		} else if (in[i] == CTRL_A) {
			w->ctrl_a = true;
		} else {
			out[o++] = in[i];
		}
	}
	return o;
}

/* One line on a watching connection: -1 to go on, or the exit status. */
static int watch_line(struct watch *w, char *line)
{
	char *rest;
	int status;

	if (!strncmp(line, "out ", 4)) {
		rest = strchr(line + 4, ' ');
		return print_data(w->c, rest ? rest + 1 : "") ? 2 : -1;
	}
	if (!w->pending)
		return bad_answer(w->c, line);
	/* from a pipe, input waits for the guest rather than being lost */
	if (!w->tty && !strcmp(line, "error input full")) {
		w->retry = true;
		return -1;
	}
	w->pending = false;
	status = answer_status(w->c, line, &rest);
	/* a guest that is gone will print nothing more; other errors cost only the input */
	if (status == 1 && strcmp(line, "error guest not running") && strcmp(line, "error no such guest"))
		return -1;
	return status ? status : -1;
}

/* The signals that end it read from a signalfd, the terminal raw (the console's). */
static void watch_start(struct watch *w)
{
	struct termios raw;
	sigset_t sigs;

	w->c->quiet_close = !w->input;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGPIPE); /* stdout piped to a reader that left */
	sigprocmask(SIG_BLOCK, &sigs, &w->old);
	w->sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	if (!w->tty)
		return;
	raw = w->saved;
	cfmakeraw(&raw);
	raw.c_oflag |= OPOST | ONLCR; /* guests end lines with "\n" alone */
	raw.c_iflag |= ICRNL;	      /* Enter gives the "\n" guests wait for */
	tcsetattr(STDIN_FILENO, TCSANOW, &raw);
	fprintf(stderr, "kvmlite: console on guest %s; Ctrl-A x leaves, Ctrl-A h helps\n", w->id);
}

static void watch_end(struct watch *w)
{
	if (w->tty)
		tcsetattr(STDIN_FILENO, TCSANOW, &w->saved);
	if (w->sfd >= 0)
		close(w->sfd);
	sigprocmask(SIG_SETMASK, &w->old, NULL);
}

/* What stdin has, to the guest in one `send` request: -1 to go on, or the exit status. */
static int watch_input(struct watch *w)
{
	u8 in[CONSOLE_CHUNK], keys[CONSOLE_CHUNK + 1];
	struct conn *c = w->c;
	int n = (int)read(STDIN_FILENO, in, sizeof(in)), status = -1;

	w->eof = n == 0 || (n < 0 && errno != EINTR);
	n = n <= 0 ? 0 : w->tty ? (int)watch_keys(w, in, (size_t)n, keys) : n;
	if (n) {
		c->req_len = (size_t)snprintf(c->req, sizeof(c->req), "send %s ", w->id);
		proto_escape(w->tty ? keys : in, (size_t)n, c->req + c->req_len, sizeof(c->req) - 1 - c->req_len);
		c->req_len += strlen(c->req + c->req_len);
		c->req[c->req_len++] = '\n';
		w->pending = true;
		status = conn_send(c, c->req, c->req_len) ? 2 : -1;
	}
	return w->quit && status < 0 ? 0 : status;
}

/* Waits for the spawn, a signal or stdin, and takes what came: -1 to go on, or the exit status. */
static int watch_wait(struct watch *w)
{
	struct conn *c = w->c;
	struct signalfd_siginfo si;
	struct pollfd p[3] = {
		{ .fd = c->fd, .events = POLLIN },
		{ .fd = w->sfd, .events = POLLIN },
		{ .fd = w->eof || w->pending ? -1 : STDIN_FILENO, .events = POLLIN },
	};
	int n = poll(p, 3, w->retry ? RETRY_MS : -1);

	if (n == 0) { /* the refused input, offered again */
		w->retry = false;
		return conn_send(c, c->req, c->req_len) ? 2 : -1;
	}
	if (n < 0)
		return errno == EINTR ? -1 : 2;
	if (p[1].revents && read(w->sfd, &si, sizeof(si)) == sizeof(si))
		return 128 + (int)si.ssi_signo;
	if (p[0].revents)
		return conn_fill(c) ? (c->closed ? 0 : 2) : -1;
	if (p[2].revents)
		return watch_input(w);
	return -1;
}

int watch_run(struct conn *c, const char *id, bool input)
{
	struct watch w = { .c = c, .id = id, .input = input, .eof = !input };
	int status = -1;
	char *line;

	w.tty = input && isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &w.saved) == 0;
	watch_start(&w);
	while (status < 0) {
		/* buffered lines first: the watch answer may have brought output along */
		while (status < 0 && (line = conn_next(c)))
			status = watch_line(&w, line);
		fflush(stdout);
		if (status >= 0 || (input && w.eof && !w.pending))
			break;
		status = watch_wait(&w);
	}
	watch_end(&w);
	return status < 0 ? 0 : status;
}
