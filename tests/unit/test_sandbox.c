/* test_sandbox.c - each role's seccomp filter kills what the role must not do and lets through what it needs; rings refuse other operations. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "unit.h"
#include "sandbox.h"

enum { DO_NOTHING, DO_SOCKET, DO_EXEC_MAP, DO_OPEN_WRITE, DO_OPEN_PROC, DO_TTY_IOCTL, DO_FORK, DO_STDERR };

/* Runs `what` in a child under `role`'s filter: its wait status. */
static int run_in_role(enum sandbox_role role, int what)
{
	pid_t pid;
	int status;

	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char err[256];
		struct timespec ts;
		struct winsize ws;

		if (sandbox_enter(role, err, sizeof(err)) < 0)
			_exit(100);
		clock_gettime(CLOCK_MONOTONIC, &ts); /* every role keeps time */
		switch (what) {
		case DO_SOCKET:
			socket(AF_INET, SOCK_STREAM, 0);
			break;
		case DO_EXEC_MAP:
			mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			break;
		case DO_OPEN_WRITE:
			open("/dev/null", O_WRONLY);
			break;
		case DO_OPEN_PROC:
			close(open("/proc/self/status", O_RDONLY));
			break;
		case DO_TTY_IOCTL:
			ioctl(STDIN_FILENO, TIOCGWINSZ, &ws);
			break;
		case DO_FORK:
			if (fork() == 0)
				_exit(0);
			break;
		case DO_STDERR:
			if (write(STDERR_FILENO, "", 0) < 0)
				_exit(101);
			break;
		}
		/* plain exit_group: a sanitizer build's atexit checks are the
		 * sanitizer's business, not this test's */
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static bool killed_by_sigsys(int status)
{
	return WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS;
}

static bool exited_0(int status)
{
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void test_every_role_survives_what_it_needs(void **state)
{
	for (int r = 0; r < SANDBOX_ROLES; r++) {
		assert_true(exited_0(run_in_role((enum sandbox_role)r, DO_NOTHING)));
		assert_true(exited_0(run_in_role((enum sandbox_role)r, DO_STDERR)));
	}
	assert_true(exited_0(run_in_role(SANDBOX_SUPERVISOR, DO_OPEN_PROC)));
}

static void test_no_role_may_open_a_socket(void **state)
{
	for (int r = 0; r < SANDBOX_ROLES; r++)
		assert_true(killed_by_sigsys(run_in_role((enum sandbox_role)r, DO_SOCKET)));
}

static void test_no_role_may_map_executable_memory(void **state)
{
	for (int r = 0; r < SANDBOX_ROLES; r++)
		assert_true(killed_by_sigsys(run_in_role((enum sandbox_role)r, DO_EXEC_MAP)));
}

static void test_no_role_may_start_a_process(void **state)
{
#if defined(__SANITIZE_ADDRESS__)
	skip(); /* LeakSanitizer needs clone: sanitizer builds allow it (sandbox.c) */
#endif
	for (int r = 0; r < SANDBOX_ROLES; r++)
		assert_true(killed_by_sigsys(run_in_role((enum sandbox_role)r, DO_FORK)));
}

static void test_only_the_supervisor_opens_files_and_only_to_read(void **state)
{
	assert_true(killed_by_sigsys(run_in_role(SANDBOX_SUPERVISOR, DO_OPEN_WRITE)));
#if defined(__SANITIZE_ADDRESS__)
	skip(); /* LeakSanitizer reads /proc: sanitizer builds let every role open to read */
#endif
	assert_true(killed_by_sigsys(run_in_role(SANDBOX_SHARD, DO_OPEN_PROC)));
	assert_true(killed_by_sigsys(run_in_role(SANDBOX_RUN, DO_OPEN_PROC)));
	assert_true(killed_by_sigsys(run_in_role(SANDBOX_WORKER, DO_OPEN_PROC)));
}

static void test_guest_threads_may_issue_only_kvm_ioctls(void **state)
{
	assert_true(killed_by_sigsys(run_in_role(SANDBOX_SHARD, DO_TTY_IOCTL)));
	assert_true(killed_by_sigsys(run_in_role(SANDBOX_RUN, DO_TTY_IOCTL)));
}

/* Submits one operation and returns its completion's result. */
static int ring_try(struct io_uring *ring, int op, int fd, void *buf)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	struct io_uring_cqe *cqe;
	int res;

	assert_non_null(sqe);
	if (op == IORING_OP_OPENAT)
		io_uring_prep_openat(sqe, AT_FDCWD, "/dev/null", O_RDONLY, 0);
	else
		io_uring_prep_read(sqe, fd, buf, 1, 0);
	assert_int_equal(io_uring_submit(ring), 1);
	assert_int_equal(io_uring_wait_cqe(ring, &cqe), 0);
	res = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return res;
}

static void test_a_shard_ring_refuses_operations_it_does_not_use(void **state)
{
	struct io_uring ring;
	int p[2], fd;
	char c;

	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], "x", 1), 1);
	assert_int_equal(sandbox_ring_init(&ring, 8, SANDBOX_SHARD, true), 0);
	assert_int_equal(ring_try(&ring, IORING_OP_READ, p[0], &c), 1);
	assert_int_equal(ring_try(&ring, IORING_OP_OPENAT, -1, NULL), -EACCES);
	io_uring_queue_exit(&ring);
	/* the same ring without restrictions opens the file */
	assert_int_equal(sandbox_ring_init(&ring, 8, SANDBOX_SHARD, false), 0);
	fd = ring_try(&ring, IORING_OP_OPENAT, -1, NULL);
	assert_true(fd >= 0);
	close(fd);
	io_uring_queue_exit(&ring);
	close(p[0]);
	close(p[1]);
}

/*
 * The supervisor with a --metrics-file: it may rewrite the two files it
 * opened before its filter and swap their names, and write no other file.
 */
static int run_with_metrics_files(int what)
{
	char dir[] = "/tmp/kvmlite-test-sandbox.XXXXXX", a[64], b[64];
	struct sandbox_files f;
	pid_t pid;
	int status, other;

	assert_non_null(mkdtemp(dir));
	snprintf(a, sizeof(a), "%s/a.prom", dir);
	snprintf(b, sizeof(b), "%s/.a.prom.tmp", dir);
	f.metrics_dir = open(dir, O_RDONLY | O_DIRECTORY);
	f.metrics_fd[0] = open(a, O_RDWR | O_CREAT, 0644);
	f.metrics_fd[1] = open(b, O_RDWR | O_CREAT, 0644);
	other = open("/dev/null", O_WRONLY);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char err[256];

		if (sandbox_enter_files(SANDBOX_SUPERVISOR, &f, err, sizeof(err)) < 0)
			_exit(100);
		if (pwrite(f.metrics_fd[1], "x 1\n", 4, 0) != 4 || ftruncate(f.metrics_fd[1], 4) < 0 ||
		    renameat2(f.metrics_dir, ".a.prom.tmp", f.metrics_dir, "a.prom", RENAME_EXCHANGE) < 0)
			_exit(101);
		if (what == 1 && pwrite(other, "x", 1, 0) < 0)
			_exit(102);
		if (what == 2)
			renameat2(f.metrics_dir, "a.prom", AT_FDCWD, "/tmp/moved", 0);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	for (int i = 0; i < 2; i++)
		close(f.metrics_fd[i]);
	close(f.metrics_dir);
	close(other);
	unlink(a);
	unlink(b);
	rmdir(dir);
	return status;
}

static void test_the_supervisor_writes_only_its_metrics_files(void **state)
{
	assert_true(exited_0(run_with_metrics_files(0)));
	assert_true(killed_by_sigsys(run_with_metrics_files(1)));
	assert_true(killed_by_sigsys(run_with_metrics_files(2)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_role_survives_what_it_needs),
		cmocka_unit_test(test_no_role_may_open_a_socket),
		cmocka_unit_test(test_no_role_may_map_executable_memory),
		cmocka_unit_test(test_no_role_may_start_a_process),
		cmocka_unit_test(test_only_the_supervisor_opens_files_and_only_to_read),
		cmocka_unit_test(test_guest_threads_may_issue_only_kvm_ioctls),
		cmocka_unit_test(test_a_shard_ring_refuses_operations_it_does_not_use),
		cmocka_unit_test(test_the_supervisor_writes_only_its_metrics_files),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
