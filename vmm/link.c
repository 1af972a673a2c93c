/* link.c - the supervisor's links to its shards: lines out through a growable buffer, reads and polls on its ring. */
#include <poll.h>
#include <stdlib.h>

#include "link.h"

/* An SQE from the supervisor's ring, submitting what is queued if it is full. */
struct io_uring_sqe *link_sqe(struct spawn *sv)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&sv->ring);

	if (!sqe) {
		io_uring_submit(&sv->ring);
		sqe = io_uring_get_sqe(&sv->ring);
	}
	return sqe;
}

/* ---- links to the shards ---- */

struct link *link_of(struct spawn *sv, u32 id)
{
	for (u32 i = 0; i < sv->nlinks; i++)
		if (id - sv->links[i].first < sv->links[i].count)
			return &sv->links[i];
	return NULL;
}

void link_arm(struct spawn *sv, struct link *l)
{
	u32 i = (u32)(l - sv->links);
	struct io_uring_sqe *sqe;

	if (l->dead)
		return;
	if (!l->read_busy) {
		sqe = link_sqe(sv);
		io_uring_prep_read(sqe, l->fd, l->rbuf, sizeof(l->rbuf), 0);
		io_uring_sqe_set_data64(sqe, UD(K_LINK_READ, 0, i));
		l->read_busy = true;
	}
	if (l->out.len && !outbuf_flush(l->fd, &l->out) && !l->poll_busy) {
		sqe = link_sqe(sv);
		io_uring_prep_poll_add(sqe, l->fd, POLLOUT);
		io_uring_sqe_set_data64(sqe, UD(K_LINK_POLL, 0, i));
		l->poll_busy = true;
	}
}

/*
 * A link's buffers grow with what clients ask and are answered (a `list`
 * of a big shard is one long line): what they hold counts in out_held,
 * against the clients' limit, and once empty they give back what a long
 * line made them take.
 */
void link_fit(struct spawn *sv, struct link *l)
{
	if (!l->lines.len && l->lines.cap > LINK_KEEP)
		line_buf_free(&l->lines);
	if (!l->out.len && l->out.cap > LINK_KEEP) {
		free(l->out.buf);
		l->out = (struct outbuf){ 0 };
	}
	sv->out_held -= l->held;
	l->held = l->lines.cap + l->out.cap;
	sv->out_held += l->held;
}

void link_send(struct spawn *sv, struct link *l, const char *line, size_t n)
{
	if (l->dead)
		return;
	outbuf_put(&l->out, line, n);
	link_arm(sv, l);
	link_fit(sv, l);
}

void link_request(struct spawn *sv, struct link *l, u32 tag, const char *request, size_t len)
{
	char line[PROTO_LINE_MAX + 64];

	link_send(sv, l, line, wire_request_format(line, sizeof(line), tag, request, len));
}

void link_control(struct spawn *sv, struct link *l, enum wire_control control, u32 id)
{
	char line[WIRE_LINE_MAX];

	link_send(sv, l, line, wire_control_format(line, sizeof(line), control, id));
}
