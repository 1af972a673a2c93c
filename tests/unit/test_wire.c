/* test_wire.c - every line between a shard and its supervisor round-trips through its formatter and its parser. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "proto.h"
#include "wire.h"

/* A formatted line, without its newline, as the supervisor's line_buf hands it on. */
static const char *chomp(char *line, size_t n)
{
	assert_true(n > 0 && n < WIRE_LINE_MAX);
	assert_int_equal(line[n - 1], '\n');
	line[n - 1] = '\0';
	return line;
}

static void test_created_round_trips_every_number(void **state)
{
	struct wire_created c = { .created = 4000000000u,
				  .parked = 7,
				  .parked_bytes = 1ull << 40,
				  .spare = 32,
				  .staged = 3,
				  .created_staged = UINT64_MAX,
				  .templates = 2,
				  .template_bytes = 1ull << 33 };
	struct wire_event e;
	char line[WIRE_LINE_MAX];

	for (int k = 0; k < NSTAGES; k++)
		c.stage_ns[k] = 1000003ull * (u64)(k + 1);
	wire_event_parse(chomp(line, wire_created_format(line, sizeof(line), &c)), &e);
	assert_int_equal(e.kind, WIRE_CREATED);
	assert_memory_equal(&e.created, &c, sizeof(c));
}

static void test_guest_events_round_trip(void **state)
{
	char line[WIRE_LINE_MAX];
	struct wire_event e;

	wire_event_parse(chomp(line, wire_boot_format(line, sizeof(line), 17, 123456789012345ull)), &e);
	assert_int_equal(e.kind, WIRE_BOOT);
	assert_int_equal(e.id, 17);
	assert_int_equal(e.ns, 123456789012345ull);

	wire_event_parse(chomp(line, wire_silent_format(line, sizeof(line), 5, "halted at 0000:7c05")), &e);
	assert_int_equal(e.kind, WIRE_SILENT);
	assert_int_equal(e.id, 5);
	assert_string_equal(e.text, "halted at 0000:7c05");

	wire_event_parse(chomp(line, wire_end_format(line, sizeof(line), 9, "failed", "triple fault at 0008:7c4d")),
			 &e);
	assert_int_equal(e.kind, WIRE_END);
	assert_int_equal(e.id, 9);
	assert_true(e.failed);
	assert_string_equal(e.text, "triple fault at 0008:7c4d");

	wire_event_parse(
		chomp(line, wire_end_format(line, sizeof(line), 10, "ended", "guest halted with interrupts off")), &e);
	assert_int_equal(e.kind, WIRE_END);
	assert_false(e.failed);
	assert_string_equal(e.text, "guest halted with interrupts off");

	wire_event_parse(chomp(line, wire_resume_failed_format(line, sizeof(line), 3, "resume: ENOMEM")), &e);
	assert_int_equal(e.kind, WIRE_RESUME_FAILED);
	assert_int_equal(e.id, 3);
	assert_string_equal(e.text, "resume: ENOMEM");

	wire_event_parse(chomp(line, wire_fatal_format(line, sizeof(line), "shard 2: timer_create: EAGAIN")), &e);
	assert_int_equal(e.kind, WIRE_FATAL);
	assert_string_equal(e.text, "shard 2: timer_create: EAGAIN");
}

static void test_out_carries_its_data_after_the_head(void **state)
{
	char line[WIRE_LINE_MAX];
	size_t n = wire_out_head_format(line, sizeof(line), 42);
	struct wire_event e;

	snprintf(line + n, sizeof(line) - n, "hello world");
	wire_event_parse(line, &e);
	assert_int_equal(e.kind, WIRE_OUT);
	assert_int_equal(e.id, 42);
	assert_string_equal(e.text, "hello world");
}

static void test_answers_and_unknown_events_are_not_events(void **state)
{
	struct wire_event e;
	const char *rest;
	u32 tag;

	wire_event_parse("12 ok 1-5", &e);
	assert_int_equal(e.kind, WIRE_NOT_EVENT);
	wire_event_parse("@later 1 2", &e);
	assert_int_equal(e.kind, WIRE_UNKNOWN);
	assert_true(wire_answer_parse("12 ok 1-5", &tag, &rest));
	assert_int_equal(tag, 12);
	assert_string_equal(rest, "ok 1-5");
	assert_false(wire_answer_parse("12", &tag, &rest));
}

/* Every key of the list is written and summed: each gets its own value, and no key is read as another. */
static void test_stats_round_trip_every_key(void **state)
{
	struct wire_stats st;
	u64 v[WIRE_NSTATS], sums[WIRE_NSTATS] = { 0 };
	char line[2 * WIRE_LINE_MAX];
	const char *rest;
	size_t n, keys = 0;
	u32 tag;

	for (size_t k = 0; k < WIRE_NSTATS; k++)
		v[k] = 1000 * (k + 1) + k;
	memcpy(&st, v, sizeof(st));
	n = wire_stats_format(line, sizeof(line), 77, &st);
	assert_true(n < sizeof(line) - 1);
	line[n - 1] = '\0';
	for (const char *p = line; (p = strchr(p, '=')); p++)
		keys++;
	assert_int_equal(keys, WIRE_NSTATS);
	assert_true(wire_answer_parse(line, &tag, &rest));
	assert_int_equal(tag, 77);
	wire_sums_add(rest, wire_stat_names, WIRE_NSTATS, sums);
	wire_sums_add(rest, wire_stat_names, WIRE_NSTATS, sums);
	for (size_t k = 0; k < WIRE_NSTATS; k++)
		assert_int_equal(sums[k], 2 * v[k]);
	assert_string_equal(wire_stat_names[0], "exits");
	assert_string_equal(wire_stat_names[WIRE_NSTATS - 1], "throttles");
}

static void test_counts_round_trip_and_errors_add_nothing(void **state)
{
	u64 counts[WIRE_NCOUNTS] = { 1, 2, 3, 4, 5, 6 }, sums[WIRE_NCOUNTS] = { 0 };
	char line[WIRE_LINE_MAX];
	const char *rest;
	u32 tag;

	chomp(line, wire_counts_format(line, sizeof(line), 5, counts, 9));
	assert_string_equal(line, "5 ok running=1 halted=2 parked=3 ended=4 failed=5 silent=6 lost=0 booted=9");
	assert_true(wire_answer_parse(line, &tag, &rest));
	wire_sums_add(rest, wire_count_names, WIRE_NCOUNTS, sums);
	wire_sums_add("error guest lost running=100", wire_count_names, WIRE_NCOUNTS, sums);
	assert_memory_equal(sums, counts, sizeof(sums));
}

static void test_commands_round_trip(void **state)
{
	char line[WIRE_LINE_MAX];
	struct wire_command c;
	size_t n;

	n = wire_request_format(line, sizeof(line), 31, "input 5 abc", 11);
	wire_command_parse(chomp(line, n), n - 1, &c);
	assert_int_equal(c.control, WIRE_REQUEST);
	assert_int_equal(c.tag, 31);
	assert_int_equal(c.len, 11);
	assert_memory_equal(c.request, "input 5 abc", 11);

	n = wire_control_format(line, sizeof(line), WIRE_NOCREATE, 0);
	wire_command_parse(chomp(line, n), n - 1, &c);
	assert_int_equal(c.control, WIRE_NOCREATE);
	n = wire_control_format(line, sizeof(line), WIRE_HOLD, 0);
	wire_command_parse(chomp(line, n), n - 1, &c);
	assert_int_equal(c.control, WIRE_HOLD);
	n = wire_control_format(line, sizeof(line), WIRE_UNWATCH, 4000000000u);
	wire_command_parse(chomp(line, n), n - 1, &c);
	assert_int_equal(c.control, WIRE_UNWATCH);
	assert_int_equal(c.id, 4000000000u);

	wire_command_parse("nocreate", 8, &c);
	assert_int_equal(c.control, WIRE_MALFORMED);
}

static void test_stage_names_are_the_summary_keys(void **state)
{
	static const char *const want[NSTAGES] = { "create_vm", "create_vcpu", "load",	    "set_memory",
						   "set_regs",	"firmware",    "first_byte" };

	for (int k = 0; k < NSTAGES; k++)
		assert_string_equal(wire_stage_names[k], want[k]);
}

/* The range encoder, streamed: ids shifted by the base, commas between. */
struct collect {
	const char *in;
	char out[128];
	size_t len, calls;
};

static bool collect_in(void *ctx, u32 i)
{
	return ((struct collect *)ctx)->in[i] == '1';
}

static void collect_out(void *ctx, const char *s, size_t n)
{
	struct collect *c = ctx;

	memcpy(c->out + c->len, s, n);
	c->len += n;
	c->calls++;
}

static void test_ranges_write_streams_each_range_with_the_base(void **state)
{
	struct collect c = { .in = "1101110001" };

	assert_int_equal(proto_ranges_write(10, 100, collect_in, collect_out, &c), strlen("100-101,103-105,109"));
	assert_string_equal(c.out, "100-101,103-105,109");
	assert_int_equal(c.calls, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_created_round_trips_every_number),
		cmocka_unit_test(test_guest_events_round_trip),
		cmocka_unit_test(test_out_carries_its_data_after_the_head),
		cmocka_unit_test(test_answers_and_unknown_events_are_not_events),
		cmocka_unit_test(test_stats_round_trip_every_key),
		cmocka_unit_test(test_counts_round_trip_and_errors_add_nothing),
		cmocka_unit_test(test_commands_round_trip),
		cmocka_unit_test(test_stage_names_are_the_summary_keys),
		cmocka_unit_test(test_ranges_write_streams_each_range_with_the_base),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
