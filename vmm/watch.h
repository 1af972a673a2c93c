/* watch.h - `kvmlite watch` and `kvmlite console`: a guest's output as it comes; the console sends it the keys too. */
#ifndef KVMLITE_WATCH_H
#define KVMLITE_WATCH_H

#include "conn.h"

/*
 * `watch ID` was answered on c: output arrives as `out` lines; input (for
 * the console, not `kvmlite watch`) goes out as `send` requests on the
 * same connection, one at a time, so that a pipe is read no faster than
 * the spawn takes it. Signals are read from a signalfd like input (raw
 * mode turns Ctrl-C into a byte for the guest), so every way out passes
 * the terminal's restore. Watching ends when the spawn closes the
 * connection. Returns the exit status: 0, 1 or 2 as client_main's, or
 * 128 + a signal's number.
 */
int watch_run(struct conn *c, const char *id, bool input);

#endif
