/* test_delta.c - the delta codec parked guests are kept in: equal bytes cost nothing, every buffer comes back exact. */
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "delta.h"

#define PAGE 4096

static u8 cur[PAGE], base[PAGE], back[PAGE], enc[2 * PAGE];

/* Encodes cur against b (NULL: zeros), checks it decodes to cur, returns its length. */
static size_t round_trip(const u8 *b, size_t len)
{
	ssize_t n = delta_encode(cur, b, len, enc, sizeof(enc));

	assert_true(n >= 0);
	memset(back, 0xee, sizeof(back));
	assert_int_equal(delta_decode(enc, (size_t)n, b, back, len), 0);
	assert_memory_equal(back, cur, len);
	return (size_t)n;
}

static void test_equal_buffer_encodes_to_nothing(void **state)
{
	memset(base, 0x5a, PAGE);
	memcpy(cur, base, PAGE);
	assert_int_equal(round_trip(base, PAGE), 0);
	memset(cur, 0, PAGE);
	assert_int_equal(round_trip(NULL, PAGE), 0); /* all zero against the zero page */
}

static void test_zero_buffer_against_a_template_is_the_template(void **state)
{
	for (int i = 0; i < PAGE; i++)
		base[i] = (u8)(i * 7 + 1);
	memset(cur, 0, PAGE);
	assert_in_range(round_trip(base, PAGE), PAGE, PAGE + 8);
}

static void test_all_different_is_the_bytes_and_two_counts(void **state)
{
	for (int i = 0; i < PAGE; i++) {
		base[i] = (u8)i;
		cur[i] = (u8)~i;
	}
	/* one pair: skip 0 (1 byte), count 4096 (2 bytes), the bytes */
	assert_int_equal(round_trip(base, PAGE), PAGE + 3);
	/* and no room for it: refused, not truncated */
	assert_int_equal(delta_encode(cur, base, PAGE, enc, PAGE + 2), -1);
	assert_int_equal(delta_encode(cur, base, PAGE, enc, PAGE), -1);
	assert_int_equal(delta_encode(cur, base, PAGE, enc, PAGE + 3), PAGE + 3);
}

static void test_runs_at_the_page_ends(void **state)
{
	memset(base, 0, PAGE);
	memset(cur, 0, PAGE);
	cur[0] = 1;
	cur[PAGE - 1] = 2;
	/* 0 1 <1>, then skip 4094 (2 bytes) 1 <2> */
	assert_int_equal(round_trip(base, PAGE), 3 + 4);
	assert_int_equal(round_trip(NULL, PAGE), 3 + 4);
	cur[0] = 0; /* only the last byte */
	assert_int_equal(round_trip(NULL, PAGE), 4);
	cur[PAGE - 1] = 0;
	cur[0] = 9; /* only the first: what follows is equal, and free */
	assert_int_equal(round_trip(NULL, PAGE), 3);
}

static void test_short_equal_gaps_stay_in_one_pair(void **state)
{
	memset(base, 0, PAGE);
	memset(cur, 0, PAGE);
	cur[100] = 1;
	cur[102] = 2; /* a gap of 1 */
	cur[105] = 3; /* a gap of 2 */
	assert_int_equal(round_trip(NULL, PAGE), 1 + 1 + 6);
	cur[109] = 4; /* a gap of 3: a pair of its own */
	assert_int_equal(round_trip(NULL, PAGE), 1 + 1 + 6 + 2 + 1);
}

static void test_random_buffers_round_trip(void **state)
{
	srand(19);
	for (int round = 0; round < 2000; round++) {
		size_t len = 1 + (size_t)rand() % PAGE;
		int kind = round % 4;

		for (size_t i = 0; i < len; i++)
			base[i] = (u8)rand();
		memcpy(cur, base, len);
		for (int k = rand() % (kind == 3 ? (int)len : 40); k > 0; k--)
			cur[rand() % len] = (u8)rand(); /* sparse or dense changes (some to the same value) */
		if (kind == 1)				/* a run of zeros against no base */
			memset(cur + rand() % len / 2, 0, len / 3);
		size_t n = round_trip(kind == 1 ? NULL : base, len);

		if (kind == 0)
			assert_true(n <= 40 * 4);
	}
}

static void test_a_bad_encoding_is_refused(void **state)
{
	static const u8 truncated_num[] = { 0x80 };
	static const u8 past_the_end[] = { 0x80, 0x20, 0x01, 0xff };  /* skip 4096 then a byte */
	static const u8 missing_bytes[] = { 0x00, 0x05, 0x01, 0x02 }; /* 5 bytes announced, 2 there */
	static const u8 huge_count[] = { 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f };
	static const u8 endless_num[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

	assert_int_equal(delta_decode(truncated_num, sizeof(truncated_num), NULL, back, PAGE), -1);
	assert_int_equal(delta_decode(past_the_end, sizeof(past_the_end), NULL, back, PAGE), -1);
	assert_int_equal(delta_decode(missing_bytes, sizeof(missing_bytes), NULL, back, PAGE), -1);
	assert_int_equal(delta_decode(huge_count, sizeof(huge_count), NULL, back, PAGE), -1);
	assert_int_equal(delta_decode(endless_num, sizeof(endless_num), NULL, back, PAGE), -1);
	/* the last byte of the buffer, exactly: accepted */
	static const u8 last[] = { 0xff, 0x1f, 0x01, 0x42 };
	assert_int_equal(delta_decode(last, sizeof(last), NULL, back, PAGE), 0);
	assert_int_equal(back[PAGE - 1], 0x42);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_equal_buffer_encodes_to_nothing),
		cmocka_unit_test(test_zero_buffer_against_a_template_is_the_template),
		cmocka_unit_test(test_all_different_is_the_bytes_and_two_counts),
		cmocka_unit_test(test_runs_at_the_page_ends),
		cmocka_unit_test(test_short_equal_gaps_stay_in_one_pair),
		cmocka_unit_test(test_random_buffers_round_trip),
		cmocka_unit_test(test_a_bad_encoding_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
