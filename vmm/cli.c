/* cli.c - the one option parser and the one number parser every kvmlite subcommand uses. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cli.h"

#define HELP_COL 24 /* where option help starts; longer option names get a line of their own */

int cli_error(const struct cli_cmd *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "kvmlite %s: ", cmd->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 2;
}

int cli_u64(const char *what, const char *s, u64 min, u64 max, u64 *out, char *err, size_t errlen)
{
	bool hex = s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
	const char *p = s + (hex ? 2 : 0);
	u64 v = 0, base = hex ? 16 : 10;
	bool ok = *p != '\0';

	/* by hand, not strtoull: that takes a sign, spaces and octal, and wraps "-1" */
	for (; ok && *p; p++) {
		const char *digits = "0123456789abcdef", *d = strchr(digits, *p | 0x20);
		u64 dv = d && *p ? (u64)(d - digits) : 16;

		if (dv >= base || v > (UINT64_MAX - dv) / base)
			ok = false;
		else
			v = v * base + dv;
	}
	if (!ok || v < min || v > max) {
		snprintf(err, errlen, "%s takes a whole number from %llu to %llu, not '%s'", what,
			 (unsigned long long)min, (unsigned long long)max, s);
		return -1;
	}
	*out = v;
	return 0;
}

int cli_u32(const char *what, const char *s, u32 min, u32 max, u32 *out, char *err, size_t errlen)
{
	u64 v;

	if (cli_u64(what, s, min, max, &v, err, errlen) < 0)
		return -1;
	*out = (u32)v;
	return 0;
}

int cli_seconds(const char *what, const char *s, double min, double max, double *out, char *err, size_t errlen)
{
	size_t digits = strspn(s, "0123456789"), frac = 0;
	double v;

	if (s[digits] == '.')
		frac = strspn(s + digits + 1, "0123456789") + 1;
	/* a digit at least, nothing but digits and one '.': no sign, exponent, inf or nan */
	v = atof(s);
	if (s[digits + frac] != '\0' || (digits == 0 && frac < 2) || v < min || v > max) {
		snprintf(err, errlen, "%s takes seconds from %.10g to %.10g (such as 2 or 0.5), not '%s'", what, min,
			 max, s);
		return -1;
	}
	*out = v;
	return 0;
}

/* The option called "--name" (len bytes of name), or with the one-letter alias c; NULL if none. */
static const struct cli_opt *opt_find(const struct cli_cmd *cmd, const char *name, size_t len, char c)
{
	for (int i = 0; i < cmd->nopts; i++) {
		const struct cli_opt *o = &cmd->opts[i];

		if (name ? strlen(o->name) == len && !strncmp(o->name, name, len) : c && o->short_name == c)
			return o;
	}
	return NULL;
}

/* Checks and stores one option's value; -1 after saying what is wrong. */
static int opt_store(const struct cli_cmd *cmd, const struct cli_opt *o, const char *value)
{
	char what[64], err[256];
	int r = 0;

	snprintf(what, sizeof(what), "--%s", o->name);
	switch (o->kind) {
	case CLI_FLAG:
		*(bool *)o->dest = true;
		return 0;
	case CLI_STRING:
		*(const char **)o->dest = value;
		return 0;
	case CLI_U32:
		r = cli_u32(what, value, o->min, o->max, o->dest, err, sizeof(err));
		break;
	case CLI_SECONDS:
		r = cli_seconds(what, value, o->min, o->max, o->dest, err, sizeof(err));
		break;
	case CLI_CHOICE: {
		size_t n = 0;

		for (int i = 0; o->choices[i]; i++)
			if (!strcmp(value, o->choices[i])) {
				*(int *)o->dest = i;
				return 0;
			}
		n = (size_t)snprintf(err, sizeof(err), "%s takes ", what);
		for (int i = 0; o->choices[i] && n < sizeof(err); i++)
			n += (size_t)snprintf(err + n, sizeof(err) - n, "%s%s", o->choices[i],
					      !o->choices[i + 1]  ? ""
					      : o->choices[i + 2] ? ", "
								  : " or ");
		if (n < sizeof(err))
			snprintf(err + n, sizeof(err) - n, ", not '%s'", value);
		r = -1;
		break;
	}
	case CLI_CALL:
		r = o->call(o->dest, value, err, sizeof(err));
		break;
	}
	if (r < 0)
		cli_error(cmd, "%s", err);
	return r;
}

/* Is arg an option (as opposed to an argument such as "-", "-5" or "-.5")? */
static bool is_option(const char *arg)
{
	return arg[0] == '-' && arg[1] && !strchr("0123456789.", arg[1]);
}

/* Its value: what followed '=' or the letter, else the next word. NULL after saying it is missing. */
static const char *opt_value(const struct cli_cmd *cmd, const struct cli_opt *o, const char *inline_value, int argc,
			     char **argv, int *i)
{
	if (inline_value)
		return inline_value;
	if (*i + 1 < argc)
		return argv[++*i];
	cli_error(cmd, "--%s needs a value (%s)", o->name, o->arg);
	return NULL;
}

/* One option word at argv[*i] (with its value, which may be the next word). */
static int parse_option(const struct cli_cmd *cmd, int argc, char **argv, int *i)
{
	const char *arg = argv[*i], *eq = strchr(arg, '='), *value;
	const struct cli_opt *o;

	if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
		cli_help(cmd, stdout);
		return 1;
	}
	if (arg[1] != '-') {
		/* "-vn": one-letter options may share a dash; one that takes a value ends the word */
		for (const char *p = arg + 1; *p; p++) {
			o = opt_find(cmd, NULL, 0, *p);
			if (!o) {
				cli_error(cmd, "unknown option '-%c' (kvmlite help %s lists them)", *p, cmd->name);
				return -1;
			}
			if (o->kind != CLI_FLAG)
				return (value = opt_value(cmd, o, p[1] ? p + 1 : NULL, argc, argv, i))
					       ? opt_store(cmd, o, value)
					       : -1;
			opt_store(cmd, o, NULL);
		}
		return 0;
	}
	o = opt_find(cmd, arg + 2, eq ? (size_t)(eq - arg - 2) : strlen(arg + 2), 0);
	if (!o) {
		cli_error(cmd, "unknown option '%.*s' (kvmlite help %s lists them)",
			  eq ? (int)(eq - arg) : (int)strlen(arg), arg, cmd->name);
		return -1;
	}
	if (o->kind == CLI_FLAG) {
		if (eq)
			return cli_error(cmd, "--%s takes no value", o->name), -1;
		return opt_store(cmd, o, NULL);
	}
	value = opt_value(cmd, o, eq ? eq + 1 : NULL, argc, argv, i);
	return value ? opt_store(cmd, o, value) : -1;
}

int cli_parse(const struct cli_cmd *cmd, int argc, char **argv, int *nargs)
{
	bool options = true;
	int n = 0, r;

	for (int i = 1; i < argc; i++) {
		if (options && !strcmp(argv[i], "--")) {
			options = false;
		} else if (options && is_option(argv[i])) {
			r = parse_option(cmd, argc, argv, &i);
			if (r)
				return r;
		} else {
			argv[n++] = argv[i];
		}
	}
	*nargs = n;
	return 0;
}

/* Writes text with each line indented by `indent` spaces, the first line starting at column `col`. */
static void help_lines(FILE *f, const char *text, int col, int indent)
{
	while (*text) {
		size_t n = strcspn(text, "\n");

		fprintf(f, "%*s%.*s\n", indent > col ? indent - col : 0, "", (int)n, text);
		col = 0;
		text += n + (text[n] == '\n');
	}
}

void cli_help(const struct cli_cmd *cmd, FILE *f)
{
	fprintf(f, "usage: kvmlite %s %s\n\n", cmd->name, cmd->args);
	if (cmd->description)
		fprintf(f, "%s\n", cmd->description);
	if (cmd->nopts)
		fprintf(f, "options (anywhere before '--'):\n");
	for (int i = 0; i < cmd->nopts; i++) {
		const struct cli_opt *o = &cmd->opts[i];
		int len = o->short_name ? fprintf(f, "  -%c, --%s", o->short_name, o->name)
					: fprintf(f, "  --%s", o->name);

		if (o->arg)
			len += fprintf(f, " %s", o->arg);
		if (len + 2 > HELP_COL) {
			fputc('\n', f);
			len = 0;
		}
		help_lines(f, o->help, len, HELP_COL);
	}
	fprintf(f, "  -h, --help            this help\n");
	if (cmd->footer)
		fprintf(f, "\n%s", cmd->footer);
}

int cli_columns(int fd)
{
	struct winsize ws;

	if (isatty(fd) && ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return 80;
}

/* Columns of n bytes of UTF-8: continuation bytes (10xxxxxx) take none. */
static int columns(const char *s, size_t n)
{
	int c = 0;

	for (size_t i = 0; i < n; i++)
		c += ((unsigned char)s[i] & 0xc0) != 0x80;
	return c;
}

/* Bytes of s that fit in cols columns, without splitting a character. */
static size_t fit(const char *s, size_t n, int cols)
{
	size_t i = 0;

	for (int c = 0; i < n; c++) {
		if (c == cols)
			break;
		for (i++; i < n && ((unsigned char)s[i] & 0xc0) == 0x80; i++)
			;
	}
	return i;
}

size_t cli_cut(char *s, int width)
{
	size_t n = fit(s, strlen(s), width > 0 ? width : 0);

	s[n] = '\0';
	return n;
}

void cli_wrap(FILE *f, const char *label, int indent, int width, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cli_vwrap(f, label, indent, width, fmt, ap);
	va_end(ap);
}

void cli_vwrap(FILE *f, const char *label, int indent, int width, const char *fmt, va_list ap)
{
	char text[2048];
	const char *p = text;
	int col = columns(label, strlen(label)), room;

	vsnprintf(text, sizeof(text), fmt, ap);
	if (width < 20)
		width = 20; /* no narrower: a line must hold a few words */
	if (width < indent + 20 && indent > 2) {
		/* too narrow for two columns: the label on a line of its own, the text below it */
		if (col)
			fprintf(f, "%s\n", label);
		label = "";
		col = 0;
		indent = 2;
	}
	fputs(label, f);
	if (col < indent) {
		fprintf(f, "%*s", indent - col, "");
		col = indent;
	}
	room = width - col; /* after a label longer than indent, the first line has less room */
	while (*p) {
		size_t n = strlen(p), cut;

		if (columns(p, n) <= room) {
			fprintf(f, "%s", p);
			break;
		}
		/* after the last word that ends within width, else a hard break */
		cut = fit(p, n, room > 1 ? room : 1);
		if (p[cut] != ' ')
			while (cut > 0 && p[cut - 1] != ' ')
				cut--;
		if (cut == 0)
			cut = fit(p, n, room > 1 ? room : 1);
		n = cut;
		while (n > 0 && p[n - 1] == ' ')
			n--;
		fprintf(f, "%.*s\n%*s", (int)n, p, indent, "");
		p += cut;
		p += strspn(p, " ");
		room = width - indent;
	}
	fputc('\n', f);
}
