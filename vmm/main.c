/* main.c - the kvmlite command line: parses options and hands over to a command. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "loader.h"
#include "run.h"
#include "spawn.h"
#include "vm.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: kvmlite run [options] IMAGE|NAME      one guest, COM1 on this terminal\n"
		"       kvmlite spawn N [options]             N guests, served on a control socket\n"
		"       kvmlite send|req|console|list|info|read|stats|stop ...   talk to a spawn\n"
		"\n"
		"IMAGE is a boot sector, or a raw disk image (up to 504 MiB) that boots from its\n"
		"first sector and is the guest's hard disk (int 13h; writes stay in kvmlite);\n"
		"NAME a built-in guest: %s.\n"
		"\n"
		"run options:\n"
		"  --firmware pc|none  start in kvmlite's PC firmware (default: a BIOS with\n"
		"                      int 10h-14h/16h/1Ah, in the guest's RAM) or\n"
		"                      directly at 0000:7c00 with every device in its reset state\n"
		"  --index N           the guest index passed in ESI (default 0)\n"
		"  --trace             print every exit, decoded, on stderr\n"
		"  -v, --verbose       say which KVM backend runs it, and what it did\n"
		"  --no-sandbox        no seccomp filter (for debugging; docs/security.md)\n"
		"  --boot-timeout S    say on stderr what a guest does if it wrote nothing in\n"
		"                      its first S seconds (default 5; 0: never)\n"
		"Exit status: the debug exit's (v << 1) | 1; 0 when the guest halted for good;\n"
		"2 kvmlite error, 4 triple fault, 6 reset requested, 8 KVM entry failure,\n"
		"10 KVM internal error, 12 other guest failure, 130 interrupted.\n"
		"\n"
		"spawn options:\n"
		"  --guest IMAGE|NAME[:COUNT]  the guest the VMs run (default mvm); repeat it to\n"
		"                      mix: the first COUNT ids boot the first image, and so on;\n"
		"                      guest i gets i in ESI\n"
		"  --per-process N     at most N guests per worker process (default: the limits)\n"
		"  --socket PATH       control socket (default $XDG_RUNTIME_DIR/kvmlite/control)\n"
		"  --for SECONDS       serve this long once all booted, then stop (0: stop at once);\n"
		"                      default: until Ctrl-C, SIGTERM or `kvmlite stop`\n"
		"  --workers K         worker processes (default: one per online CPU, more when\n"
		"                      RLIMIT_NOFILE or vm.max_map_count require)\n"
		"  --threads T         worker threads per process (default 1)\n"
		"  --mem-budget PCT    create no more guests once host memory in use reaches PCT (90)\n"
		"  --park auto|never|always  give idle guests' KVM VMs back and keep only their\n"
		"                      state: auto (default) once the budget or the host's PIDs or\n"
		"                      fds run short, least recently active first; always: every\n"
		"                      guest as soon as it halts; never: every guest stays live\n"
		"  --resident N        at most N guests on a KVM VM at once (default: what the\n"
		"                      host allows); the others are parked\n"
		"  --cpu-max PCT       no guest may use more than PCT%% of a CPU (default 20;\n"
		"                      100: no cap): one over its share waits for the next\n"
		"                      100 ms period, its timer interrupts coalescing meanwhile\n"
		"  --no-sandbox        no seccomp filters or io_uring restrictions (debugging)\n"
		"  --firmware pc|none  as for run (default pc); none saves each guest the\n"
		"                      firmware's 4 KiB of RAM and its run at boot\n"
		"  --json              the summary as one JSON object\n"
		"  --log FILE          append every guest's output lines to FILE, each prefixed\n"
		"                      with the guest's id (written in batches through io_uring)\n"
		"  --boot-timeout S    a guest that wrote nothing in its first S seconds is\n"
		"                      reported silent, with what it does (default 5; 0: never);\n"
		"                      --for 0 does not wait for it\n"
		"Exit status: 0, or 1 if any guest failed, was lost or is silent at the end, 2 if\n"
		"it could not start.\n"
		"See docs/control-protocol.md for the socket's protocol.\n",
		loader_builtin_names());
}

static int parse_u32(const char *opt, const char *s, u32 *out)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v > UINT32_MAX) {
		fprintf(stderr, "kvmlite: %s takes a number, not '%s'\n", opt, s);
		return -1;
	}
	*out = (u32)v;
	return 0;
}

static int parse_seconds(const char *opt, const char *s, double *out)
{
	char *end;

	*out = strtod(s, &end);
	if (*s == '\0' || *end != '\0' || *out < 0 || *out > 86400) {
		fprintf(stderr, "kvmlite: %s takes seconds, not '%s'\n", opt, s);
		return -1;
	}
	return 0;
}

static int cmd_spawn(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "guest", required_argument, NULL, 'g' },
		{ "socket", required_argument, NULL, 's' },
		{ "for", required_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },
		{ "workers", required_argument, NULL, 'w' },
		{ "mem-budget", required_argument, NULL, 'm' },
		{ "firmware", required_argument, NULL, 'F' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "per-process", required_argument, NULL, 'p' },
		{ "threads", required_argument, NULL, 't' },
		{ "log", required_argument, NULL, 'l' },
		{ "park", required_argument, NULL, 'P' },
		{ "resident", required_argument, NULL, 'R' },
		{ "no-sandbox", no_argument, NULL, 'N' },
		{ "cpu-max", required_argument, NULL, 'C' },
		{ "boot-timeout", required_argument, NULL, 'B' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	/* The firmware by default, as in run: a guest that uses the BIOS boots
	 * without being told. It lives in the guest's RAM slot (4 KiB of its
	 * RAM, no memslot of its own); --firmware none saves that and its run. */
	struct spawn_opts o = { .for_s = -1,
				.firmware = true,
				.mem_budget = 90,
				.park = PARK_AUTO,
				.cpu_max = 20,
				.boot_timeout = BOOT_TIMEOUT_S };
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'g': {
			/* NAME or NAME:COUNT; several in a row fill ids in order */
			char *colon = strrchr(optarg, ':');

			if (o.nguest == (int)ARRAY_SIZE(o.guest)) {
				fprintf(stderr, "kvmlite: at most %zu --guest options\n", ARRAY_SIZE(o.guest));
				return 2;
			}
			if (colon && colon[1] && strspn(colon + 1, "0123456789") == strlen(colon + 1)) {
				*colon = '\0';
				o.guest_count[o.nguest] = (u32)strtoul(colon + 1, NULL, 10);
			}
			o.guest[o.nguest++] = optarg;
			break;
		}
		case 'p':
			if (parse_u32("--per-process", optarg, &o.per_process) < 0 || o.per_process == 0)
				return 2;
			break;
		case 's':
			o.socket = optarg;
			break;
		case 'f':
			o.for_s = strtod(optarg, &end);
			if (*optarg == '\0' || *end != '\0' || o.for_s < 0) {
				fprintf(stderr, "kvmlite: --for takes seconds, not '%s'\n", optarg);
				return 2;
			}
			break;
		case 'j':
			o.json = true;
			break;
		case 'l':
			o.log = optarg;
			break;
		case 'w':
			if (parse_u32("--workers", optarg, &o.workers) < 0 || o.workers == 0 || o.workers > 4096)
				return 2;
			break;
		case 't':
			if (parse_u32("--threads", optarg, &o.threads) < 0 || o.threads == 0 || o.threads > 256)
				return 2;
			break;
		case 'm':
			if (parse_u32("--mem-budget", optarg, &o.mem_budget) < 0 || o.mem_budget == 0 || o.mem_budget > 99)
				return 2;
			break;
		case 'F':
			if (strcmp(optarg, "pc") != 0 && strcmp(optarg, "none") != 0) {
				fprintf(stderr, "kvmlite: --firmware takes 'pc' or 'none', not '%s'\n", optarg);
				return 2;
			}
			o.firmware = strcmp(optarg, "pc") == 0;
			break;
		case 'P':
			if (strcmp(optarg, "auto") == 0) {
				o.park = PARK_AUTO;
			} else if (strcmp(optarg, "never") == 0) {
				o.park = PARK_NEVER;
			} else if (strcmp(optarg, "always") == 0) {
				o.park = PARK_ALWAYS;
			} else {
				fprintf(stderr, "kvmlite: --park takes 'auto', 'never' or 'always', not '%s'\n", optarg);
				return 2;
			}
			break;
		case 'R':
			if (parse_u32("--resident", optarg, &o.resident) < 0 || o.resident == 0)
				return 2;
			break;
		case 'N':
			o.no_sandbox = true;
			break;
		case 'C':
			if (parse_u32("--cpu-max", optarg, &o.cpu_max) < 0 || o.cpu_max == 0 || o.cpu_max > 100) {
				fprintf(stderr, "kvmlite: --cpu-max takes a percentage from 1 to 100\n");
				return 2;
			}
			break;
		case 'B':
			if (parse_seconds("--boot-timeout", optarg, &o.boot_timeout) < 0)
				return 2;
			break;
		case 'v':
			o.verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (o.resident && o.park == PARK_NEVER) {
		fprintf(stderr, "kvmlite: --resident needs parking: --park auto or always\n");
		return 2;
	}
	if (optind != argc - 1 || parse_u32("spawn", argv[optind], &o.count) < 0 || o.count == 0) {
		fprintf(stderr, "kvmlite spawn: expected a guest count N > 0\n");
		return 2;
	}
	if (o.nguest == 0)
		o.guest[o.nguest++] = "mvm";
	return spawn_main(&o);
}

static int cmd_run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "firmware", required_argument, NULL, 'f' }, { "index", required_argument, NULL, 'i' },
		{ "trace", no_argument, NULL, 't' },	      { "verbose", no_argument, NULL, 'v' },
		{ "no-sandbox", no_argument, NULL, 'S' },     { "boot-timeout", required_argument, NULL, 'B' },
		{ "help", no_argument, NULL, 'h' },	      { 0 },
	};
	struct run_opts opts = { .firmware = true, .boot_timeout = BOOT_TIMEOUT_S };
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (strcmp(optarg, "pc") == 0) {
				opts.firmware = true;
			} else if (strcmp(optarg, "none") == 0) {
				opts.firmware = false;
			} else {
				fprintf(stderr, "kvmlite: --firmware takes 'pc' or 'none', not '%s'\n", optarg);
				return RUN_ERROR;
			}
			break;
		case 'i':
			opts.index = (u32)strtoul(optarg, &end, 0);
			if (*optarg == '\0' || *end != '\0') {
				fprintf(stderr, "kvmlite: --index takes a number, not '%s'\n", optarg);
				return RUN_ERROR;
			}
			break;
		case 't':
			opts.trace = true;
			break;
		case 'S':
			opts.no_sandbox = true;
			break;
		case 'B':
			if (parse_seconds("--boot-timeout", optarg, &opts.boot_timeout) < 0)
				return RUN_ERROR;
			break;
		case 'v':
			opts.verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return RUN_ERROR;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "kvmlite run: expected one IMAGE or NAME\n");
		usage(stderr);
		return RUN_ERROR;
	}
	opts.image = argv[optind];
	return run_guest(&opts);
}

int main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? RUN_ERROR : 0;
	}
	if (strcmp(argv[1], "run") == 0)
		return cmd_run(argc - 1, argv + 1);
	if (strcmp(argv[1], "spawn") == 0)
		return cmd_spawn(argc - 1, argv + 1);
	static const char *const clients[] = { "send", "req", "console", "list", "info", "read", "stats", "stop" };
	for (size_t i = 0; i < ARRAY_SIZE(clients); i++)
		if (strcmp(argv[1], clients[i]) == 0)
			return client_main(argc - 1, argv + 1);
	fprintf(stderr, "kvmlite: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return RUN_ERROR;
}
