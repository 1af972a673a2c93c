/* test_console.c - a guest's console as a shard keeps it, caught through the sendbufs it writes: the ring, requests,
 * --log, watchers, input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "console.h"

/* A sendbuf with no ring: what is written gathers in it, to be read back. */
struct sink {
	struct sendbuf b;
	char buf[4 * GUEST_OUT_SIZE];
};

static void sink_init(struct sink *k, int fd)
{
	memset(k, 0, sizeof(*k));
	k->b = (struct sendbuf){ .fd = fd, .buf = k->buf, .cap = sizeof(k->buf) };
}

/* What was written since the last call, as a string. */
static const char *sink_take(struct sink *k)
{
	static char text[sizeof(k->buf) + 1];

	memcpy(text, k->buf, k->b.len);
	text[k->b.len] = '\0';
	k->b.len = 0;
	return text;
}

struct rig {
	struct console c;
	u8 *ring;
	struct sink to, log;
};

static struct rig *rig_new(void)
{
	struct rig *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	r->ring = calloc(1, GUEST_OUT_SIZE);
	assert_non_null(r->ring);
	console_init(&r->c);
	r->c.out = r->ring;
	sink_init(&r->to, -1);
	sink_init(&r->log, 99); /* "a log": never written, there is no ring to write through */
	return r;
}

static void rig_free(struct rig *r)
{
	console_free(&r->c);
	free(r->ring);
	free(r);
}

/* The guest writes text, as guest_output() hands it each byte. */
static void guest_writes(struct rig *r, const char *text, u32 id)
{
	for (; *text; text++)
		if (console_put(&r->c, (u8)*text))
			console_line_end(&r->c, &r->to.b, &r->log.b, id);
}

static void test_read_back_across_the_wrap(void **state)
{
	struct rig *r = rig_new();
	char *big = malloc(GUEST_OUT_SIZE + 101);

	for (int i = 0; i < GUEST_OUT_SIZE + 100; i++)
		big[i] = (char)('a' + i % 26);
	big[GUEST_OUT_SIZE + 100] = '\0';
	guest_writes(r, big, 1);
	assert_int_equal(console_oldest(&r->c), 100);
	/* from before the oldest byte kept: 100 dropped, the rest in order across the wrap */
	console_send_read(&r->c, &r->to.b, 7, true, 0);
	const char *got = sink_take(&r->to);
	char want[64];

	snprintf(want, sizeof(want), "7 ok %u 100 ", GUEST_OUT_SIZE + 100);
	assert_memory_equal(got, want, strlen(want));
	assert_memory_equal(got + strlen(want), big + 100, GUEST_OUT_SIZE);
	assert_string_equal(got + strlen(want) + GUEST_OUT_SIZE, "\n");
	free(big);
	rig_free(r);
}

static void test_parked_output_reads_from_the_record_and_comes_back(void **state)
{
	struct rig *r = rig_new();
	u8 kept[GUEST_OUT_SIZE];
	u32 n;

	for (int i = 0; i < 5000; i++) /* the ring wraps: kept bytes start mid-ring */
		console_put(&r->c, (u8)('0' + i % 10));
	guest_writes(r, "tail", 1);
	n = console_copy_kept(&r->c, kept);
	assert_int_equal(n, GUEST_OUT_SIZE);
	assert_ptr_equal(console_park(&r->c, kept, console_oldest(&r->c)), r->ring);
	memset(r->ring, 'X', GUEST_OUT_SIZE); /* the page goes to another guest */
	console_send_read(&r->c, &r->to.b, 3, true, 5000);
	assert_string_equal(sink_take(&r->to), "3 ok 5004 0 tail\n");
	console_unpark(&r->c, r->ring);
	console_send_read(&r->c, &r->to.b, 4, true, 4998);
	assert_string_equal(sink_take(&r->to), "4 ok 5004 0 89tail\n");
	rig_free(r);
}

static void test_request_answered_by_the_next_line(void **state)
{
	struct rig *r = rig_new();

	guest_writes(r, "before\r\n", 5);
	console_request(&r->c, 42, 1000);
	guest_writes(r, "pong \x01", 5);
	assert_string_equal(sink_take(&r->to), ""); /* not before the line ends */
	guest_writes(r, "\r\nlater\n", 5);
	assert_string_equal(sink_take(&r->to), "42 ok pong \\x01\n"); /* escaped, its \r left out */
	assert_int_equal(r->c.req_deadline, UINT64_MAX);
	/* a request that gets no line fails once, and only while pending */
	console_request(&r->c, 43, 1000);
	console_request_fail(&r->c, &r->to.b, "timeout");
	console_request_fail(&r->c, &r->to.b, "guest not running");
	assert_string_equal(sink_take(&r->to), "43 error timeout\n");
	rig_free(r);
}

static void test_log_lines_raw_with_the_id(void **state)
{
	struct rig *r = rig_new();

	guest_writes(r, "one\ntw", 9);
	assert_string_equal(sink_take(&r->log), "9 one\n");
	console_log_line(&r->c, &r->log.b, 9, true); /* its last words, ended */
	assert_string_equal(sink_take(&r->log), "9 tw\n");
	r->log.b.fd = -1; /* no log: nothing written */
	guest_writes(r, "three\n", 9);
	assert_string_equal(sink_take(&r->log), "");
	rig_free(r);
}

static void test_watchers_get_what_is_new(void **state)
{
	struct rig *r = rig_new();

	guest_writes(r, "old", 2);
	console_send_watched(&r->c, &r->to.b, 2);
	assert_string_equal(sink_take(&r->to), ""); /* not watched */
	r->c.watched = true;
	r->c.watch_pos = r->c.out_total;
	guest_writes(r, "new\n", 2);
	console_send_watched(&r->c, &r->to.b, 2);
	assert_string_equal(sink_take(&r->to), "@out 2 new\\n\n");
	console_send_watched(&r->c, &r->to.b, 2);
	assert_string_equal(sink_take(&r->to), ""); /* nothing new */
	rig_free(r);
}

static void test_input_waits_for_the_uart(void **state)
{
	struct rig *r = rig_new();
	struct uart u;
	u8 many[GUEST_IN_SIZE];

	memset(&u, 0, sizeof(u));
	uart_init(&u, (struct irq_line){ 0 }, NULL, NULL);
	assert_true(console_queue_input(&r->c, (const u8 *)"ab", 2, &u));
	assert_int_equal(u.stats.rx_bytes, 1); /* FIFOs off: RBR holds one, the rest waits */
	assert_int_equal(r->c.in_len - r->c.in_pos, 1);
	memset(many, 'x', sizeof(many));
	assert_false(console_queue_input(&r->c, many, sizeof(many), &u)); /* no room: refused whole */
	assert_int_equal(r->c.in_len - r->c.in_pos, 1);
	rig_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_back_across_the_wrap),
		cmocka_unit_test(test_parked_output_reads_from_the_record_and_comes_back),
		cmocka_unit_test(test_request_answered_by_the_next_line),
		cmocka_unit_test(test_log_lines_raw_with_the_id),
		cmocka_unit_test(test_watchers_get_what_is_new),
		cmocka_unit_test(test_input_waits_for_the_uart),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
