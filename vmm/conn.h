/* conn.h - a client's connection to a spawn's control socket: a request line out, answer lines in. */
#ifndef KVMLITE_CONN_H
#define KVMLITE_CONN_H

#include <stddef.h>

#include "proto.h"
#include "types.h"

/*
 * Answers can be far longer than requests: a `read` answer carries a 4 KiB
 * output ring escaped up to 4x, more than a line_reader (sized for requests)
 * holds. So answers are assembled here, in a larger buffer.
 */
#define ANSWER_MAX (64 * 1024)

struct conn {
	int fd;
	bool quiet_close, closed; /* a close by the spawn is no error (watch): just say so in closed */
	const char *path, *who;	  /* who: "guest 5" or the command, for error messages */
	size_t start, len;	  /* buf[start, len) is received, not yet returned as a line */
	size_t req_len;
	char req[PROTO_LINE_MAX + 2]; /* the request line, its "\n" and a NUL */
	char buf[ANSWER_MAX];
	u8 raw[ANSWER_MAX]; /* unescaped DATA */
};

/* Connects to c->path; says why not on stderr. */
int conn_open(struct conn *c);
/* Sends len bytes of s, all of them; says why not on stderr. */
int conn_send(struct conn *c, const char *s, size_t len);
/* Reads what the socket has (blocking). Lines returned before are then gone. A close is -1, and with quiet_close
 * no error: closed says so. */
int conn_fill(struct conn *c);
/* The next whole line received, NUL-terminated without its "\r\n"; NULL if none is complete yet. */
char *conn_next(struct conn *c);

/* Says on stderr that line is no answer kvmlite understands; returns 2, the exit status. */
int bad_answer(struct conn *c, const char *line);
/* 0 for "ok", with *rest what follows "ok "; 1 for "error TEXT" (reported); 2 for anything else. */
int answer_status(struct conn *c, char *line, char **rest);
/* Writes escaped DATA to stdout as the bytes it stands for; 0, or bad_answer's 2. */
int print_data(struct conn *c, const char *s);

#endif
