/* conn.c - a client's connection to a spawn's control socket: a request line out, answer lines in. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "conn.h"
#include "proto.h"

int conn_open(struct conn *c)
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
int conn_send(struct conn *c, const char *s, size_t len)
{
	if (send(c->fd, s, len, MSG_NOSIGNAL) == (ssize_t)len)
		return 0;
	fprintf(stderr, "kvmlite: %s: %s\n", c->path, strerror(errno));
	return -1;
}

/* Reads what the socket has (blocking). Lines returned before are then gone. */
int conn_fill(struct conn *c)
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
	if (n == 0 && c->quiet_close) {
		c->closed = true;
		return -1;
	}
	if (n <= 0) {
		fprintf(stderr, "kvmlite: %s: %s\n", c->path, n ? strerror(errno) : "the spawn closed the connection");
		return -1;
	}
	c->len += (size_t)n;
	return 0;
}

/* The next whole line received, NUL-terminated without its "\r\n"; NULL if none is complete yet. */
char *conn_next(struct conn *c)
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

int bad_answer(struct conn *c, const char *line)
{
	fprintf(stderr, "kvmlite: %s: unexpected answer '%.80s'\n", c->path, line);
	return 2;
}

/* 0 for "ok", with *rest what follows "ok "; 1 for "error TEXT" (reported); 2 for anything else. */
int answer_status(struct conn *c, char *line, char **rest)
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
int print_data(struct conn *c, const char *s)
{
	ssize_t n = proto_unescape(s, strlen(s), c->raw, sizeof(c->raw));

	if (n < 0)
		return bad_answer(c, s);
	fwrite(c->raw, 1, (size_t)n, stdout);
	return 0;
}
