/* control.h - the control socket's clients (control.c): their requests routed to shards, the answers back. */
#ifndef KVMLITE_CONTROL_H
#define KVMLITE_CONTROL_H

#include "supervisor.h"

void control_accept_arm(struct spawn *sv);
void control_accepted(struct spawn *sv, int fd);
/* An accept that failed with err: at the fd limit (EMFILE, ENFILE) the spare fd is closed, so that the next
 * accept gets a client to refuse ("too many connections"); true if it was there to spend. */
bool control_spare_spend(struct spawn *sv, int err);
void control_process(struct spawn *sv, struct conn *c);
void control_arm(struct spawn *sv, struct conn *c);
void control_polled(struct spawn *sv, struct conn *c, bool hup, int res);
void control_answer(struct spawn *sv, struct link *l, char *line, size_t len);
void control_watch_output(struct spawn *sv, u32 id, const char *data);
void control_metrics_request(struct spawn *sv);
/* For the front doors (frontdoor.c): a slot for a client, its requests down the same path, its own bytes, a hang-up. */
struct conn *control_conn_new(struct spawn *sv, int fd);
void control_request(struct spawn *sv, struct conn *c, char *line, size_t len);
void control_reply(struct spawn *sv, struct conn *c, const char *s, size_t n);
void control_drop(struct spawn *sv, struct conn *c);

#endif
