/* cli.h - the one option parser and the one number parser every kvmlite subcommand uses. */
#ifndef KVMLITE_CLI_H
#define KVMLITE_CLI_H

#include <stdarg.h>
#include <stdio.h>

#include "types.h"

/*
 * How an option takes its value. Every kind writes through the option's
 * `dest` pointer, so a subcommand's table is both its parser and its help.
 */
enum cli_kind {
	CLI_FLAG,    /* no value: sets a bool to true */
	CLI_STRING,  /* any text: a const char * */
	CLI_U32,     /* a whole number in [min, max]: a u32 */
	CLI_SECONDS, /* a decimal number of seconds in [min, max]: a double */
	CLI_CHOICE,  /* one word of `choices`: its index, an int */
	CLI_CALL,    /* the value handed to `call`, which checks and stores it */
};

struct cli_opt {
	const char *name; /* the long name without "--" */
	char short_name;  /* a one-letter alias ("-v"), or 0 */
	enum cli_kind kind;
	void *dest;
	const char *arg;	    /* the value's name in help ("N", "PATH"); NULL for a flag */
	const char *help;	    /* what it does; '\n' starts another help line */
	u32 min, max;		    /* CLI_U32 and CLI_SECONDS: the range allowed */
	const char *const *choices; /* CLI_CHOICE: NULL-terminated */
	/* CLI_CALL: returns 0, or -1 with a message in err ("takes ..., not ...") */
	int (*call)(void *dest, const char *value, char *err, size_t errlen);
};

/* What a subcommand is, for the parser's messages and for `kvmlite help CMD`. */
struct cli_cmd {
	const char *name;	 /* "spawn" */
	const char *args;	 /* "N [options]": what follows the name in the usage line */
	const char *summary;	 /* one line, for `kvmlite help` */
	const char *description; /* paragraphs, lines under 80 columns */
	const struct cli_opt *opts;
	int nopts;
	const char *footer; /* after the options: exit status and the like; may be NULL */
};

/*
 * Parses argv[1..argc-1] (argv[0] is the subcommand's name): options may
 * come anywhere before "--", everything after it is an argument. "--name
 * VALUE", "--name=VALUE", "-x" and "-xVALUE" are understood; an argument
 * that looks like a negative number ("-5") is an argument, so that the
 * number parser can say what is wrong with it. The arguments are moved,
 * in order, to argv[0..*nargs-1]. -h and --help print the command's help
 * on stdout and return 1. Returns 0, 1 (help was asked for: exit 0), or
 * -1 after printing one line on stderr naming what is wrong (exit 2).
 */
int cli_parse(const struct cli_cmd *cmd, int argc, char **argv, int *nargs);

/*
 * A whole number in [min, max]: decimal digits, or hex after "0x". No
 * sign, no spaces, nothing after it. Returns 0, or -1 with a message for
 * `what` in err: "--workers takes a whole number from 1 to 4096, not '0'".
 */
int cli_u64(const char *what, const char *s, u64 min, u64 max, u64 *out, char *err, size_t errlen);
int cli_u32(const char *what, const char *s, u32 min, u32 max, u32 *out, char *err, size_t errlen);

/* Seconds in [min, max]: digits with at most one '.', as "2" or "0.25". Messages as cli_u64's. */
int cli_seconds(const char *what, const char *s, double min, double max, double *out, char *err, size_t errlen);

/* The command's help: usage line, description, options, footer, in 80 columns. */
void cli_help(const struct cli_cmd *cmd, FILE *f);

/* The width of the terminal on fd; 80 when fd is no terminal or does not say. */
int cli_columns(int fd);

/*
 * Prints label, then the formatted text word-wrapped so that no line is
 * wider than width columns; later lines start at column indent, and so
 * does the text when the label is shorter (after a longer one it follows
 * on the same line). Ends with a newline. A word too long for a line is
 * broken. Columns are counted in characters (UTF-8: "µ" is one). Below
 * indent + 20 columns the label gets a line of its own and the text is
 * indented by 2; below 20 columns it wraps at 20.
 */
void cli_wrap(FILE *f, const char *label, int indent, int width, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

void cli_vwrap(FILE *f, const char *label, int indent, int width, const char *fmt, va_list ap);

/* Cuts s (UTF-8) to at most width columns; returns its length in bytes after the cut. */
size_t cli_cut(char *s, int width);

/* Prints "kvmlite CMD: MESSAGE" on stderr and returns 2, the usage status. */
int cli_error(const struct cli_cmd *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
