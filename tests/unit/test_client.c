/* test_client.c - the CLI clients against a fake spawn: the exact request lines, printed answers, exit statuses. */
#define _GNU_SOURCE /* memfd_create, posix_openpt */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "unit.h"
#include "client.h"

/*
 * A fake spawn on a temporary unix socket: accepts one connection, sends
 * answers[i] once request line i + 1 has arrived (hangs up for ""), then
 * records whatever else comes until the client closes.
 */
struct fake {
	char dir[64];
	char path[108];
	int lfd;
	const char *const *answers; /* NULL-terminated */
	bool hang_up;		    /* close right after the last answer instead of reading on */
	char got[32768];	    /* every byte the client sent */
	size_t got_len;
	pthread_t thread;
};

/* What client_main wrote to stdout and stderr. */
struct capture {
	char out[65536];
	size_t out_len;
	char err[4096];
};

static size_t count_lines(const char *s, size_t len)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++)
		n += s[i] == '\n';
	return n;
}

static void *fake_main(void *arg)
{
	struct fake *f = arg;
	int fd = accept(f->lfd, NULL, NULL);
	size_t i = 0;
	ssize_t n = 1;

	if (fd < 0)
		return NULL;
	for (i = 0; f->answers[i] && n > 0; i++) {
		while (count_lines(f->got, f->got_len) <= i && n > 0) {
			n = read(fd, f->got + f->got_len, sizeof(f->got) - 1 - f->got_len);
			f->got_len += n > 0 ? (size_t)n : 0;
		}
		if (!*f->answers[i])
			break; /* "": hang up instead of answering */
		/* MSG_NOSIGNAL: a client that left early (Ctrl-A x) is no reason to die */
		if (n > 0)
			send(fd, f->answers[i], strlen(f->answers[i]), MSG_NOSIGNAL);
	}
	while (n > 0 && f->got_len < sizeof(f->got) - 1 && !f->answers[i] && !f->hang_up) {
		n = read(fd, f->got + f->got_len, sizeof(f->got) - 1 - f->got_len);
		f->got_len += n > 0 ? (size_t)n : 0;
	}
	close(fd);
	return NULL;
}

static void fake_dir(struct fake *f)
{
	memset(f, 0, sizeof(*f));
	strcpy(f->dir, "/tmp/kvmlite-test-client.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/control", f->dir);
	f->lfd = -1;
}

static void fake_start_with(struct fake *f, const char *const *answers, bool hang_up)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	fake_dir(f);
	f->answers = answers;
	f->hang_up = hang_up;
	strcpy(sa.sun_path, f->path);
	f->lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(f->lfd >= 0);
	assert_int_equal(bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(f->lfd, 1), 0);
	assert_int_equal(pthread_create(&f->thread, NULL, fake_main, f), 0);
}

static void fake_start(struct fake *f, const char *const *answers)
{
	fake_start_with(f, answers, false);
}

/* Waits for the fake to see the client close; f->got is then a C string. */
static void fake_finish(struct fake *f)
{
	if (f->lfd >= 0) {
		assert_int_equal(pthread_join(f->thread, NULL), 0);
		close(f->lfd);
		unlink(f->path);
	}
	rmdir(f->dir);
	f->got[f->got_len] = '\0';
}

static size_t slurp(int fd, char *buf, size_t cap)
{
	ssize_t n = pread(fd, buf, cap - 1, 0);

	assert_true(n >= 0);
	buf[n] = '\0';
	close(fd);
	return (size_t)n;
}

/* Runs client_main on the NULL-terminated arguments with stdout and stderr captured. */
static int run(struct capture *cap, const char *arg0, ...)
{
	char *argv[32] = { (char *)arg0 };
	int argc = 1, status, out = memfd_create("out", 0), err = memfd_create("err", 0);
	int saved_out = dup(1), saved_err = dup(2);
	va_list ap;

	va_start(ap, arg0);
	while ((argv[argc] = va_arg(ap, char *)))
		argc++;
	va_end(ap);
	fflush(stdout);
	fflush(stderr);
	dup2(out, 1);
	dup2(err, 2);
	status = client_main(argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(saved_out, 1);
	dup2(saved_err, 2);
	close(saved_out);
	close(saved_err);
	cap->out_len = slurp(out, cap->out, sizeof(cap->out));
	slurp(err, cap->err, sizeof(cap->err));
	return status;
}

/* One request, one canned answer: checks the request line and the exit status. */
static void one(struct capture *cap, const char *answer, const char *want_req, int want_status, const char *cmd,
		const char *a, const char *b, const char *c)
{
	const char *const answers[] = { answer, NULL };
	struct fake f;

	fake_start(&f, answers);
	assert_int_equal(run(cap, cmd, "--socket", f.path, a, b, c, NULL), want_status);
	fake_finish(&f);
	assert_string_equal(f.got, want_req);
}

static void test_send_joins_words_and_adds_an_escaped_newline(void **state)
{
	struct capture cap;

	one(&cap, "ok\n", "send 5 hello world\\n\n", 0, "send", "5", "hello", "world");
	assert_string_equal(cap.out, "");
	assert_string_equal(cap.err, "");
}

static void test_send_n_adds_no_newline_and_escapes_bytes(void **state)
{
	struct capture cap;

	one(&cap, "ok\n", "send 7 a\\tb\\\\ -x\\x01\n", 0, "send", "-n", "7", "a\tb\\ -x\x01");
}

static void test_send_text_may_start_with_a_dash_after_double_dash(void **state)
{
	struct capture cap;

	one(&cap, "ok\n", "send 1 -n\\n\n", 0, "send", "1", "--", "-n");
	one(&cap, "ok\n", "req 3 id --socket x\n", 0, "req", "3", "--", "id --socket x");
}

/* `kvmlite req 3 id --socket S` once sent "id --socket S" to guest 3 of the default spawn */
static void test_options_after_the_arguments_are_options(void **state)
{
	const char *const answers[] = { "ok 3\n", NULL };
	struct capture cap;
	struct fake f;

	fake_start(&f, answers);
	assert_int_equal(run(&cap, "req", "3", "id", "--socket", f.path, NULL), 0);
	fake_finish(&f);
	assert_string_equal(f.got, "req 3 id\n");
	assert_string_equal(cap.out, "3\n");
	fake_start(&f, (const char *const[]){ "ok halted booted=1\n", NULL });
	assert_int_equal(run(&cap, "info", "7", "--socket", f.path, NULL), 0);
	fake_finish(&f);
	assert_string_equal(f.got, "info 7\n");
	assert_string_equal(cap.out, "halted booted=1\n");
}

static void test_req_prints_the_unescaped_answer_and_a_newline(void **state)
{
	struct capture cap;

	one(&cap, "ok 5 \\x41\\\\\n", "req 5 id\n", 0, "req", "5", "id", NULL);
	assert_string_equal(cap.out, "5 A\\\n");
}

static void test_read_prints_the_raw_ring_bytes(void **state)
{
	struct capture cap;

	one(&cap, "ok 12 0 hi there\\x00\\r\\n\n", "read 3\n", 0, "read", "3", NULL, NULL);
	assert_int_equal(cap.out_len, 11);
	assert_memory_equal(cap.out, "hi there\0\r\n", 11);
	one(&cap, "ok 0 0\n", "read 3\n", 0, "read", "3", NULL, NULL);
	assert_int_equal(cap.out_len, 0);
}

/* A full 4 KiB ring of unprintable bytes is a 16 KiB answer: longer than any request may be. */
static void test_read_takes_a_whole_escaped_ring(void **state)
{
	static char answer[4 * 4096 + 32];
	struct capture cap;
	size_t i, len = (size_t)sprintf(answer, "ok 8192 4096 ");

	for (i = 0; i < 4096; i++)
		len += (size_t)sprintf(answer + len, "\\x%02x", (unsigned)(i & 0xff));
	strcpy(answer + len, "\n");
	one(&cap, answer, "read 0\n", 0, "read", "0", NULL, NULL);
	assert_int_equal(cap.out_len, 4096);
	for (i = 0; i < 4096; i++)
		assert_int_equal((u8)cap.out[i], i & 0xff);
}

static void test_list_prints_one_count_a_line(void **state)
{
	struct capture cap;

	one(&cap, "ok running=2 halted=1 ended=0 failed=0 lost=0 booted=3\n", "list\n", 0, "list", NULL, NULL, NULL);
	assert_string_equal(cap.out, "running 2\nhalted 1\nended 0\nfailed 0\nlost 0\nbooted 3\n");
}

static void test_list_state_prints_the_ranges(void **state)
{
	struct capture cap;

	one(&cap, "ok 0-1999,2001\n", "list halted\n", 0, "list", "halted", NULL, NULL);
	assert_string_equal(cap.out, "0-1999,2001\n");
	one(&cap, "ok \n", "list failed\n", 0, "list", "failed", NULL, NULL);
	assert_string_equal(cap.out, "");
}

static void test_info_prints_what_follows_ok(void **state)
{
	struct capture cap;

	one(&cap, "ok failed booted=0 exits=3 out=0 in=0 dropped=0 reason=triple fault\r\n", "info 9\n", 0, "info", "9",
	    NULL, NULL);
	assert_string_equal(cap.out, "failed booted=0 exits=3 out=0 in=0 dropped=0 reason=triple fault\n");
}

static void test_stats_json_prints_the_object_as_is(void **state)
{
	struct capture cap;

	one(&cap, "ok {\"guests\":3,\"exits\":{\"io\":10}}\n", "stats\n", 0, "stats", "--json", NULL, NULL);
	assert_string_equal(cap.out, "{\"guests\":3,\"exits\":{\"io\":10}}\n");
}

static void test_stats_prints_key_value_lines_with_nested_keys_dotted(void **state)
{
	struct capture cap;

	one(&cap,
	    "ok { \"guests\": 3, \"exits\": {\"io\": 10, \"hlt\": 2, \"none\": {}}, \"backend\": \"kvm_pvm\", "
	    "\"ns\": [1, 2], \"ok\": true, \"x\": -1.5e3 }\n",
	    "stats\n", 0, "stats", NULL, NULL, NULL);
	assert_string_equal(cap.out, "guests: 3\nexits.io: 10\nexits.hlt: 2\nbackend: kvm_pvm\nns: [1, 2]\nok: true\n"
				     "x: -1.5e3\n");
}

static void test_stats_refuses_broken_json(void **state)
{
	struct capture cap;

	one(&cap, "ok {\"a\":1,\"b\"\n", "stats\n", 2, "stats", NULL, NULL, NULL);
	assert_non_null(strstr(cap.err, "unexpected answer"));
	one(&cap, "ok {\"a\":1} x\n", "stats\n", 2, "stats", NULL, NULL, NULL);
}

static void test_list_json_gives_counts_or_ranges(void **state)
{
	struct capture cap;

	one(&cap, "ok running=2 halted=1 booted=3\n", "list\n", 0, "list", "--json", NULL, NULL);
	assert_string_equal(cap.out, "{\"running\":2,\"halted\":1,\"booted\":3}\n");
	one(&cap, "ok 0-1999,2001\n", "list halted\n", 0, "list", "halted", "--json", NULL);
	assert_string_equal(cap.out, "{\"state\":\"halted\",\"count\":2001,\"ranges\":[[0,1999],[2001,2001]]}\n");
	one(&cap, "ok \n", "list lost\n", 0, "list", "--json", "lost", NULL);
	assert_string_equal(cap.out, "{\"state\":\"lost\",\"count\":0,\"ranges\":[]}\n");
	one(&cap, "ok 5-3\n", "list halted\n", 2, "list", "halted", "--json", NULL);
}

static void test_info_json_gives_numbers_a_boolean_and_the_reason(void **state)
{
	struct capture cap;

	one(&cap, "ok failed booted=0 exits=3 cpu_us=12 reason=triple fault (\"x\") at 0008:7c4d\n", "info 9\n", 0,
	    "info", "9", "--json", NULL);
	assert_string_equal(cap.out, "{\"id\":9,\"state\":\"failed\",\"booted\":false,\"exits\":3,\"cpu_us\":12,"
				     "\"reason\":\"triple fault (\\\"x\\\") at 0008:7c4d\"}\n");
	one(&cap, "ok halted booted=1 exits=28\n", "info 5\n", 0, "info", "--json", "5", NULL);
	assert_string_equal(cap.out, "{\"id\":5,\"state\":\"halted\",\"booted\":true,\"exits\":28}\n");
}

static void test_stats_prometheus_prints_the_text_format(void **state)
{
	struct capture cap;

	one(&cap, "ok {\"guests\":3,\"exits\":10,\"kvm_backend\":\"kvm_intel\"}\n", "stats\n", 0, "stats",
	    "--prometheus", NULL, NULL);
	assert_non_null(strstr(cap.out, "# TYPE kvmlite_vm_exits_total counter\nkvmlite_vm_exits_total 10\n"));
	assert_non_null(strstr(cap.out, "kvmlite_info{kvm_backend=\"kvm_intel\"} 1\n"));
	one(&cap, "ok {\"a\":\n", "stats\n", 2, "stats", "--prometheus", NULL, NULL);
}

static void test_list_names_the_states_it_takes(void **state)
{
	struct capture cap;

	assert_int_equal(run(&cap, "list", "bogus", NULL), 2);
	assert_string_equal(cap.err, "kvmlite list: no state 'bogus': STATE is one of running, halted, parked, "
				     "ended, failed, silent, lost or booted\n");
}

static void test_watch_prints_output_until_the_spawn_ends(void **state)
{
	/* the fake hangs up after its answers: the spawn went away, which ends a watch cleanly */
	const char *const answers[] = { "ok\nout 4 hello\\n\nout 4 again\\n\n", NULL };
	struct capture cap;
	struct fake f;
	int p[2];

	fake_start_with(&f, answers, true);
	assert_int_equal(pipe(p), 0); /* stdin stays open, and is never read */
	assert_int_equal(write(p[1], "x\n", 2), 2);
	{
		int saved_in = dup(0);

		dup2(p[0], 0);
		assert_int_equal(run(&cap, "watch", "4", "--socket", f.path, NULL), 0);
		dup2(saved_in, 0);
		close(saved_in);
	}
	close(p[0]);
	close(p[1]);
	fake_finish(&f);
	assert_string_equal(f.got, "watch 4\n");
	assert_string_equal(cap.out, "hello\nagain\n");
	assert_string_equal(cap.err, "");
}

static void test_stop_sends_stop_with_and_without_id(void **state)
{
	struct capture cap;

	one(&cap, "ok\n", "stop\n", 0, "stop", NULL, NULL, NULL);
	one(&cap, "ok\n", "stop 3\n", 0, "stop", "3", NULL, NULL);
	assert_string_equal(cap.out, "");
}

static void test_error_answer_exits_1_and_names_the_guest(void **state)
{
	struct capture cap;

	one(&cap, "error timeout\n", "req 5 id\n", 1, "req", "5", "id", NULL);
	assert_string_equal(cap.out, "");
	assert_string_equal(cap.err, "kvmlite: guest 5: timeout\n");
	one(&cap, "error unknown command\n", "stats\n", 1, "stats", NULL, NULL, NULL);
	assert_string_equal(cap.err, "kvmlite: stats: unknown command\n");
}

static void test_garbled_or_missing_answer_exits_2(void **state)
{
	struct capture cap;

	one(&cap, "hello\n", "info 1\n", 2, "info", "1", NULL, NULL);
	one(&cap, "ok 1 0 bad\\q\n", "read 1\n", 2, "read", "1", NULL, NULL);
	one(&cap, "", "info 1\n", 2, "info", "1", NULL, NULL);
	assert_non_null(strstr(cap.err, "closed the connection"));
}

static void test_nothing_listening_exits_2_and_says_so(void **state)
{
	struct capture cap;
	struct fake f;
	char want[256];

	fake_dir(&f);
	assert_int_equal(run(&cap, "info", "--socket", f.path, "1", NULL), 2);
	fake_finish(&f);
	snprintf(want, sizeof(want),
		 "kvmlite: cannot connect to %s: No such file or directory (is `kvmlite spawn` running?)\n", f.path);
	assert_string_equal(cap.err, want);
}

static void test_usage_errors_exit_2_before_connecting(void **state)
{
	static char long_text[5000];
	struct capture cap;
	struct fake f;

	memset(long_text, 'a', sizeof(long_text) - 1);
	fake_dir(&f);
	assert_int_equal(run(&cap, "send", "--socket", f.path, "5", NULL), 2);
	assert_non_null(strstr(cap.err, "usage: kvmlite send [-n] ID TEXT..."));
	assert_int_equal(run(&cap, "send", "--socket", f.path, "5 x", "hi", NULL), 2);
	assert_int_equal(run(&cap, "info", "--socket", f.path, "", NULL), 2);
	assert_int_equal(run(&cap, "list", "--socket", f.path, "running\nstop", NULL), 2);
	assert_int_equal(run(&cap, "stats", "--socket", f.path, "-n", NULL), 2);
	assert_int_equal(run(&cap, "send", "--socket", f.path, "--json", "1", "x", NULL), 2);
	assert_int_equal(run(&cap, "info", "--socket", f.path, "-5", NULL), 2);
	assert_non_null(strstr(cap.err, "ID takes a guest number such as 7, not -5"));
	assert_int_equal(run(&cap, "stats", "--socket", f.path, "--json", "--prometheus", NULL), 2);
	assert_int_equal(run(&cap, "info", "--bogus", "1", NULL), 2);
	assert_int_equal(run(&cap, "info", "--socket", NULL), 2);
	assert_int_equal(run(&cap, "stop", "--socket", f.path, "1", "2", NULL), 2);
	assert_int_equal(run(&cap, "send", "--socket", f.path, "1", long_text, NULL), 2);
	assert_non_null(strstr(cap.err, "too long"));
	assert_int_equal(run(&cap, "frob", NULL), 2);
	/* none of them got as far as connecting */
	assert_null(strstr(cap.err, "cannot connect"));
	fake_finish(&f);
}

static void test_help_exits_0(void **state)
{
	struct capture cap;

	assert_int_equal(run(&cap, "list", "--help", NULL), 0);
	assert_non_null(strstr(cap.out, "usage: kvmlite list [STATE]"));
	assert_non_null(strstr(cap.out, "--json"));
	assert_int_equal(run(&cap, "console", "7", "-h", NULL), 0);
	assert_non_null(strstr(cap.out, "Ctrl-A x"));
}

static void test_default_path_prefers_an_absolute_xdg_runtime_dir(void **state)
{
	char *old = getenv("XDG_RUNTIME_DIR");
	char buf[64];

	old = old ? strdup(old) : NULL;
	setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1);
	assert_int_equal(control_default_path(buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/run/user/1000/kvmlite/control");
	assert_int_equal(control_default_path(buf, 10), -1);
	setenv("XDG_RUNTIME_DIR", "relative", 1);
	assert_int_equal(control_default_path(buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/run/kvmlite/control");
	unsetenv("XDG_RUNTIME_DIR");
	assert_int_equal(control_default_path(buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/run/kvmlite/control");
	if (old)
		setenv("XDG_RUNTIME_DIR", old, 1);
	free(old);
}

/* Runs `console 5` with stdin replaced by fd. */
static int run_console(struct capture *cap, struct fake *f, int fd)
{
	int saved_in = dup(0), status;

	dup2(fd, 0);
	close(fd);
	status = run(cap, "console", "--socket", f->path, "5", NULL);
	dup2(saved_in, 0);
	close(saved_in);
	return status;
}

static int pipe_with(const char *data, size_t len)
{
	int p[2];

	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], data, len), (ssize_t)len);
	close(p[1]);
	return p[0];
}

static void test_console_streams_output_and_sends_pipe_input_until_eof(void **state)
{
	const char *const answers[] = { "ok\nout 5 ready\\r\\n\n", "ok\nout 5 5\\r\\n\n", NULL };
	struct capture cap;
	struct fake f;

	fake_start(&f, answers);
	/* from a pipe Ctrl-A is data like any other byte */
	assert_int_equal(run_console(&cap, &f, pipe_with("id\n\x01x", 5)), 0);
	fake_finish(&f);
	assert_string_equal(f.got, "watch 5\nsend 5 id\\n\\x01x\n");
	assert_string_equal(cap.out, "ready\r\n5\r\n");
	assert_string_equal(cap.err, "");
}

static void test_console_offers_pipe_input_again_while_guest_input_is_full(void **state)
{
	const char *const answers[] = { "ok\n", "error input full\n", "ok\n", NULL };
	struct capture cap;
	struct fake f;

	fake_start(&f, answers);
	assert_int_equal(run_console(&cap, &f, pipe_with("ab", 2)), 0);
	fake_finish(&f);
	assert_string_equal(f.got, "watch 5\nsend 5 ab\nsend 5 ab\n");
	assert_string_equal(cap.err, "");
}

static void test_console_leaves_when_the_guest_is_gone(void **state)
{
	const char *const answers[] = { "ok\n", "error guest not running\n", NULL };
	struct capture cap;
	struct fake f;
	int p[2];

	fake_start(&f, answers);
	/* stdin stays open: only the answer can end it */
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], "x", 1), 1);
	assert_int_equal(run_console(&cap, &f, p[0]), 1);
	close(p[1]);
	fake_finish(&f);
	assert_string_equal(cap.err, "kvmlite: guest 5: guest not running\n");
}

static void test_console_watch_error_exits_1(void **state)
{
	const char *const answers[] = { "error no such guest\n", NULL };
	struct capture cap;
	struct fake f;

	fake_start(&f, answers);
	assert_int_equal(run_console(&cap, &f, pipe_with("", 0)), 1);
	fake_finish(&f);
	assert_string_equal(f.got, "watch 5\n");
	assert_string_equal(cap.err, "kvmlite: guest 5: no such guest\n");
}

static void test_console_on_a_terminal_takes_ctrl_a_commands_and_restores_it(void **state)
{
	const char *const answers[] = { "ok\nout 5 hi\n", "ok\n", NULL };
	struct termios before, after;
	struct capture cap;
	struct fake f;
	int master = posix_openpt(O_RDWR | O_NOCTTY), slave;

	if (master < 0)
		skip(); /* no pseudo-terminals here */
	assert_int_equal(grantpt(master), 0);
	assert_int_equal(unlockpt(master), 0);
	slave = open(ptsname(master), O_RDWR | O_NOCTTY);
	assert_true(slave >= 0);
	assert_int_equal(tcgetattr(slave, &before), 0);
	/* typed before the console starts: the line discipline holds it until raw mode lets it through */
	assert_int_equal(write(master, "ab\001\001c\001zd\r\001h\001x", 13), 13);
	fake_start(&f, answers);
	assert_int_equal(run_console(&cap, &f, dup(slave)), 0);
	fake_finish(&f);
	assert_int_equal(tcgetattr(slave, &after), 0);
	close(slave);
	close(master);
	/* Ctrl-A Ctrl-A is one Ctrl-A, Ctrl-A z nothing, Enter "\n", Ctrl-A x leaves */
	assert_string_equal(f.got, "watch 5\nsend 5 ab\\x01cd\\n\n");
	assert_string_equal(cap.out, "hi");
	assert_non_null(strstr(cap.err, "Ctrl-A x leaves"));
	/* Ctrl-A h lists every command */
	assert_non_null(strstr(cap.err, "Ctrl-A h       this list"));
	assert_non_null(strstr(cap.err, "Ctrl-A x       leave the console (exit status 0)"));
	assert_non_null(strstr(cap.err, "Ctrl-A Ctrl-A  send one Ctrl-A"));
	assert_int_equal(after.c_iflag, before.c_iflag);
	assert_int_equal(after.c_oflag, before.c_oflag);
	assert_int_equal(after.c_lflag, before.c_lflag);
	assert_int_equal(after.c_cflag, before.c_cflag);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_send_joins_words_and_adds_an_escaped_newline),
		cmocka_unit_test(test_send_n_adds_no_newline_and_escapes_bytes),
		cmocka_unit_test(test_send_text_may_start_with_a_dash_after_double_dash),
		cmocka_unit_test(test_options_after_the_arguments_are_options),
		cmocka_unit_test(test_list_json_gives_counts_or_ranges),
		cmocka_unit_test(test_info_json_gives_numbers_a_boolean_and_the_reason),
		cmocka_unit_test(test_stats_prometheus_prints_the_text_format),
		cmocka_unit_test(test_list_names_the_states_it_takes),
		cmocka_unit_test(test_watch_prints_output_until_the_spawn_ends),
		cmocka_unit_test(test_req_prints_the_unescaped_answer_and_a_newline),
		cmocka_unit_test(test_read_prints_the_raw_ring_bytes),
		cmocka_unit_test(test_read_takes_a_whole_escaped_ring),
		cmocka_unit_test(test_list_prints_one_count_a_line),
		cmocka_unit_test(test_list_state_prints_the_ranges),
		cmocka_unit_test(test_info_prints_what_follows_ok),
		cmocka_unit_test(test_stats_json_prints_the_object_as_is),
		cmocka_unit_test(test_stats_prints_key_value_lines_with_nested_keys_dotted),
		cmocka_unit_test(test_stats_refuses_broken_json),
		cmocka_unit_test(test_stop_sends_stop_with_and_without_id),
		cmocka_unit_test(test_error_answer_exits_1_and_names_the_guest),
		cmocka_unit_test(test_garbled_or_missing_answer_exits_2),
		cmocka_unit_test(test_nothing_listening_exits_2_and_says_so),
		cmocka_unit_test(test_usage_errors_exit_2_before_connecting),
		cmocka_unit_test(test_help_exits_0),
		cmocka_unit_test(test_default_path_prefers_an_absolute_xdg_runtime_dir),
		cmocka_unit_test(test_console_streams_output_and_sends_pipe_input_until_eof),
		cmocka_unit_test(test_console_offers_pipe_input_again_while_guest_input_is_full),
		cmocka_unit_test(test_console_leaves_when_the_guest_is_gone),
		cmocka_unit_test(test_console_watch_error_exits_1),
		cmocka_unit_test(test_console_on_a_terminal_takes_ctrl_a_commands_and_restores_it),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
