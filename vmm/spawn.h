/* spawn.h - `kvmlite spawn N`: the supervisor that shards guests over worker processes and serves the control socket.
 */
#ifndef KVMLITE_SPAWN_H
#define KVMLITE_SPAWN_H

#include "spawn_opts.h"

int spawn_main(const struct spawn_opts *o);

#endif
