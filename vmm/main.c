/* main.c - the kvmlite command line: each subcommand's options and help, handed over to the command. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "client.h"
#include "frontdoor.h"
#include "loader.h"
#include "run.h"
#include "spawn.h"
#include "version.h"
#include "vm.h"

static const char *const firmware_choices[] = { "none", "pc", NULL };
static const char *const park_choices[] = { "never", "auto", "always", NULL }; /* enum park_mode's order */

/* --guest IMAGE|NAME[:COUNT]: several in a row fill ids in order. */
static int opt_guest(void *dest, const char *value, char *err, size_t errlen)
{
	struct spawn_opts *o = dest;
	char *colon = strrchr(value, ':');

	if (o->nguest == (int)ARRAY_SIZE(o->guest)) {
		snprintf(err, errlen, "--guest may be given at most %zu times", ARRAY_SIZE(o->guest));
		return -1;
	}
	/* only digits after the last ':' make a count: a path may hold ':' too */
	if (colon && colon[1] && strspn(colon + 1, "0123456789") == strlen(colon + 1)) {
		if (cli_u32("--guest's COUNT", colon + 1, 1, UINT32_MAX, &o->guest_count[o->nguest], err, errlen) < 0)
			return -1;
		*colon = '\0';
	}
	o->guest[o->nguest++] = value;
	return 0;
}

/* --http, --tcp, --tcp-per-guest: an address checked now, so that a typo is named before any guest starts. */
static int opt_addr(void *dest, const char *value, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (frontdoor_addr_parse(value, &ss, &len, err, errlen) < 0)
		return -1;
	*(const char **)dest = value;
	return 0;
}

/*
 * kvmlite spawn's options as a table (main() runs one command, once), with
 * their defaults. The firmware by default, as in run: a guest that uses the
 * BIOS boots without being told. It lives in the guest's RAM slot (4 KiB of
 * its RAM, no memslot of its own); --firmware none saves that and its run.
 */
static struct spawn_opts spawn_o = {
	.for_s = -1, .mem_budget = 90, .park = PARK_AUTO, .cpu_max = 20, .boot_timeout = BOOT_TIMEOUT_S
};
static int spawn_firmware = 1, spawn_park = PARK_AUTO;

static const struct cli_opt spawn_table[] = {
	{ .name = "guest",
	  .kind = CLI_CALL,
	  .dest = &spawn_o,
	  .arg = "IMAGE|NAME[:COUNT]",
	  .help = "the guest the VMs run (default mvm); repeat it to mix:\n"
		  "the first COUNT ids boot the first image, and so on;\n"
		  "guest i gets i in ESI",
	  .call = opt_guest },
	{ .name = "for",
	  .kind = CLI_SECONDS,
	  .dest = &spawn_o.for_s,
	  .arg = "SECONDS",
	  .help = "serve this long once all booted, then stop (0: stop\n"
		  "after a second of measuring idle CPU and memory);\n"
		  "default: until Ctrl-C, SIGTERM or `kvmlite stop`",
	  .min = 0,
	  .max = 31536000 },
	{ .name = "socket",
	  .kind = CLI_STRING,
	  .dest = &spawn_o.socket,
	  .arg = "PATH",
	  .help = "the control socket (default\n$XDG_RUNTIME_DIR/kvmlite/control)" },
	{ .name = "json",
	  .kind = CLI_FLAG,
	  .dest = &spawn_o.json,
	  .help = "the summary as one JSON object (docs/json.md)" },
	{ .name = "http",
	  .kind = CLI_CALL,
	  .dest = &spawn_o.http,
	  .arg = "ADDR:PORT",
	  .help = "serve HTTP/1.1 there too: GET /guests/ID/PATH asks\n"
		  "guest ID `GET /PATH`; /guests/ID, /stats, /metrics\n"
		  "(PORT alone: on 127.0.0.1; port 0: any, said on\n"
		  "stderr; docs/http.md)",
	  .call = opt_addr },
	{ .name = "tcp",
	  .kind = CLI_CALL,
	  .dest = &spawn_o.tcp,
	  .arg = "ADDR:PORT",
	  .help = "a raw serial port over TCP: a client sends a guest's\n"
		  "id and a newline, then bytes flow both ways as with\n"
		  "`kvmlite console`",
	  .call = opt_addr },
	{ .name = "tcp-per-guest",
	  .kind = CLI_CALL,
	  .dest = &spawn_o.tcp_per_guest,
	  .arg = "[ADDR:]BASEPORT",
	  .help = "guest i's serial port on BASEPORT + i, for as many\n"
		  "guests as ports and the supervisor's fds allow",
	  .call = opt_addr },
	{ .name = "metrics-file",
	  .kind = CLI_STRING,
	  .dest = &spawn_o.metrics_file,
	  .arg = "PATH",
	  .help = "keep PATH up to date with the counters in the\n"
		  "Prometheus text format, for node_exporter's\n"
		  "textfile collector (every 5 s; docs/metrics.md)" },
	{ .name = "log",
	  .kind = CLI_STRING,
	  .dest = &spawn_o.log,
	  .arg = "FILE",
	  .help = "append every guest's output lines to FILE, each\n"
		  "prefixed with the guest's id" },
	{ .name = "first-id",
	  .kind = CLI_U32,
	  .dest = &spawn_o.first_id,
	  .arg = "B",
	  .help = "number the guests B..B+N-1 (in ESI, on the control\n"
		  "socket, in --log): one node's share of a fleet\n"
		  "(docs/cluster.md)",
	  .min = 0,
	  .max = UINT32_MAX - 1 },
	{ .name = "boot-times",
	  .kind = CLI_STRING,
	  .dest = &spawn_o.boot_times,
	  .arg = "FILE",
	  .help = "at the end, write each booted guest's id and µs from\n"
		  "the start to its first serial byte, one a line" },
	{ .name = "workers",
	  .kind = CLI_U32,
	  .dest = &spawn_o.workers,
	  .arg = "K",
	  .help = "worker processes (default: one per online CPU, more\n"
		  "when RLIMIT_NOFILE or vm.max_map_count require)",
	  .min = 1,
	  .max = 4096 },
	{ .name = "threads",
	  .kind = CLI_U32,
	  .dest = &spawn_o.threads,
	  .arg = "T",
	  .help = "worker threads per process (default 1; 4 when every\n"
		  "guest is parked as it halts and --workers is not given)",
	  .min = 1,
	  .max = 256 },
	{ .name = "per-process",
	  .kind = CLI_U32,
	  .dest = &spawn_o.per_process,
	  .arg = "N",
	  .help = "at most N guests per worker process (default: what\nthe limits allow)",
	  .min = 1,
	  .max = UINT32_MAX },
	{ .name = "mem-budget",
	  .kind = CLI_U32,
	  .dest = &spawn_o.mem_budget,
	  .arg = "PCT",
	  .help = "create no more guests once host memory in use\nreaches PCT% (default 90)",
	  .min = 1,
	  .max = 99 },
	{ .name = "park",
	  .kind = CLI_CHOICE,
	  .dest = &spawn_park,
	  .arg = "auto|never|always",
	  .help = "give idle guests' KVM VMs back and keep only their\n"
		  "state: auto (default) once the memory budget or the\n"
		  "host's PIDs or fds run short, least recently active\n"
		  "first (from the start when N is more than the host\n"
		  "holds on VMs); always: every guest as soon as it halts;\n"
		  "never: every guest stays live",
	  .choices = park_choices },
	{ .name = "resident",
	  .kind = CLI_U32,
	  .dest = &spawn_o.resident,
	  .arg = "N",
	  .help = "at most N guests on a KVM VM at once (default: what\nthe host allows); the others are "
		  "parked",
	  .min = 1,
	  .max = UINT32_MAX },
	{ .name = "cpu-max",
	  .kind = CLI_U32,
	  .dest = &spawn_o.cpu_max,
	  .arg = "PCT",
	  .help = "no guest may use more than PCT% of a CPU (default\n"
		  "20; 100: no cap); one over its share waits for the\n"
		  "next 100 ms period",
	  .min = 1,
	  .max = 100 },
	{ .name = "firmware",
	  .kind = CLI_CHOICE,
	  .dest = &spawn_firmware,
	  .arg = "pc|none",
	  .help = "pc (default): start in kvmlite's PC firmware, copied\n"
		  "into each guest's RAM (4 KiB); none: at 0000:7c00,\n"
		  "every device in its reset state",
	  .choices = firmware_choices },
	{ .name = "boot-timeout",
	  .kind = CLI_SECONDS,
	  .dest = &spawn_o.boot_timeout,
	  .arg = "S",
	  .help = "a guest that wrote nothing in its first S seconds\n"
		  "is reported silent, with what it does (default 5;\n"
		  "0: never); --for 0 does not wait for it",
	  .min = 0,
	  .max = 86400 },
	{ .name = "no-sandbox",
	  .kind = CLI_FLAG,
	  .dest = &spawn_o.no_sandbox,
	  .help = "no seccomp filters or io_uring restrictions\n(debugging; docs/security.md)" },
	{ .name = "verbose",
	  .short_name = 'v',
	  .kind = CLI_FLAG,
	  .dest = &spawn_o.verbose,
	  .help = "say more about parking and resume failures" },
};

static int cmd_spawn(int argc, char **argv)
{
	struct spawn_opts o;
	int nargs;
	char err[256];
	const struct cli_cmd cmd = { "spawn",
				     "N [options]",
				     "N guests, served on a control socket",
				     "Starts N guests, sharded over worker processes sized to the host's limits,\n"
				     "and serves them on a control socket: `kvmlite send`, `req`, `console`,\n"
				     "`watch`, `read`, `info`, `list`, `stats` and `stop` talk to it. On a\n"
				     "terminal a status line shows progress; when the spawn ends it prints a\n"
				     "summary: boot times, memory per guest (user space, kernel), idle CPU.\n",
				     spawn_table,
				     (int)ARRAY_SIZE(spawn_table),
				     "Exit status: 0, or 1 if any guest failed, was lost or is silent at the end,\n"
				     "2 if it could not start. The socket's protocol: docs/control-protocol.md.\n" };
	int r = cli_parse(&cmd, argc, argv, &nargs);

	if (r)
		return r > 0 ? 0 : 2;
	o = spawn_o;
	o.firmware = spawn_firmware == 1;
	o.park = (enum park_mode)spawn_park;
	if (o.resident && o.park == PARK_NEVER)
		return cli_error(&cmd, "--resident needs parking: --park auto or always");
	if (nargs == 0)
		return cli_error(&cmd, "the guest count N is missing");
	if (nargs > 1)
		return cli_error(&cmd, "one guest count N, not %d arguments", nargs);
	if (cli_u32("N (the guest count)", argv[0], 1, UINT32_MAX, &o.count, err, sizeof(err)) < 0)
		return cli_error(&cmd, "%s", err);
	if (o.count > UINT32_MAX - o.first_id) /* first_id + count must not wrap */
		return cli_error(&cmd, "--first-id %u leaves no room for %u guest ids", o.first_id, o.count);
	if (o.nguest == 0)
		o.guest[o.nguest++] = "mvm";
	return spawn_main(&o);
}

/* kvmlite run's options as a table, with their defaults, as spawn's. */
static struct run_opts run_o = { .boot_timeout = BOOT_TIMEOUT_S };
static int run_firmware = 1;

static const struct cli_opt run_table[] = {
	{ .name = "firmware",
	  .kind = CLI_CHOICE,
	  .dest = &run_firmware,
	  .arg = "pc|none",
	  .help = "pc (default): start in kvmlite's PC firmware;\n"
		  "none: directly at 0000:7c00, every device in its\nreset state",
	  .choices = firmware_choices },
	{ .name = "index",
	  .kind = CLI_U32,
	  .dest = &run_o.index,
	  .arg = "N",
	  .help = "the guest index passed in ESI (default 0)",
	  .min = 0,
	  .max = UINT32_MAX },
	{ .name = "trace", .kind = CLI_FLAG, .dest = &run_o.trace, .help = "print every exit, decoded, on stderr" },
	{ .name = "json",
	  .kind = CLI_FLAG,
	  .dest = &run_o.json,
	  .help = "at the end, the summary as one JSON object on stderr\n(docs/json.md)" },
	{ .name = "verbose",
	  .short_name = 'v',
	  .kind = CLI_FLAG,
	  .dest = &run_o.verbose,
	  .help = "say which KVM backend runs it, and what it did" },
	{ .name = "no-sandbox",
	  .kind = CLI_FLAG,
	  .dest = &run_o.no_sandbox,
	  .help = "no seccomp filter (debugging; docs/security.md)" },
	{ .name = "boot-timeout",
	  .kind = CLI_SECONDS,
	  .dest = &run_o.boot_timeout,
	  .arg = "S",
	  .help = "say on stderr what a guest does if it wrote nothing\n"
		  "in its first S seconds (default 5; 0: never)",
	  .min = 0,
	  .max = 86400 },
};

static int cmd_run(int argc, char **argv)
{
	static char description[768];
	const struct cli_cmd cmd = { "run",
				     "[options] IMAGE|NAME",
				     "one guest, its COM1 on this terminal",
				     description,
				     run_table,
				     (int)ARRAY_SIZE(run_table),
				     "On a terminal, Ctrl-A h lists the console's commands; Ctrl-A x quits.\n"
				     "Exit status: the debug exit's (v << 1) | 1; 0 when the guest halted for good\n"
				     "or Ctrl-A x quit; 2 kvmlite error, 4 triple fault, 6 reset requested, 8 KVM\n"
				     "entry failure, 10 KVM internal error, 12 other guest failure, 130 stopped\n"
				     "by a signal.\n" };
	int nargs, r;

	snprintf(description, sizeof(description),
		 "Runs one guest with COM1 on stdin and stdout. IMAGE is a boot sector, or a\n"
		 "raw disk image (up to 504 MiB) that boots from its first sector and is the\n"
		 "guest's hard disk (int 13h; writes stay in kvmlite); NAME a built-in guest:\n"
		 "  %s.\n",
		 loader_builtin_names());
	r = cli_parse(&cmd, argc, argv, &nargs);
	if (r)
		return r > 0 ? 0 : RUN_ERROR;
	run_o.firmware = run_firmware == 1;
	if (nargs == 0)
		return cli_error(&cmd, "IMAGE or NAME is missing");
	if (nargs > 1)
		return cli_error(&cmd, "one IMAGE or NAME, not %d arguments", nargs);
	run_o.image = argv[0];
	return run_guest(&run_o);
}

/* The commands in the order `kvmlite help` lists them. */
static const struct {
	const char *name, *summary;
} overview[] = {
	{ "run", "one guest, its COM1 on this terminal" },
	{ "spawn", "N guests, served on a control socket" },
	{ "send", "queue text for a guest's COM1" },
	{ "req", "send a request line to a guest, print the line it answers" },
	{ "console", "a guest's COM1 on this terminal" },
	{ "watch", "print a guest's output as it comes" },
	{ "read", "print what a guest wrote lately" },
	{ "info", "one guest's state and counters" },
	{ "list", "count the guests in each state, or list those in one" },
	{ "stats", "the spawn's counters: text, JSON or Prometheus" },
	{ "stop", "end one guest, or every guest and the spawn" },
	{ "help", "this overview, or a command's help" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: kvmlite COMMAND [options] [ARGS]\n"
		   "       kvmlite help [COMMAND]\n"
		   "       kvmlite --version\n\n"
		   "kvmlite runs tiny x86 guests (512-byte boot sectors) on /dev/kvm with\n"
		   "userspace devices, thousands at a time, and measures what each costs.\n\n"
		   "commands:\n");
	for (size_t i = 0; i < ARRAY_SIZE(overview); i++)
		fprintf(f, "  %-9s %s\n", overview[i].name, overview[i].summary);
	fprintf(f, "\nOptions may come anywhere before '--'. `kvmlite help COMMAND` (or\n"
		   "`kvmlite COMMAND --help`) describes a command and its options; the\n"
		   "manual page is kvmlite(1).\n");
}

static int dispatch(int argc, char **argv);

/* `kvmlite help [COMMAND]`: the overview, or the command's own --help. */
static int cmd_help(int argc, char **argv)
{
	char *help_argv[] = { argv[1], "--help", NULL };

	if (argc < 2 || !strcmp(argv[1], "help") || argv[1][0] == '-') {
		usage(stdout);
		return 0;
	}
	if (argc > 2) {
		fprintf(stderr, "kvmlite help: one COMMAND at most\n");
		return 2;
	}
	return dispatch(2, help_argv);
}

static int dispatch(int argc, char **argv)
{
	if (!strcmp(argv[0], "run"))
		return cmd_run(argc, argv);
	if (!strcmp(argv[0], "spawn"))
		return cmd_spawn(argc, argv);
	if (!strcmp(argv[0], "help"))
		return cmd_help(argc, argv);
	if (client_is_command(argv[0]))
		return client_main(argc, argv);
	fprintf(stderr, "kvmlite: unknown command '%s'; the commands are:", argv[0]);
	for (size_t i = 0; i < ARRAY_SIZE(overview); i++)
		fprintf(stderr, "%s %s", i ? "," : "", overview[i].name);
	fprintf(stderr, "\n");
	return 2;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("kvmlite %s\n", KVMLITE_VERSION);
		return 0;
	}
	return dispatch(argc - 1, argv + 1);
}
