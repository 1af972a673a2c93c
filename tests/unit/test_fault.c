/* test_fault.c - KVMLITE_FAULT: each point fails exactly as often as asked, also when several shard threads pass it at once. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit.h"
#include "fault.h"

#define THREADS 8
#define CALLS	20000

static pthread_barrier_t start;

/* One shard thread's share: how often each point said "fail here". */
static void *pass_points(void *arg)
{
	u32 *hits = arg;

	pthread_barrier_wait(&start); /* the first calls, which read the variable, at once */
	for (int i = 0; i < CALLS; i++) {
		hits[0] += fault_hit("resume", 7);
		hits[1] += fault_next("create_vm");
		hits[2] += fault_hit("resume", 8); /* no such fault */
	}
	return NULL;
}

/* In a child process of its own (the variable is read once per process): 0 if the counts were exact. */
static int one_round(void)
{
	pthread_t t[THREADS];
	u32 hits[THREADS][3] = { { 0 } }, sum[3] = { 0 };

	setenv("KVMLITE_FAULT", "resume:7:1000,create_vm:50:5000", 1);
	pthread_barrier_init(&start, NULL, THREADS);
	for (int i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, pass_points, hits[i]);
	for (int i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		for (int k = 0; k < 3; k++)
			sum[k] += hits[i][k];
	}
	return sum[0] == 1000 && sum[1] == 5000 && sum[2] == 0 ? 0 : 1;
}

static void test_points_passed_by_many_threads_at_once_fail_exactly_count_times(void **state)
{
	for (int round = 0; round < 20; round++) {
		pid_t pid = fork();
		int status;

		assert_true(pid >= 0);
		if (pid == 0)
			_exit(one_round());
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
}

static void test_without_the_variable_nothing_fails(void **state)
{
	unsetenv("KVMLITE_FAULT");
	for (int i = 0; i < 1000; i++) {
		assert_false(fault_hit("resume", 0));
		assert_false(fault_next("create_vm"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_points_passed_by_many_threads_at_once_fail_exactly_count_times),
		cmocka_unit_test(test_without_the_variable_nothing_fails),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
