/* client.c - `kvmlite send|req|console|list|stats|stop|info|read`: one request each to a spawn's control socket. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "client.h"
#include "conn.h"
#include "json.h"
#include "metrics.h"
#include "proto.h"
#include "watch.h"

#define WS " \t\r\n"

struct client_flags {
	bool no_newline; /* send -n */
	bool json, prometheus;
};

/* Which options a client command takes besides --socket. */
#define OPT_N	 1 /* send -n */
#define OPT_JSON 2 /* --json */
#define OPT_PROM 4 /* stats --prometheus */

static const struct client_cmd {
	const char *name, *args, *description;
	int min, max; /* how many arguments */
	bool id;      /* the first one is a guest id (else a state) */
	unsigned opts;
} cmds[] = {
	{ "send", "[-n] ID TEXT...",
	  "Queues TEXT (its words joined by single spaces) and a newline for guest\n"
	  "ID's COM1, and returns at once; the guest reads it when it is ready.\n"
	  "At most 256 bytes may wait for a guest. TEXT that starts with '-' goes\n"
	  "after '--'.\n",
	  2, INT_MAX, true, OPT_N },
	{ "req", "ID TEXT...",
	  "Sends TEXT and a newline to guest ID, then prints the next whole line the\n"
	  "guest writes (without its newline); waits 5 s at most. The mvm guest\n"
	  "answers ping (pong), id (its index), count (requests so far) and\n"
	  "GET /PATH. TEXT that starts with '-' goes after '--'.\n",
	  2, INT_MAX, true, 0 },
	{ "console", "ID",
	  "Puts guest ID's COM1 on this terminal: what you type goes to the guest,\n"
	  "what it writes appears here. Ctrl-A h lists the console's commands,\n"
	  "Ctrl-A x leaves (exit status 0). From a pipe, input is sent as fast as\n"
	  "the guest takes it, and the console ends with the input.\n",
	  1, 1, true, 0 },
	{ "watch", "ID",
	  "Prints guest ID's output as the guest writes it, until Ctrl-C (exit\n"
	  "status 130) or the end of the spawn (0). Sends the guest nothing:\n"
	  "`kvmlite send` or `req` can talk to it meanwhile.\n",
	  1, 1, true, 0 },
	{ "read", "ID",
	  "Prints what guest ID wrote lately: the bytes its 4 KiB output ring still\n"
	  "holds, as they are.\n",
	  1, 1, true, 0 },
	{ "info", "ID",
	  "Prints guest ID's state (running, halted, parked, ended, failed, silent,\n"
	  "lost) and its counters: booted (1 once it wrote a byte), exits, out and\n"
	  "in (serial bytes), dropped (output lost from its ring), cpu_us,\n"
	  "throttles, pit_irqs, pit_periods, bios_missing (BIOS services it called\n"
	  "that kvmlite's firmware lacks), and the reason a guest failed or is\n"
	  "silent.\n",
	  1, 1, true, OPT_JSON },
	{ "list", "[STATE]",
	  "Without STATE: how many guests are in each state, one `state count` a\n"
	  "line. With STATE (running, halted, parked, ended, failed, silent, lost,\n"
	  "or booted): the ids of those guests as ranges, such as 0-99,101.\n",
	  0, 1, false, OPT_JSON },
	{ "stats", "[--json | --prometheus]",
	  "Prints the spawn's counters: guests by state, VM exits, device events,\n"
	  "parking, the host it runs on; `name: value` lines, or --json the object\n"
	  "the spawn sends, or --prometheus the Prometheus text format\n"
	  "(docs/metrics.md).\n",
	  0, 0, false, OPT_JSON | OPT_PROM },
	{ "stop", "[ID]",
	  "Ends guest ID (its KVM resources are released). Without ID, ends every\n"
	  "guest and the spawn, which prints its summary.\n",
	  0, 1, true, 0 },
};

bool client_is_command(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(cmds); i++)
		if (!strcmp(name, cmds[i].name))
			return true;
	return false;
}

static int usage_error(const struct client_cmd *cmd, const char *what, const char *arg)
{
	fprintf(stderr, "kvmlite %s: %s%s\nusage: kvmlite %s %s (more: kvmlite help %s)\n", cmd->name, what, arg,
		cmd->name, cmd->args, cmd->name);
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

/* A JSON string on stdout, escaped as json_string() does. */
static void json_print_string(const char *s, size_t n)
{
	char *out = malloc(6 * n + 3);

	if (out && json_string(s, n, out, 6 * n + 3) < 6 * n + 3)
		fputs(out, stdout);
	free(out);
}

/*
 * `list`'s "k=v k=v ..." as JSON members: numbers stay numbers, any other
 * word is a string. Appended after what was printed. (`info`'s answer is
 * json_info()'s, as the HTTP front door gives it.)
 */
static void kv_json(const char *p, bool first)
{
	while (*(p += strspn(p, " "))) {
		size_t klen = strcspn(p, "= "), vlen;
		const char *v = p[klen] == '=' ? p + klen + 1 : p + klen;

		vlen = strcspn(v, " ");
		printf("%s", first ? "" : ",");
		json_print_string(p, klen);
		putchar(':');
		if (vlen && strspn(v, "0123456789") == vlen)
			printf("%.*s", (int)vlen, v);
		else
			json_print_string(v, vlen);
		first = false;
		p = v + vlen;
	}
}

/* "0-99,101" as {"state":S,"count":N,"ranges":[[0,99],[101,101]]}; -1 if it is not ranges. */
static int ranges_json(const char *state, const char *s)
{
	unsigned long long a, b, count = 0;
	int n;

	/* checked and counted first, printed second: "count" comes before the list */
	for (int pass = 0; pass < 2; pass++) {
		const char *p = s;
		bool first = true;

		if (pass)
			printf("{\"state\":\"%s\",\"count\":%llu,\"ranges\":[", state, count);
		while (*p) {
			if (!isdigit((unsigned char)*p) || sscanf(p, "%llu%n", &a, &n) != 1)
				return -1;
			p += n;
			b = a;
			if (*p == '-' && (!isdigit((unsigned char)p[1]) || sscanf(p + 1, "%llu%n", &b, &n) != 1))
				return -1;
			p += *p == '-' ? 1 + n : 0;
			if (b < a || (*p && (*p != ',' || !*++p)))
				return -1;
			if (pass)
				printf("%s[%llu,%llu]", first ? "" : ",", a, b);
			count += pass ? 0 : b - a + 1;
			first = false;
		}
	}
	printf("]}\n");
	return 0;
}

/* What an answer's "ok REST" becomes on stdout, for the commands that print it. */
static int print_answer(struct conn *c, const struct client_cmd *cmd, char **args, int nargs,
			const struct client_flags *fl, char *rest)
{
	char *p;

	if (!strcmp(cmd->name, "req")) {
		if (print_data(c, rest))
			return 2;
		putchar('\n');
	} else if (!strcmp(cmd->name, "read")) {
		/* "NEXT DROPPED DATA": DATA may hold spaces, so only two words are split off */
		p = strchr(rest, ' ');
		p = p ? strchr(p + 1, ' ') : rest;
		return p == rest ? bad_answer(c, rest) : print_data(c, p ? p + 1 : "");
	} else if (!strcmp(cmd->name, "list") && nargs && fl->json) {
		if (ranges_json(args[0], rest) < 0)
			return bad_answer(c, rest);
	} else if (!strcmp(cmd->name, "list") && fl->json) {
		putchar('{');
		kv_json(rest, true);
		printf("}\n");
	} else if (!strcmp(cmd->name, "list") && !nargs) {
		/* "running=N halted=N ..." becomes "running N\nhalted N\n..." */
		for (p = rest; *p; p++)
			*p = *p == '=' ? ' ' : *p == ' ' ? '\n' : *p;
		puts(rest);
	} else if (!strcmp(cmd->name, "info") && fl->json) {
		/* "STATE k=v ...": the state first, then the counters */
		size_t n = strlen(rest), cap = 6 * n + 64;
		char *out = malloc(cap);

		if (!out || !json_info((u32)strtoul(args[0], NULL, 10), rest, n, out, cap)) {
			free(out);
			return bad_answer(c, rest);
		}
		puts(out);
		free(out);
	} else if (!strcmp(cmd->name, "stats") && fl->prometheus) {
		char text[METRICS_TEXT_MAX];
		size_t n = metrics_format(rest, text, sizeof(text));

		if (n == 0 || n >= sizeof(text))
			return bad_answer(c, rest);
		fwrite(text, 1, n, stdout);
	} else if (!strcmp(cmd->name, "stats") && !fl->json) {
		p = (char *)json_print(rest, "", 0);
		if (!p || p[strspn(p, WS)])
			return bad_answer(c, rest);
	} else if (*rest) {
		puts(rest); /* info, list STATE, stats --json */
	}
	return 0;
}

static int client_run(struct conn *c, const struct client_cmd *cmd, char **args, int nargs,
		      const struct client_flags *fl)
{
	bool text = cmd->max == INT_MAX; /* send, req: the words after ID are TEXT */
	bool stream = !strcmp(cmd->name, "console") || !strcmp(cmd->name, "watch");
	int i, bad, status;
	char *rest, *p;

	bad = req_put(c, stream ? "watch" : cmd->name, false);
	for (i = 0; i < nargs; i++)
		bad |= req_put(c, " ", false) | req_put(c, args[i], text && i > 0);
	if (!strcmp(cmd->name, "send") && !fl->no_newline)
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
	if (stream)
		return watch_run(c, args[0], !strcmp(cmd->name, "console"));
	return print_answer(c, cmd, args, nargs, fl, rest);
}

/* The states `list` takes, for its message: "running, halted, ... or booted". */
static void states_text(char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (int i = 0; proto_states[i] && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s",
				      i == 0		    ? ""
				      : proto_states[i + 1] ? ", "
							    : " or ",
				      proto_states[i]);
}

/* The arguments make one request line: checked before anything is sent. */
static int check_args(const struct client_cmd *cmd, char **argv, int nargs)
{
	char states[160];
	int i;

	if (nargs < cmd->min || nargs > cmd->max)
		return usage_error(cmd, nargs < cmd->min ? "too few arguments" : "too many arguments", "");
	if (!nargs)
		return 0;
	if (cmd->id) {
		char err[128];
		u32 id;

		/* so that no argument can end the request line early or add words to it */
		if (cli_u32("ID", argv[0], 0, UINT32_MAX, &id, err, sizeof(err)) < 0 ||
		    strspn(argv[0], "0123456789") != strlen(argv[0]))
			return usage_error(cmd, "ID takes a guest number such as 7, not ", argv[0]);
		return 0;
	}
	for (i = 0; proto_states[i]; i++)
		if (!strcmp(argv[0], proto_states[i]))
			return 0;
	states_text(states, sizeof(states));
	fprintf(stderr, "kvmlite %s: no state '%s': STATE is one of %s\n", cmd->name, argv[0], states);
	return 2;
}

/* The options cmd takes, into opts: --socket, then those cmd->opts names; their number. */
static int client_options(const struct client_cmd *cmd, struct cli_opt opts[4], const char **path,
			  struct client_flags *fl)
{
	int nopts = 0;

	opts[nopts++] =
		(struct cli_opt){ .name = "socket",
				  .kind = CLI_STRING,
				  .dest = path,
				  .arg = "PATH",
				  .help = "the spawn's control socket (default\n$XDG_RUNTIME_DIR/kvmlite/control)" };
	if (cmd->opts & OPT_N)
		opts[nopts++] = (struct cli_opt){ .name = "no-newline",
						  .short_name = 'n',
						  .kind = CLI_FLAG,
						  .dest = &fl->no_newline,
						  .help = "send no newline after TEXT" };
	if (cmd->opts & OPT_JSON)
		opts[nopts++] = (struct cli_opt){
			.name = "json", .kind = CLI_FLAG, .dest = &fl->json, .help = "one JSON object (docs/json.md)"
		};
	if (cmd->opts & OPT_PROM)
		opts[nopts++] = (struct cli_opt){ .name = "prometheus",
						  .kind = CLI_FLAG,
						  .dest = &fl->prometheus,
						  .help = "the Prometheus text format (docs/metrics.md)" };
	return nopts;
}

int client_main(int argc, char **argv)
{
	struct conn c = { .fd = -1 }; /* 132 KiB, once: the stack has room */
	const struct client_cmd *cmd = NULL;
	struct client_flags fl = { 0 };
	struct cli_opt opts[4];
	char defpath[PATH_MAX], who[64];
	int nargs, status;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cmds); i++)
		if (!strcmp(argv[0], cmds[i].name))
			cmd = &cmds[i];
	if (!cmd) {
		fprintf(stderr, "kvmlite: unknown command '%s'\n", argv[0]);
		return 2;
	}
	const struct cli_cmd spec = { cmd->name,
				      cmd->args,
				      NULL,
				      cmd->description,
				      opts,
				      client_options(cmd, opts, &c.path, &fl),
				      "Talks to a running `kvmlite spawn` through its control socket: --socket\n"
				      "PATH, or $XDG_RUNTIME_DIR/kvmlite/control (/run/kvmlite/control without\n"
				      "XDG_RUNTIME_DIR).\n"
				      "Exit status: 0 ok, 1 the spawn answered with an error, 2 usage error or\n"
				      "no spawn.\n" };

	status = cli_parse(&spec, argc, argv, &nargs);
	if (status)
		return status > 0 ? 0 : 2;
	if (fl.json && fl.prometheus)
		return usage_error(cmd, "--json and --prometheus: one at a time", "");
	status = check_args(cmd, argv, nargs);
	if (status)
		return status;
	/* a default too long is cut, and then refused by conn_open() as too long */
	control_default_path(defpath, sizeof(defpath));
	c.path = c.path ? c.path : defpath;
	snprintf(who, sizeof(who), "%s%s", cmd->id && nargs ? "guest " : cmd->name, cmd->id && nargs ? argv[0] : "");
	c.who = who;
	status = client_run(&c, cmd, argv, nargs, &fl);
	if (c.fd >= 0)
		close(c.fd);
	if (fflush(stdout) && !status) {
		fprintf(stderr, "kvmlite: stdout: %s\n", strerror(errno));
		status = 2;
	}
	return status;
}
