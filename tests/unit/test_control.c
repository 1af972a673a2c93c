/* test_control.c - the supervisor's bookkeeping of its clients: what an io_uring completion says about whom it is for. */
#include "unit.h"
#include "supervisor.h"

/*
 * A completion names the connection slot and the generation of the
 * connection in it: one for an earlier connection in the same slot is
 * dropped. The generation counts every connection a slot ever had, a
 * 32-bit number: after 2^24 of them it must still match (when only 24
 * bits of it were kept, no completion matched again and the slot was lost).
 */
static void test_user_data_keeps_the_whole_generation_of_a_connection(void **state)
{
	static const u32 gens[] = { 0, 1, 0xffffff, 0x1000000, 0x12345678, 0xffffffff };
	static const u32 idxs[] = { 0, 1, MAX_CONNS - 1, MAX_LINKS - 1 };

	for (size_t g = 0; g < ARRAY_SIZE(gens); g++) {
		for (size_t i = 0; i < ARRAY_SIZE(idxs); i++) {
			for (int kind = K_ACCEPT; kind <= K_ACCEPT_WAIT; kind++) {
				u64 ud = UD(kind, gens[g], idxs[i]);

				assert_int_equal(UD_KIND(ud), kind);
				assert_int_equal(UD_GEN(ud), gens[g]);
				assert_int_equal(UD_IDX(ud), idxs[i]);
			}
			/* the generation after the last wraps to 0, and a stale one does not match it */
			assert_int_not_equal(UD_GEN(UD(K_CONN_READ, gens[g], idxs[i])), gens[g] + 1);
		}
	}
	/* a link's write poll, the last kind, fits the kind's byte too */
	assert_int_equal(UD_KIND(UD(K_LINK_POLL, 0, MAX_LINKS - 1)), K_LINK_POLL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_user_data_keeps_the_whole_generation_of_a_connection),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
