/* client.h - the commands that talk to `kvmlite spawn` over its control socket (docs/control-protocol.md). */
#ifndef KVMLITE_CLIENT_H
#define KVMLITE_CLIENT_H

#include <stddef.h>
#include <stdio.h>

/*
 * Runs one client command: argv[0] is send, req, console, list, stats,
 * stop, info or read; options (--socket PATH, -n for send, --json for
 * stats) come before the other arguments. Returns the exit status:
 * 0 answered ok, 1 answered with an error (printed on stderr), 2 usage
 * error, no connection or a broken answer; console left by a signal:
 * 128 + its number.
 */
int client_main(int argc, char **argv);

/* The client commands' help text, for `kvmlite --help`. */
void client_usage(FILE *f);

/*
 * Writes the default control socket path: $XDG_RUNTIME_DIR/kvmlite/control
 * when that variable is an absolute path, else /run/kvmlite/control.
 * Returns 0, or -1 with errno ENAMETOOLONG when it does not fit in len.
 */
int control_default_path(char *buf, size_t len);

#endif
