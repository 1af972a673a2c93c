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
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "unit.h"
#include "sandbox.h"

enum {
	DO_NOTHING,
	DO_SOCKET,
	DO_EXEC_MAP,
	DO_OPEN_WRITE,
	DO_OPEN_TRUNC,
	DO_OPEN_CREAT,
	DO_OPEN_PROC,
	DO_TTY_IOCTL,
	DO_FORK,
	DO_STDERR,
	DO_WRITE_FILE,
	DO_WRITE_GRANTED,
	DO_UNLINK,
	DO_UNLINKAT_ELSEWHERE,
	DO_RMDIR_IN_DIR,
	DO_UNLINK_SOCKET,
	DO_KILL,
	DO_TGKILL,
	DO_TCP_SERVE,
	DO_BIND,
	DO_LISTEN,
	DO_CONNECT,
};

/*
 * A scratch directory standing for the control socket's: the supervisor's
 * filter is given its fd, as spawn gives it the socket directory's. It
 * holds "file" (FILE_TEXT, kept open for writing in file_fd), "sock" and
 * the directory "sub".
 */
#define FILE_TEXT "fourteen bytes"
static char dir[64], file[80], created[80];
static int dir_fd = -1, file_fd = -1;
static int granted_fd = -1; /* a results file the supervisor's filter is given (--boot-times) */
/* a front door's listening TCP socket made before the filter (frontdoor.c), and a socket not yet bound */
static int tcp_listen_fd = -1, tcp_unbound_fd = -1;
static struct sockaddr_in tcp_addr;

/*
 * What the supervisor does with a front door's client, through its ring
 * as spawn does: accept it, read its "ping", send "pong". 0 if all went.
 */
static int tcp_serve(struct io_uring *ring)
{
	struct io_uring_cqe *cqe;
	char buf[8];
	int fd, n;

	io_uring_prep_accept(io_uring_get_sqe(ring), tcp_listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (io_uring_submit_and_wait(ring, 1) < 0 || io_uring_wait_cqe(ring, &cqe) < 0 || cqe->res < 0)
		return -1;
	fd = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	io_uring_prep_recv(io_uring_get_sqe(ring), fd, buf, sizeof(buf), 0);
	if (io_uring_submit_and_wait(ring, 1) < 0 || io_uring_wait_cqe(ring, &cqe) < 0)
		return -1;
	n = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	if (n != 4 || memcmp(buf, "ping", 4) || send(fd, "pong", 4, MSG_NOSIGNAL | MSG_DONTWAIT) != 4)
		return -1;
	return close(fd);
}

static void scratch_make(void)
{
	char path[96];

	snprintf(dir, sizeof(dir), "/tmp/kvmlite-sandbox-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(file, sizeof(file), "%s/file", dir);
	snprintf(created, sizeof(created), "%s/created", dir);
	file_fd = open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	assert_true(file_fd >= 0);
	assert_int_equal(write(file_fd, FILE_TEXT, strlen(FILE_TEXT)), (ssize_t)strlen(FILE_TEXT));
	snprintf(path, sizeof(path), "%s/sock", dir);
	close(open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
	snprintf(path, sizeof(path), "%s/sub", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	dir_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	assert_true(dir_fd >= 0);
	snprintf(path, sizeof(path), "%s/granted", dir);
	granted_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(granted_fd >= 0);
}

static void scratch_remove(void)
{
	char path[96];

	close(file_fd);
	close(dir_fd);
	close(granted_fd);
	snprintf(path, sizeof(path), "%s/granted", dir);
	unlink(path);
	unlink(file);
	unlink(created);
	snprintf(path, sizeof(path), "%s/sock", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/sub", dir);
	rmdir(path);
	rmdir(dir);
}

/* The file is as the scratch directory was made: there, with all its bytes. */
static bool file_intact(void)
{
	struct stat st;

	return stat(file, &st) == 0 && st.st_size == (off_t)strlen(FILE_TEXT) && access(created, F_OK) < 0;
}

static bool exists_in_dir(const char *name)
{
	struct stat st;

	return fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* Runs `what` in a child under `role`'s filter: its wait status. */
static int run_in_role(enum sandbox_role role, int what)
{
	pid_t pid, parent = getpid(); /* the child's own getppid() is not allowed */
	int status;

	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char err[256];
		struct timespec ts;
		struct winsize ws;

		struct sandbox_grant grant = { .dir = dir_fd, .out = &granted_fd, .nout = 1 };
		struct io_uring ring;

		/* a ring is made before the filter goes in, as spawn makes its own */
		if (what == DO_TCP_SERVE && sandbox_ring_init(&ring, 8, role, true, NULL, 0) < 0)
			_exit(102);
		if ((role == SANDBOX_SUPERVISOR ? sandbox_enter_supervisor(&grant, err, sizeof(err))
						: sandbox_enter(role, err, sizeof(err))) < 0)
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
		case DO_OPEN_TRUNC:
			open(file, O_RDONLY | O_TRUNC);
			break;
		case DO_OPEN_CREAT:
			open(created, O_RDONLY | O_CREAT, 0600);
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
		case DO_WRITE_FILE:
			if (write(file_fd, "x", 1) < 0)
				_exit(101);
			break;
		case DO_WRITE_GRANTED:
			if (write(granted_fd, "x", 1) != 1)
				_exit(101);
			break;
		case DO_UNLINK:
			unlink(file);
			break;
		case DO_UNLINKAT_ELSEWHERE:
			unlinkat(AT_FDCWD, file, 0);
			break;
		case DO_RMDIR_IN_DIR:
			unlinkat(dir_fd, "sub", AT_REMOVEDIR);
			break;
		case DO_UNLINK_SOCKET:
			if (unlinkat(dir_fd, "sock", 0) < 0)
				_exit(101);
			break;
		case DO_KILL:
			kill(parent, 0); /* signal 0: only asks whether it may */
			break;
		case DO_TGKILL:
			syscall(SYS_tgkill, parent, parent, 0);
			break;
		case DO_TCP_SERVE:
			if (tcp_serve(&ring) < 0)
				_exit(101);
			break;
		case DO_BIND:
			bind(tcp_unbound_fd, (struct sockaddr *)&tcp_addr, sizeof(tcp_addr));
			break;
		case DO_LISTEN:
			listen(tcp_unbound_fd, 1);
			break;
		case DO_CONNECT:
			connect(tcp_unbound_fd, (struct sockaddr *)&tcp_addr, sizeof(tcp_addr));
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
	/* to write, to truncate, to create: each kills and changes nothing */
	assert_true(killed_by_sigsys(run_in_role(SANDBOX_SUPERVISOR, DO_OPEN_WRITE)));
	assert_true(killed_by_sigsys(run_in_role(SANDBOX_SUPERVISOR, DO_OPEN_TRUNC)));
	assert_true(killed_by_sigsys(run_in_role(SANDBOX_SUPERVISOR, DO_OPEN_CREAT)));
	assert_true(file_intact());
#if defined(__SANITIZE_ADDRESS__)
	skip(); /* LeakSanitizer reads /proc: sanitizer builds let every role open to read */
#endif
	assert_true(killed_by_sigsys(run_in_role(SANDBOX_SHARD, DO_OPEN_PROC)));
	assert_true(killed_by_sigsys(run_in_role(SANDBOX_RUN, DO_OPEN_PROC)));
	assert_true(killed_by_sigsys(run_in_role(SANDBOX_WORKER, DO_OPEN_PROC)));
}

/* A worker's threads write messages to stderr, the supervisor its summary to stdout or stderr: no other file. */
static void test_only_run_writes_to_files_other_than_stdout_and_stderr(void **state)
{
	assert_true(killed_by_sigsys(run_in_role(SANDBOX_SHARD, DO_WRITE_FILE)));
	assert_true(killed_by_sigsys(run_in_role(SANDBOX_WORKER, DO_WRITE_FILE)));
	assert_true(killed_by_sigsys(run_in_role(SANDBOX_SUPERVISOR, DO_WRITE_FILE)));
	assert_true(file_intact());
	/* but the supervisor writes the results files it opened and was granted (--boot-times) */
	assert_true(exited_0(run_in_role(SANDBOX_SUPERVISOR, DO_WRITE_GRANTED)));
	assert_true(killed_by_sigsys(run_in_role(SANDBOX_SHARD, DO_WRITE_GRANTED)));
}

/* The supervisor removes its socket at the end: only a file of that directory, nothing else. */
static void test_the_supervisor_removes_only_files_in_its_socket_directory(void **state)
{
	assert_true(killed_by_sigsys(run_in_role(SANDBOX_SUPERVISOR, DO_UNLINK)));
	assert_true(killed_by_sigsys(run_in_role(SANDBOX_SUPERVISOR, DO_UNLINKAT_ELSEWHERE)));
	assert_true(file_intact());
	assert_true(killed_by_sigsys(run_in_role(SANDBOX_SUPERVISOR, DO_RMDIR_IN_DIR)));
	assert_true(exists_in_dir("sub"));
	assert_true(exists_in_dir("sock"));
	assert_true(exited_0(run_in_role(SANDBOX_SUPERVISOR, DO_UNLINK_SOCKET)));
	assert_false(exists_in_dir("sock"));
	for (int r = 0; r < SANDBOX_ROLES; r++)
		if (r != SANDBOX_SUPERVISOR)
			assert_true(killed_by_sigsys(run_in_role((enum sandbox_role)r, DO_UNLINK)));
}

/* No role signals another process (a worker left at the end dies with the supervisor: PR_SET_PDEATHSIG). */
static void test_no_role_may_signal_another_process(void **state)
{
	for (int r = 0; r < SANDBOX_ROLES; r++)
		assert_true(killed_by_sigsys(run_in_role((enum sandbox_role)r, DO_KILL)));
#if defined(__SANITIZE_ADDRESS__)
	skip(); /* LeakSanitizer's helper signals threads: sanitizer builds allow tgkill */
#endif
	for (int r = 0; r < SANDBOX_ROLES; r++)
		assert_true(killed_by_sigsys(run_in_role((enum sandbox_role)r, DO_TGKILL)));
}

static void test_guest_threads_may_issue_only_kvm_ioctls(void **state)
{
	assert_true(killed_by_sigsys(run_in_role(SANDBOX_SHARD, DO_TTY_IOCTL)));
	assert_true(killed_by_sigsys(run_in_role(SANDBOX_RUN, DO_TTY_IOCTL)));
}

/* Submits one operation (on a registered file if fixed) and returns its completion's result. */
static int ring_try(struct io_uring *ring, int op, int fd, bool fixed, void *buf)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	struct io_uring_cqe *cqe;
	int res;

	assert_non_null(sqe);
	if (op == IORING_OP_OPENAT)
		io_uring_prep_openat(sqe, AT_FDCWD, "/dev/null", O_RDONLY, 0);
	else if (op == IORING_OP_WRITE)
		io_uring_prep_write(sqe, fd, buf, 1, (u64)-1);
	else
		io_uring_prep_read(sqe, fd, buf, 1, 0);
	if (fixed)
		sqe->flags |= IOSQE_FIXED_FILE;
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
	assert_int_equal(sandbox_ring_init(&ring, 8, SANDBOX_SHARD, true, &p[0], 1), 0);
	assert_int_equal(ring_try(&ring, IORING_OP_READ, 0, true, &c), 1);
	assert_int_equal(ring_try(&ring, IORING_OP_OPENAT, -1, true, NULL), -EACCES);
	io_uring_queue_exit(&ring);
	/* the same ring without restrictions opens the file */
	assert_int_equal(sandbox_ring_init(&ring, 8, SANDBOX_SHARD, false, &p[0], 1), 0);
	fd = ring_try(&ring, IORING_OP_OPENAT, -1, false, NULL);
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
	char mdir[] = "/tmp/kvmlite-test-sandbox.XXXXXX", a[64], b[64];
	struct sandbox_grant f = { .dir = -1, .metrics = true };
	pid_t pid;
	int status, other;

	assert_non_null(mkdtemp(mdir));
	snprintf(a, sizeof(a), "%s/a.prom", mdir);
	snprintf(b, sizeof(b), "%s/.a.prom.tmp", mdir);
	f.metrics_dir = open(mdir, O_RDONLY | O_DIRECTORY);
	f.metrics_fd[0] = open(a, O_RDWR | O_CREAT, 0644);
	f.metrics_fd[1] = open(b, O_RDWR | O_CREAT, 0644);
	other = open("/dev/null", O_WRONLY);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char err[256];

		if (sandbox_enter_supervisor(&f, err, sizeof(err)) < 0)
			_exit(100);
		if (pwrite(f.metrics_fd[1], "x 1\n", 4, 0) != 4 || ftruncate(f.metrics_fd[1], 4) < 0 ||
		    renameat2(f.metrics_dir, ".a.prom.tmp", f.metrics_dir, "a.prom", RENAME_EXCHANGE) < 0)
			_exit(101);
		if (what == 1 && pwrite(other, "x", 1, 0) < 0)
			_exit(102);
		if (what == 2)
			renameat2(f.metrics_dir, "a.prom", AT_FDCWD, "/tmp/moved", 0);
		/* and at the end it removes both */
		if (what == 3 &&
		    (unlinkat(f.metrics_dir, "a.prom", 0) < 0 || unlinkat(f.metrics_dir, ".a.prom.tmp", 0) < 0))
			_exit(103);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	for (int i = 0; i < 2; i++)
		close(f.metrics_fd[i]);
	close(f.metrics_dir);
	close(other);
	unlink(a);
	unlink(b);
	rmdir(mdir);
	return status;
}

static void test_the_supervisor_writes_only_its_metrics_files(void **state)
{
	assert_true(exited_0(run_with_metrics_files(0)));
	assert_true(killed_by_sigsys(run_with_metrics_files(1)));
	assert_true(killed_by_sigsys(run_with_metrics_files(2)));
	assert_true(exited_0(run_with_metrics_files(3)));
}

/*
 * The front doors' listening sockets are made before the supervisor's
 * filter: behind it, their clients are accepted and read through its
 * ring and answered with send(), while no new socket can be bound,
 * listened on or connected (socket() itself kills: above).
 */
static void test_the_supervisor_serves_tcp_sockets_made_before_its_filter(void **state)
{
	socklen_t len = sizeof(tcp_addr);
	int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	char buf[8] = "";

	tcp_addr = (struct sockaddr_in){ .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	tcp_listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	tcp_unbound_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(tcp_listen_fd >= 0 && tcp_unbound_fd >= 0 && client >= 0);
	assert_int_equal(bind(tcp_listen_fd, (struct sockaddr *)&tcp_addr, sizeof(tcp_addr)), 0);
	assert_int_equal(listen(tcp_listen_fd, 4), 0);
	assert_int_equal(getsockname(tcp_listen_fd, (struct sockaddr *)&tcp_addr, &len), 0);
	/* the client is waiting in the backlog before the supervisor's child starts */
	assert_int_equal(connect(client, (struct sockaddr *)&tcp_addr, sizeof(tcp_addr)), 0);
	assert_int_equal(send(client, "ping", 4, 0), 4);
	assert_true(exited_0(run_in_role(SANDBOX_SUPERVISOR, DO_TCP_SERVE)));
	assert_int_equal(recv(client, buf, sizeof(buf), 0), 4);
	assert_memory_equal(buf, "pong", 4);
	tcp_addr.sin_port = 0;
	for (int r = 0; r < SANDBOX_ROLES; r++) {
		assert_true(killed_by_sigsys(run_in_role((enum sandbox_role)r, DO_BIND)));
		assert_true(killed_by_sigsys(run_in_role((enum sandbox_role)r, DO_LISTEN)));
		assert_true(killed_by_sigsys(run_in_role((enum sandbox_role)r, DO_CONNECT)));
	}
	close(client);
	close(tcp_listen_fd);
	close(tcp_unbound_fd);
}

/*
 * A shard's ring is given its files (the supervisor's socket, the log) and
 * reaches no other: an operation must name a registered file by its index
 * (IOSQE_FIXED_FILE is required), so a write to any other fd the process
 * holds, an ordinary file here, is refused and the file stays as it was.
 */
static void test_a_shard_ring_reaches_only_its_registered_files(void **state)
{
	struct io_uring ring;
	int p[2];
	char c = 'x';

	assert_int_equal(pipe(p), 0);
	assert_int_equal(sandbox_ring_init(&ring, 8, SANDBOX_SHARD, true, &p[1], 1), 0);
	assert_int_equal(ring_try(&ring, IORING_OP_WRITE, file_fd, false, &c), -EACCES);
	assert_int_equal(ring_try(&ring, IORING_OP_READ, p[0], false, &c), -EACCES);
	assert_int_equal(ring_try(&ring, IORING_OP_WRITE, 1, true, &c), -EBADF); /* index 1: none */
	assert_true(file_intact());
	assert_int_equal(ring_try(&ring, IORING_OP_WRITE, 0, true, &c), 1); /* index 0: the pipe */
	assert_int_equal(read(p[0], &c, 1), 1);
	io_uring_queue_exit(&ring);
	close(p[0]);
	close(p[1]);
}

static int scratch_setup(void **state)
{
	scratch_make();
	return 0;
}

static int scratch_teardown(void **state)
{
	scratch_remove();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_role_survives_what_it_needs),
		cmocka_unit_test(test_no_role_may_open_a_socket),
		cmocka_unit_test(test_the_supervisor_serves_tcp_sockets_made_before_its_filter),
		cmocka_unit_test(test_no_role_may_map_executable_memory),
		cmocka_unit_test(test_no_role_may_start_a_process),
		cmocka_unit_test(test_only_the_supervisor_opens_files_and_only_to_read),
		cmocka_unit_test(test_only_run_writes_to_files_other_than_stdout_and_stderr),
		cmocka_unit_test(test_the_supervisor_removes_only_files_in_its_socket_directory),
		cmocka_unit_test(test_no_role_may_signal_another_process),
		cmocka_unit_test(test_guest_threads_may_issue_only_kvm_ioctls),
		cmocka_unit_test(test_a_shard_ring_refuses_operations_it_does_not_use),
		cmocka_unit_test(test_the_supervisor_writes_only_its_metrics_files),
		cmocka_unit_test(test_a_shard_ring_reaches_only_its_registered_files),
	};

	return cmocka_run_group_tests(tests, scratch_setup, scratch_teardown);
}
