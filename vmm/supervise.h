/* supervise.h - the supervisor's loop (supervise.c): the shards' news, clients, signals and its tick, on one io_uring.
 */
#ifndef KVMLITE_SUPERVISE_H
#define KVMLITE_SUPERVISE_H

#include "supervisor.h"

/* Queues the first reads: every link, the control socket, signals and the tick. */
void supervise_arm(struct spawn *sv);
/* Runs the loop until the spawn stops (--for, a signal, a `stop`), then answers the clients waiting. */
void supervise_run(struct spawn *sv);

#endif
