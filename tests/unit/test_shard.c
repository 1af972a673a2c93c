/* test_shard.c - a shard thread answers the supervisor's commands over its real socket and io_uring, at any size. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "unit.h"
#include "shard.h"

/*
 * A shard whose guests exist only as bookkeeping: created, in the states
 * the test gives them, none with a KVM VM (creation is over, so the shard
 * makes none). Its thread runs shard_main() as in a worker; the test is
 * the supervisor at the other end of the socket. Its buffer to the
 * supervisor ends at an inaccessible page: a write past it crashes the
 * test in any build, not only under the sanitizer.
 */
struct rig {
	struct shard s;
	struct spawn_opts o;
	int sv; /* the supervisor's end */
	pthread_t thread;
	char *fence; /* SHARD_WBUF_SIZE bytes, then a PROT_NONE page */
};

#define FENCE_LEN (SHARD_WBUF_SIZE + 4096)

static void rig_start(struct rig *r, u32 first, u32 count, bool (*halted)(u32 i))
{
	int sp[2];

	memset(r, 0, sizeof(*r));
	r->o = (struct spawn_opts){ .count = count, .park = PARK_NEVER, .no_sandbox = true, .cpu_max = 100 };
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
	r->sv = sp[0];
	assert_int_equal(shard_init(&r->s, 0, first, count, NULL, NULL, &r->o, sp[1], -1, count), 0);
	r->fence = mmap(NULL, FENCE_LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(r->fence != MAP_FAILED);
	assert_int_equal(mprotect(r->fence + SHARD_WBUF_SIZE, 4096, PROT_NONE), 0);
	free(r->s.to_sv.buf);
	r->s.to_sv.buf = r->fence;
	for (u32 i = 0; i < count; i++) {
		r->s.g[i].created = r->s.g[i].booted = true;
		r->s.g[i].vm.state = halted(i) ? VM_HALTED : VM_RUNNING;
	}
	r->s.created = count;
	assert_int_equal(pthread_create(&r->thread, NULL, shard_main, &r->s), 0);
}

/* Closing the socket ends the shard, as when the supervisor goes. */
static void rig_stop(struct rig *r)
{
	close(r->sv);
	assert_int_equal(pthread_join(r->thread, NULL), 0);
	close(r->s.sock);
	r->s.to_sv.buf = NULL;
	munmap(r->fence, FENCE_LEN);
	shard_free(&r->s);
}

/* The answer line to `tag` (the shard's own news, "@..." lines, skipped), without its "\n". */
static char *rig_answer(struct rig *r, u32 tag)
{
	size_t len = 0, cap = 1 << 16, start = 0;
	char *buf = malloc(cap), want[16];
	int wn = snprintf(want, sizeof(want), "%u ", tag);

	assert_non_null(buf);
	for (;;) {
		char *nl = memchr(buf + start, '\n', len - start);
		ssize_t n;

		if (nl) {
			*nl = '\0';
			if (strncmp(buf + start, want, (size_t)wn) == 0) {
				memmove(buf, buf + start, (size_t)(nl - buf) - start + 1);
				return buf;
			}
			start = (size_t)(nl + 1 - buf);
			continue;
		}
		if (len == cap) {
			buf = realloc(buf, cap *= 2);
			assert_non_null(buf);
		}
		n = read(r->sv, buf + len, cap - len);
		assert_true(n > 0); /* the shard must not hang up or die */
		len += (size_t)n;
	}
}

static bool two_of_three(u32 i)
{
	return i % 3 != 2;
}

/*
 * `list STATE` on a shard whose guests' states alternate is one range per
 * few guests. With ten-digit ids and two guests in three listed
 * ("4000000000-4000000001,"), it is longer than the shard's whole buffer
 * to the supervisor (SHARD_WBUF_SIZE): it must still arrive whole, and
 * nothing may be written past the buffer (the sanitizer build checks).
 */
static void test_a_list_answer_longer_than_the_send_buffer_arrives_whole(void **state)
{
	const u32 first = 4000000000u, count = SHARD_WBUF_SIZE / 7 + 1000;
	struct rig *r = malloc(sizeof(*r));
	char *want = malloc(24 * (size_t)(count / 3 + 1)), *got;
	size_t pos = 0;

	assert_non_null(r);
	assert_non_null(want);
	for (u32 i = 0; i < count; i += 3) /* guests 3k and 3k + 1 are halted */
		pos += (size_t)(i + 1 < count ? sprintf(want + pos, "%s%u-%u", i ? "," : "", first + i, first + i + 1)
					      : sprintf(want + pos, "%s%u", i ? "," : "", first + i));
	rig_start(r, first, count, two_of_three);
	assert_int_equal(write(r->sv, "7 list halted\n", 14), 14);
	got = rig_answer(r, 7);
	rig_stop(r);
	assert_true(pos > SHARD_WBUF_SIZE);
	assert_true(strncmp(got, "7 ok ", 5) == 0);
	assert_int_equal(strlen(got + 5), pos);
	assert_true(strcmp(got + 5, want) == 0);
	free(want);
	free(got);
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_list_answer_longer_than_the_send_buffer_arrives_whole),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
