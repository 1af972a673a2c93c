/* client.c - `kvmlite send|req|console|list|stats|stop|info|read`: one request each to a spawn's control socket. */
#define _GNU_SOURCE /* signalfd */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "client.h"
#include "proto.h"

/*
 * Answers can be far longer than requests: a `read` answer carries a 4 KiB
 * output ring escaped up to 4x, more than a line_reader (sized for requests)
 * holds. So answers are assembled here, in a larger buffer.
 */
#define ANSWER_MAX    (64 * 1024)
#define CONSOLE_CHUNK 256 /* stdin bytes per `send`: as many as a guest queues */
#define RETRY_MS      20  /* how soon a pipe's input is offered again after "input full" */
#define CTRL_A	      0x01
#define WS	      " \t\r\n"

struct conn {
	int fd;
	const char *path, *who; /* who: "guest 5" or the command, for error messages */
	size_t start, len;	/* buf[start, len) is received, not yet returned as a line */
	size_t req_len;
	char req[PROTO_LINE_MAX + 2]; /* the request line, its "\n" and a NUL */
	char buf[ANSWER_MAX];
	u8 raw[ANSWER_MAX]; /* unescaped DATA */
};

static const struct client_cmd {
	const char *name, *args, *help;
	int min, max; /* how many arguments */
	bool id;      /* the first one is a guest id (else a state) */
} cmds[] = {
	{ "send", "[-n] ID TEXT...", "queue TEXT and a newline (-n: none) for guest ID", 2, INT_MAX, true },
	{ "req", "ID TEXT...", "send TEXT and a newline, print the guest's next line", 2, INT_MAX, true },
	{ "console", "ID", "guest ID's COM1 on this terminal (Ctrl-A x leaves)", 1, 1, true },
	{ "read", "ID", "print what guest ID wrote lately (its 4 KiB output ring)", 1, 1, true },
	{ "info", "ID", "guest ID's state and counters", 1, 1, true },
	{ "list", "[STATE]", "count guests by state, or give the ids of those in STATE", 0, 1, false },
	{ "stats", "[--json]", "the run's counters", 0, 0, false },
	{ "stop", "[ID]", "end guest ID, or every guest and the spawn", 0, 1, true },
};

void client_usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: kvmlite COMMAND [--socket PATH] ARGS, to a running `kvmlite spawn`:\n");
	for (i = 0; i < ARRAY_SIZE(cmds); i++)
		fprintf(f, "  %-7s %-16s %s\n", cmds[i].name, cmds[i].args, cmds[i].help);
	fprintf(f, "PATH defaults to $XDG_RUNTIME_DIR/kvmlite/control, or /run/kvmlite/control.\n"
		   "Exit status: 0 ok, 1 the spawn answered with an error, 2 usage error or no spawn.\n");
}

static int usage_error(const struct client_cmd *cmd, const char *what, const char *arg)
{
	fprintf(stderr, "kvmlite %s: %s%s\nusage: kvmlite %s %s\n", cmd->name, what, arg, cmd->name, cmd->args);
	return 2;
}

int control_default_path(char *buf, size_t len)
{
	const char *dir = getenv("XDG_RUNTIME_DIR");
	/* the XDG base directory spec says a relative path is to be ignored */
	int n = snprintf(buf, len, "%s/kvmlite/control", dir && dir[0] == '/' ? dir : "/run");

	if (n < 0 || (size_t)n >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

static int conn_open(struct conn *c)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	errno = ENAMETOOLONG;
	if (strlen(c->path) < sizeof(sa.sun_path)) {
		strcpy(sa.sun_path, c->path);
		c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (c->fd >= 0 && connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return 0;
	}
	fprintf(stderr, "kvmlite: cannot connect to %s: %s (is `kvmlite spawn` running?)\n", c->path, strerror(errno));
	return -1;
}

/*
 * A blocking stream send() returns short only when a signal interrupts it,
 * and the console blocks the ones it expects. MSG_NOSIGNAL: a spawn that
 * went away is an error to report, not a SIGPIPE.
 */
static int conn_send(struct conn *c, const char *s, size_t len)
{
	if (send(c->fd, s, len, MSG_NOSIGNAL) == (ssize_t)len)
		return 0;
	fprintf(stderr, "kvmlite: %s: %s\n", c->path, strerror(errno));
	return -1;
}

/* Reads what the socket has (blocking). Lines returned before are then gone. */
static int conn_fill(struct conn *c)
{
	ssize_t n;

	c->len -= c->start;
	memmove(c->buf, c->buf + c->start, c->len);
	c->start = 0;
	if (c->len == sizeof(c->buf)) {
		fprintf(stderr, "kvmlite: %s: an answer longer than %d bytes\n", c->path, ANSWER_MAX);
		return -1;
	}
	do
		n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
	while (n < 0 && errno == EINTR);
	if (n <= 0) {
		fprintf(stderr, "kvmlite: %s: %s\n", c->path, n ? strerror(errno) : "the spawn closed the connection");
		return -1;
	}
	c->len += (size_t)n;
	return 0;
}

/* The next whole line received, NUL-terminated without its "\r\n"; NULL if none is complete yet. */
static char *conn_next(struct conn *c)
{
	char *line = c->buf + c->start;
	char *nl = memchr(line, '\n', c->len - c->start);

	if (!nl)
		return NULL;
	*nl = '\0';
	c->start = (size_t)(nl + 1 - c->buf);
	if (nl > line && nl[-1] == '\r')
		nl[-1] = '\0';
	return line;
}

static int bad_answer(struct conn *c, const char *line)
{
	fprintf(stderr, "kvmlite: %s: unexpected answer '%.80s'\n", c->path, line);
	return 2;
}

/* 0 for "ok", with *rest what follows "ok "; 1 for "error TEXT" (reported); 2 for anything else. */
static int answer_status(struct conn *c, char *line, char **rest)
{
	if (!strcmp(line, "ok") || !strncmp(line, "ok ", 3)) {
		*rest = line + (line[2] ? 3 : 2);
		return 0;
	}
	if (strncmp(line, "error ", 6))
		return bad_answer(c, line);
	fprintf(stderr, "kvmlite: %s: %s\n", c->who, line + 6);
	return 1;
}

/* Writes escaped DATA to stdout as the bytes it stands for. */
static int print_data(struct conn *c, const char *s)
{
	ssize_t n = proto_unescape(s, strlen(s), c->raw, sizeof(c->raw));

	if (n < 0)
		return bad_answer(c, s);
	fwrite(c->raw, 1, (size_t)n, stdout);
	return 0;
}

/* Appends s to the request line, escaped if asked; -1 when the line would get too long. */
static int req_put(struct conn *c, const char *s, bool escape)
{
	size_t len = strlen(s), room = PROTO_LINE_MAX + 1 - c->req_len; /* + 1: the NUL */

	if (!escape && len < room)
		memcpy(c->req + c->req_len, s, len + 1);
	else if (!escape || proto_escape((const u8 *)s, len, c->req + c->req_len, room) < len)
		return -1;
	c->req_len += strlen(c->req + c->req_len);
	return 0;
}

/* Past the JSON value at p (a string, scalar, array or object), or NULL when it is cut short. */
static const char *json_skip(const char *p)
{
	bool str = false;
	int depth = 0;

	for (; *p; p++) {
		if (str && *p == '\\' && p[1]) {
			p++;
		} else if (*p == '"') {
			str = !str;
			if (!str && !depth)
				return p + 1;
		} else if (!str && (*p == '{' || *p == '[')) {
			depth++;
		} else if (!str && (*p == '}' || *p == ']')) {
			if (!depth)
				return p; /* the enclosing object's end ends a scalar too */
			if (!--depth)
				return p + 1;
		} else if (!str && !depth && strchr("," WS, *p)) {
			return p;
		}
	}
	return str || depth ? NULL : p;
}

/* Prints the object at p as "key: value" lines, nested keys as "outer.inner"; past it, or NULL if malformed. */
static const char *json_print(const char *p, const char *prefix, int depth)
{
	const char *k, *v;
	char key[256];
	bool s;

	p += strspn(p, WS);
	if (*p++ != '{' || depth > 8)
		return NULL;
	if (p[strspn(p, WS)] == '}')
		return p + strspn(p, WS) + 1;
	for (;;) {
		k = p + strspn(p, WS);
		if (*k != '"' || !(p = json_skip(k)))
			return NULL;
		/* with the '.' that nested keys need; a scalar's line leaves it out */
		snprintf(key, sizeof(key), "%s%.*s.", prefix, (int)(p - k - 2), k + 1);
		p += strspn(p, WS);
		if (*p++ != ':')
			return NULL;
		v = p + strspn(p, WS);
		s = *v == '"'; /* strings lose their quotes; escapes in them stay as they are */
		if (*v == '{')
			p = json_print(v, key, depth + 1);
		else if ((p = json_skip(v)) && p > v)
			printf("%.*s: %.*s\n", (int)strlen(key) - 1, key, (int)(p - v - 2 * s), v + s);
		if (!p || p == v)
			return NULL;
		p += strspn(p, WS);
		if (*p != ',')
			return *p == '}' ? p + 1 : NULL;
		p++;
	}
}

/* Ctrl-A commands, as in `kvmlite run`: x leaves, h helps, Ctrl-A sends itself; others are dropped. */
static size_t console_keys(const u8 *in, size_t n, u8 *out, bool *ctrl_a, bool *quit)
{
	size_t i, o = 0;

	for (i = 0; i < n && !*quit; i++) {
		if (*ctrl_a) {
			*ctrl_a = false;
			*quit = in[i] == 'x';
			if (in[i] == 'h')
				fprintf(stderr, "\nCtrl-A x  leave\nCtrl-A Ctrl-A  send Ctrl-A\n");
			if (in[i] == CTRL_A)
				out[o++] = CTRL_A;
		} else if (in[i] == CTRL_A) {
			*ctrl_a = true;
		} else {
			out[o++] = in[i];
		}
	}
	return o;
}

/* One line on a watching connection: -1 to go on, or the exit status. */
static int console_line(struct conn *c, char *line, bool tty, bool *pending, bool *retry)
{
	char *rest;
	int status;

	if (!strncmp(line, "out ", 4)) {
		rest = strchr(line + 4, ' ');
		return print_data(c, rest ? rest + 1 : "") ? 2 : -1;
	}
	if (!*pending)
		return bad_answer(c, line);
	/* from a pipe, input waits for the guest rather than being lost */
	if (!tty && !strcmp(line, "error input full")) {
		*retry = true;
		return -1;
	}
	*pending = false;
	status = answer_status(c, line, &rest);
	/* a guest that is gone will print nothing more; other errors cost only the input */
	if (status == 1 && strcmp(line, "error guest not running") && strcmp(line, "error no such guest"))
		return -1;
	return status ? status : -1;
}

/*
 * `watch ID` was answered: output arrives as `out` lines; input goes out as
 * `send` requests on the same connection, one at a time, so that a pipe is
 * read no faster than the spawn takes it. Signals are read from a signalfd
 * like input (raw mode turns Ctrl-C into a byte for the guest), so every
 * way out passes the terminal's restore.
 */
static int console_run(struct conn *c, const char *id)
{
	bool ctrl_a = false, quit = false, eof = false, pending = false, retry = false;
	u8 in[CONSOLE_CHUNK], keys[CONSOLE_CHUNK + 1];
	struct signalfd_siginfo si;
	struct termios saved, raw;
	int status = -1, sfd, n;
	struct pollfd p[3];
	sigset_t sigs, old;
	char *line;
	bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGPIPE); /* stdout piped to a reader that left */
	sigprocmask(SIG_BLOCK, &sigs, &old);
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	if (tty) {
		raw = saved;
		cfmakeraw(&raw);
		raw.c_oflag |= OPOST | ONLCR; /* guests end lines with "\n" alone */
		raw.c_iflag |= ICRNL;	      /* Enter gives the "\n" guests wait for */
		tcsetattr(STDIN_FILENO, TCSANOW, &raw);
		fprintf(stderr, "kvmlite: console on guest %s; Ctrl-A x leaves, Ctrl-A h helps\n", id);
	}
	while (status < 0) {
		/* buffered lines first: the watch answer may have brought output along */
		while (status < 0 && (line = conn_next(c)))
			status = console_line(c, line, tty, &pending, &retry);
		fflush(stdout);
		if (status >= 0 || (eof && !pending))
			break;
		p[0] = (struct pollfd){ .fd = c->fd, .events = POLLIN };
		p[1] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		p[2] = (struct pollfd){ .fd = eof || pending ? -1 : STDIN_FILENO, .events = POLLIN };
		n = poll(p, 3, retry ? RETRY_MS : -1);
		if (n == 0) {
			retry = false;
			status = conn_send(c, c->req, c->req_len) ? 2 : -1;
		} else if (n < 0) {
			status = errno == EINTR ? -1 : 2;
		} else if (p[1].revents && read(sfd, &si, sizeof(si)) == sizeof(si)) {
			status = 128 + (int)si.ssi_signo;
		} else if (p[0].revents) {
			status = conn_fill(c) ? 2 : -1;
		} else if (p[2].revents) {
			n = (int)read(STDIN_FILENO, in, sizeof(in));
			eof = n == 0 || (n < 0 && errno != EINTR);
			n = n <= 0 ? 0 : tty ? (int)console_keys(in, (size_t)n, keys, &ctrl_a, &quit) : n;
			if (n) {
				c->req_len = (size_t)snprintf(c->req, sizeof(c->req), "send %s ", id);
				proto_escape(tty ? keys : in, (size_t)n, c->req + c->req_len,
					     sizeof(c->req) - 1 - c->req_len);
				c->req_len += strlen(c->req + c->req_len);
				c->req[c->req_len++] = '\n';
				pending = true;
				status = conn_send(c, c->req, c->req_len) ? 2 : -1;
			}
			if (quit && status < 0)
				status = 0;
		}
	}
	if (tty)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	if (sfd >= 0)
		close(sfd);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return status < 0 ? 0 : status;
}

static int client_run(struct conn *c, const struct client_cmd *cmd, char **args, int nargs, bool json, bool newline)
{
	bool text = cmd->max == INT_MAX; /* send, req: the words after ID are TEXT */
	int i, bad, status;
	char *rest, *p;

	bad = req_put(c, strcmp(cmd->name, "console") ? cmd->name : "watch", false);
	for (i = 0; i < nargs; i++)
		bad |= req_put(c, " ", false) | req_put(c, args[i], text && i > 0);
	if (!strcmp(cmd->name, "send") && newline)
		bad |= req_put(c, "\n", true);
	if (bad)
		return usage_error(cmd, "TEXT is too long for one request line", "");
	c->req[c->req_len++] = '\n';
	if (conn_open(c) || conn_send(c, c->req, c->req_len))
		return 2;
	while (!(p = conn_next(c)))
		if (conn_fill(c))
			return 2;
	status = answer_status(c, p, &rest);
	if (status)
		return status;

	if (!strcmp(cmd->name, "console"))
		return console_run(c, args[0]);
	if (!strcmp(cmd->name, "req")) {
		status = print_data(c, rest);
		if (!status)
			putchar('\n');
	} else if (!strcmp(cmd->name, "read")) {
		/* "NEXT DROPPED DATA": DATA may hold spaces, so only two words are split off */
		p = strchr(rest, ' ');
		p = p ? strchr(p + 1, ' ') : rest;
		status = p == rest ? bad_answer(c, rest) : print_data(c, p ? p + 1 : "");
	} else if (!strcmp(cmd->name, "list") && !nargs) {
		/* "running=N halted=N ..." becomes "running N\nhalted N\n..." */
		for (p = rest; *p; p++)
			*p = *p == '=' ? ' ' : *p == ' ' ? '\n' : *p;
		puts(rest);
	} else if (!strcmp(cmd->name, "stats") && !json) {
		p = (char *)json_print(rest, "", 0);
		if (!p || p[strspn(p, WS)])
			status = bad_answer(c, rest);
	} else if (*rest) {
		puts(rest); /* info, list STATE, stats --json */
	}
	return status;
}

int client_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct conn c = { .fd = -1 }; /* 132 KiB, once: the stack has room */
	const struct client_cmd *cmd = NULL;
	bool json = false, newline = true;
	char defpath[PATH_MAX], who[64];
	int o, nargs, status;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cmds); i++)
		if (!strcmp(argv[0], cmds[i].name))
			cmd = &cmds[i];
	if (!cmd) {
		fprintf(stderr, "kvmlite: unknown command '%s'\n", argv[0]);
		client_usage(stderr);
		return 2;
	}
	/* optind 0: glibc starts afresh; "+": options come first, so TEXT may start with '-' */
	optind = 0;
	opterr = 0;
	while ((o = getopt_long(argc, argv, "+:nh", longopts, NULL)) != -1) {
		if (o == 'h') {
			client_usage(stdout);
			return 0;
		} else if (o == 's' || o == 'j' || o == 'n') {
			c.path = o == 's' ? optarg : c.path;
			json |= o == 'j';
			newline &= o != 'n';
		} else {
			return usage_error(cmd, o == ':' ? "missing argument after " : "unknown option ",
					   argv[optind - 1]);
		}
	}
	if ((!newline && strcmp(cmd->name, "send")) || (json && strcmp(cmd->name, "stats")))
		return usage_error(cmd, "no such option for this command: ", json ? "--json" : "-n");
	argv += optind;
	nargs = argc - optind;
	if (nargs < cmd->min || nargs > cmd->max)
		return usage_error(cmd, nargs < cmd->min ? "too few arguments" : "too many arguments", "");
	/* so that no argument can end the request line early or add words to it */
	if (nargs &&
	    (!*argv[0] || strspn(argv[0], cmd->id ? "0123456789" : "abcdefghijklmnopqrstuvwxyz") != strlen(argv[0])))
		return usage_error(cmd, cmd->id ? "not a guest number: " : "not a state: ", argv[0]);
	/* a default too long is cut, and then refused by conn_open() as too long */
	control_default_path(defpath, sizeof(defpath));
	c.path = c.path ? c.path : defpath;
	snprintf(who, sizeof(who), "%s%s", cmd->id && nargs ? "guest " : cmd->name, cmd->id && nargs ? argv[0] : "");
	c.who = who;
	status = client_run(&c, cmd, argv, nargs, json, newline);
	if (c.fd >= 0)
		close(c.fd);
	if (fflush(stdout) && !status) {
		fprintf(stderr, "kvmlite: stdout: %s\n", strerror(errno));
		status = 2;
	}
	return status;
}
