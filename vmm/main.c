/* main.c - the kvmlite command line: parses options and hands over to a command. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loader.h"
#include "run.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: kvmlite run [options] IMAGE|NAME\n"
		"\n"
		"Runs one boot-sector guest on /dev/kvm with COM1 on this terminal.\n"
		"IMAGE is a 512-byte boot sector file; NAME a built-in guest: %s.\n"
		"\n"
		"  --firmware pc|none  start in kvmlite's PC firmware (default) or directly\n"
		"                      at 0000:7c00 with every device in its reset state\n"
		"  --index N           the guest index passed in ESI (default 0)\n"
		"  --trace             print every exit, decoded, on stderr\n"
		"  -v, --verbose       say which KVM backend runs it, and what it did\n"
		"\n"
		"Exit status: the debug exit's (v << 1) | 1; 0 when the guest halted for good;\n"
		"2 kvmlite error, 4 triple fault, 6 reset requested, 8 KVM entry failure,\n"
		"10 KVM internal error, 12 other guest failure, 130 interrupted.\n",
		loader_builtin_names());
}

static int cmd_run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "firmware", required_argument, NULL, 'f' }, { "index", required_argument, NULL, 'i' },
		{ "trace", no_argument, NULL, 't' },	      { "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },	      { 0 },
	};
	struct run_opts opts = { .firmware = true };
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
	fprintf(stderr, "kvmlite: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return RUN_ERROR;
}
