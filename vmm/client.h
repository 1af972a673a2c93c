/* client.h - the commands that talk to `kvmlite spawn` over its control socket (docs/control-protocol.md). */
#ifndef KVMLITE_CLIENT_H
#define KVMLITE_CLIENT_H

#include <stddef.h>

#include "types.h"

/*
 * Runs one client command: argv[0] is send, req, console, watch, list,
 * stats, stop, info or read; options (--socket PATH, -n for send, --json
 * for list, info and stats, --prometheus for stats) may come anywhere
 * before "--" (cli.h). Returns the exit status: 0 answered ok, 1 answered
 * with an error (printed on stderr), 2 usage error, no connection or a
 * broken answer; console or watch left by a signal: 128 + its number.
 */
int client_main(int argc, char **argv);

/* Is name one of the client commands? */
bool client_is_command(const char *name);

/*
 * Writes the default control socket path: $XDG_RUNTIME_DIR/kvmlite/control
 * when that variable is an absolute path, else /run/kvmlite/control.
 * Returns 0, or -1 with errno ENAMETOOLONG when it does not fit in len.
 */
int control_default_path(char *buf, size_t len);

#endif
