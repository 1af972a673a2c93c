/* reqload.c - closed-loop load on a `kvmlite spawn` control socket: `req` round trips, their rate and latency. */
#define _GNU_SOURCE
#include <getopt.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "rawvm.h"

#define ANSWER_MAX 8192 /* a `req` answer is one guest line, escaped: far shorter */
#define TEXT_MAX   1000 /* --req TEXT; a request line may have 4096 bytes, an mvm guest line 64 */
#define MAX_KINDS  16

/*
 * Each connection has exactly one request outstanding (closed loop): the
 * offered load is the concurrency, not a rate, so a slow spawn shows up as
 * lower throughput, never as a queue that grows without bound.
 */
struct conn {
	int fd;
	u32 id;	       /* the guest the outstanding request went to */
	bool measured; /* sent after the warmup: its answer counts */
	u64 t0;	       /* CLOCK_MONOTONIC when it was sent */
	size_t len;
	char buf[ANSWER_MAX];
};

static struct {
	const char *path, *text, *expect; /* expect NULL: any `ok` answer (by_id: the id) */
	u32 conns, guests, sample;	  /* sample: --sample K, K guests drawn at random, each asked once */
	double secs, warmup;
	u64 total; /* measured requests (-r); 0: measure for secs (-d); the last given wins */
	bool by_id, json, sweep;
} opt = { .conns = 16, .secs = 10, .warmup = 1, .text = "ping" };

static struct {
	u32 *lat; /* one per measured answer, in 0.1 us: what is printed; 429 s fit */
	size_t n, cap;
	u64 errors, issued, t_meas, t_end, t_last;
	u32 next_id; /* --sweep: the next guest to ask (with --sample: the next of ids) */
	u32 *ids;    /* --sample: the guests drawn, distinct */
	u32 nkinds;
	char kind[MAX_KINDS][64];
	u64 kcount[MAX_KINDS];
} st;

static u64 rng = 0x2545f4914f6cdd1dull; /* fixed: every run draws the same ids */
static u8 *inflight;			/* per guest: one of our connections has a request on it */

static void die(const char *what, int err)
{
	fprintf(stderr, "reqload: %s%s%s\n", what, err ? ": " : "", err ? strerror(err) : "");
	exit(2);
}

/* xorshift64; multiply-shift maps its top 32 bits onto [0, n) with a bias below n / 2^32. */
static u32 pick(u32 n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (u32)(((rng >> 32) * n) >> 32);
}

/* --sample: opt.sample distinct ids of 0..guests-1, drawn with the fixed seed (inflight marks those drawn). */
static int sample_draw(void)
{
	if (opt.sample > opt.guests || !opt.sweep) {
		fprintf(stderr, "reqload: --sample K needs --sweep and K at most the guests (%u)\n", opt.guests);
		exit(2);
	}
	st.ids = malloc((size_t)opt.sample * sizeof(*st.ids));
	if (!st.ids)
		return -1;
	for (u32 i = 0; i < opt.sample; i++) {
		u32 id;

		do
			id = pick(opt.guests);
		while (inflight[id]);
		inflight[id] = 1;
		st.ids[i] = id;
	}
	memset(inflight, 0, opt.guests);
	return 0;
}

/* Any failure ends the program, so a socket left open by one does not matter. */
static int sock_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path) >= (int)sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	return fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -1 : fd;
}

/* `list` answers "ok running=N ... booted=N"; asked blocking, before the load starts. */
static long ask_booted(int fd)
{
	char line[512], *p;
	size_t len = 0;
	ssize_t n;

	if (send(fd, "list\n", 5, MSG_NOSIGNAL) != 5)
		return -1;
	while (len < sizeof(line) - 1 && !memchr(line, '\n', len) &&
	       (n = recv(fd, line + len, sizeof(line) - 1 - len, 0)) > 0)
		len += (size_t)n;
	line[len] = 0;
	p = strstr(line, " booted=");
	return strncmp(line, "ok ", 3) || !p ? -1 : strtol(p + 8, NULL, 10);
}

/* Sends c's next request, or returns false when the run is over for c. */
static bool conn_start(struct conn *c, u64 now)
{
	char q[TEXT_MAX + 32];
	int len;

	c->measured = now >= st.t_meas;
	if (opt.sweep) {
		/* every guest once, in id order (or each of the sample once): nothing repeats */
		if (st.next_id >= (opt.sample ? opt.sample : opt.guests))
			return false;
		c->measured = true;
		c->id = opt.sample ? st.ids[st.next_id] : st.next_id;
		st.next_id++;
		goto send;
	}
	if (c->measured && (opt.total ? st.issued >= opt.total : now >= st.t_end))
		return false;
	st.issued += c->measured;
	/*
	 * Two of our connections on one guest would get `error busy` (one
	 * request per guest at a time), which measures this tool, not kvmlite:
	 * redraw an id already in flight. With no more guests than connections
	 * that cannot always work, and the busy answers count as errors.
	 */
	do
		c->id = pick(opt.guests);
	while (inflight[c->id] && opt.guests > opt.conns);
	inflight[c->id] = 1;
send:
	len = snprintf(q, sizeof(q), "req %u %s\n", c->id, opt.text);
	c->t0 = now_ns();
	/* The answer to the last request was read, so the spawn has read that
	 * request too: the send buffer is empty and a short send cannot be. */
	if (send(c->fd, q, (size_t)len, MSG_NOSIGNAL) != len)
		die("send to the spawn", errno);
	return true;
}

/* Error answers are few and distinct; wrong `ok` answers (ids) are not, so they share a kind.
 * A kind is the answer's first 63 bytes, printable: the spawn escapes the rest. */
static u32 kind_slot(const char *k)
{
	for (u32 i = 0; i < st.nkinds; i++)
		if (!strncmp(st.kind[i], k, sizeof(st.kind[i]) - 1))
			return i;
	if (st.nkinds == MAX_KINDS - 1 && strcmp(k, "other"))
		return kind_slot("other"); /* the last slot collects the rest */
	snprintf(st.kind[st.nkinds], sizeof(st.kind[0]), "%.63s", k);
	return st.nkinds++;
}

static void conn_answer(struct conn *c, const char *line, u64 now)
{
	char want[16];
	const char *exp = opt.expect;

	inflight[c->id] = 0;
	if (!c->measured)
		return;
	if (st.n == st.cap) {
		st.cap = st.cap ? 2 * st.cap : 1 << 16;
		st.lat = realloc(st.lat, st.cap * sizeof(*st.lat));
		if (!st.lat)
			die("latency samples", ENOMEM);
	}
	st.lat[st.n++] = (u32)((now - c->t0 + 50) / 100);
	st.t_last = now;
	if (opt.by_id) {
		snprintf(want, sizeof(want), "%u", c->id);
		exp = want;
	}
	if (strncmp(line, "ok ", 3) || (exp && strcmp(line + 3, exp))) {
		st.errors++;
		st.kcount[kind_slot(strncmp(line, "ok", 2) ? line : "ok, wrong answer")]++;
	}
}

/* Reads what c's socket has; its answer line ends the request and starts the next. */
static bool conn_read(struct conn *c)
{
	char *nl;
	ssize_t n;

	for (;;) {
		n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len, 0);
		if (n < 0 && errno == EAGAIN)
			return true;
		if (n <= 0)
			die("the spawn closed a connection", n ? errno : 0);
		c->len += (size_t)n;
		nl = memchr(c->buf, '\n', c->len);
		if (!nl && c->len == sizeof(c->buf) - 1)
			die("an answer longer than 8 KiB", 0);
		if (!nl)
			continue;
		*nl = 0;
		conn_answer(c, c->buf, now_ns());
		/* one request outstanding: nothing follows the line, but keep what might */
		c->len -= (size_t)(nl + 1 - c->buf);
		memmove(c->buf, nl + 1, c->len);
		if (!conn_start(c, now_ns()))
			return false;
	}
}

/* Prints s as a JSON string. */
static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if ((u8)*s < 0x20)
			printf("\\u%04x", (u8)*s);
		else
			printf(*s == '"' || *s == '\\' ? "\\%c" : "%c", *s);
	}
	putchar('"');
}

static void report(const struct hostinfo *h)
{
	static const u32 q[] = { 5000, 9000, 9900, 9990, 10000 }; /* per 10,000; the last is the max */
	static const char *const qname[] = { "p50", "p90", "p99", "p99.9", "max" };
	double secs = (double)(st.t_last - st.t_meas) / 1e9, rate = secs > 0 ? (double)st.n / secs : 0, us[5] = { 0 };
	const char *const hkey[] = { "host", "cpu", "kernel", "backend" };
	const char *const hval[] = { h->host, h->cpu, h->kernel, h->backend };
	unsigned long long errs = st.errors;

	qsort(st.lat, st.n, sizeof(*st.lat), u32_cmp);
	for (u32 i = 0; i < 5 && st.n; i++)
		us[i] = (double)st.lat[(st.n * q[i] + 9999) / 10000 - 1] / 10.0; /* nearest rank */
	if (opt.json) {
		printf("{\"req\":");
		json_str(opt.text);
		printf(",\"sweep\":%s,\"sample\":%u,\"conns\":%u,\"guests\":%u,\"seconds\":%.3f,\"requests\":%zu,"
		       "\"errors\":%llu",
		       opt.sweep ? "true" : "false", opt.sample, opt.conns, opt.guests, secs, st.n, errs);
		printf(",\"error_kinds\":{");
		for (u32 i = 0; i < st.nkinds; i++) {
			if (i)
				putchar(',');
			json_str(st.kind[i]);
			printf(":%llu", (unsigned long long)st.kcount[i]);
		}
		printf("},\"throughput\":%.1f,\"latency_us\":{", rate);
		for (u32 i = 0; i < 5; i++)
			printf("%s\"%s\":%.1f", i ? "," : "", qname[i], us[i]);
		printf("}");
		for (u32 i = 0; i < 4; i++) {
			printf(",\"%s\":", hkey[i]);
			json_str(hval[i]);
		}
		printf("}\n");
		return;
	}
	printf("req %s: %u connections, guests 0..%u, %.2f s measured after %.1f s warmup\n", opt.text, opt.conns,
	       opt.guests - 1, secs, opt.warmup);
	printf("requests %zu, errors %llu, throughput %.0f req/s\nlatency us:", st.n, errs, rate);
	for (u32 i = 0; i < 5; i++)
		printf(" %s %.1f", qname[i], us[i]);
	printf("\n");
	for (u32 i = 0; i < st.nkinds; i++)
		printf("  %llu x %s\n", (unsigned long long)st.kcount[i], st.kind[i]);
	printf("host %s, %s, Linux %s, KVM backend %s\n", h->host, h->cpu, h->kernel, h->backend);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: reqload --socket PATH [options]\n"
		   "closed-loop `req ID TEXT` load on a `kvmlite spawn` control socket\n"
		   "  --socket PATH     the spawn's control socket (required)\n"
		   "  -c CONNS          connections, each with one request outstanding (default 16)\n"
		   "  -n GUESTS         target ids 0..GUESTS-1, uniformly at random (default: `list`'s booted count)\n"
		   "  -d SECONDS        measure for SECONDS (default 10)\n"
		   "  -r REQUESTS       measure REQUESTS requests instead (the last of -d, -r counts)\n"
		   "  --warmup SECONDS  load first for SECONDS, unmeasured (default 1)\n"
		   "  --sweep           instead: ask every guest 0..GUESTS-1 once, in order, no warmup\n"
		   "  --sample K        with --sweep: K guests of 0..GUESTS-1 drawn at random, each once\n"
		   "  --req TEXT        what the guest is sent (default ping, answer pong; id: answer its id;\n"
		   "                    other TEXT: any `ok` answer)\n"
		   "  --json            print one JSON object\n"
		   "exit status: 0 every answer right, 1 some answer wrong, 2 usage or setup error\n");
}

static double num(const char *s, double lo, double hi)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= lo && v <= hi)) {
		fprintf(stderr, "reqload: bad number '%s' (%g..%g)\n", s, lo, hi);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = { { "socket", 1, NULL, 'S' }, { "warmup", 1, NULL, 'W' },
					    { "req", 1, NULL, 'R' },	{ "json", 0, NULL, 'J' },
					    { "sweep", 0, NULL, 'w' },	{ "sample", 1, NULL, 'K' },
					    { "help", 0, NULL, 'h' },	{ NULL, 0, NULL, 0 } };
	struct epoll_event ev[64], e = { .events = EPOLLIN };
	struct hostinfo h;
	struct conn *conns;
	u32 active = 0;
	long booted;
	int c, n, epfd;

	while ((c = getopt_long(argc, argv, "c:n:d:r:h", lo, NULL)) != -1) {
		switch (c) {
		case 'S':
			opt.path = optarg;
			break;
		case 'W':
			opt.warmup = num(optarg, 0, 86400);
			break;
		case 'R':
			opt.text = optarg;
			break;
		case 'J':
			opt.json = true;
			break;
		case 'w':
			opt.sweep = true;
			opt.warmup = 0;
			break;
		case 'K':
			opt.sample = (u32)num(optarg, 1, UINT32_MAX);
			break;
		case 'c': /* the spawn serves 4096 connections at once */
			opt.conns = (u32)num(optarg, 1, 4096);
			break;
		case 'n':
			opt.guests = (u32)num(optarg, 1, UINT32_MAX);
			break;
		case 'd':
			opt.secs = num(optarg, 0.001, 86400);
			opt.total = 0;
			break;
		case 'r':
			opt.total = (u64)num(optarg, 1, 1e15);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!opt.path || optind != argc || strlen(opt.text) > TEXT_MAX || strpbrk(opt.text, "\r\n")) {
		fprintf(stderr, "reqload: %s\n",
			!opt.path	 ? "--socket PATH is required"
			: optind != argc ? "unexpected argument"
					 : "--req TEXT must be one line of at most 1000 bytes");
		usage(stderr);
		return 2;
	}
	opt.by_id = !strcmp(opt.text, "id");
	opt.expect = !strcmp(opt.text, "ping") ? "pong" : NULL;
	nofile_raise();
	conns = calloc(opt.conns, sizeof(*conns));
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (!conns || epfd < 0)
		die("setup", errno);
	for (u32 i = 0; i < opt.conns; i++) {
		conns[i].fd = sock_connect(opt.path);
		if (conns[i].fd < 0) {
			fprintf(stderr,
				"reqload: cannot connect to %s (connection %u of %u): %s; is `kvmlite spawn` "
				"running with --socket %s?\n",
				opt.path, i + 1, opt.conns, strerror(errno), opt.path);
			return 2;
		}
		if (i == 0 && !opt.guests) {
			booted = ask_booted(conns[0].fd);
			if (booted <= 0)
				die(booted ? "no answer to `list`" : "no guest has booted yet (see `kvmlite list`)", 0);
			opt.guests = (u32)booted;
		}
		/* connected (and asked) blocking: a full backlog makes connect wait, not fail */
		e.data.u32 = i;
		if (fcntl(conns[i].fd, F_SETFL, O_NONBLOCK) < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, conns[i].fd, &e) < 0)
			die("setup", errno);
	}
	inflight = calloc(opt.guests, 1);
	if (!inflight || (opt.sample && sample_draw() < 0))
		die("setup", errno);
	hostinfo_read(&h);
	st.t_meas = now_ns() + (u64)(opt.warmup * 1e9);
	st.t_end = opt.total ? UINT64_MAX : st.t_meas + (u64)(opt.secs * 1e9);
	st.t_last = st.t_meas;
	for (u32 i = 0; i < opt.conns; i++)
		active += conn_start(&conns[i], now_ns());
	while (active) {
		n = epoll_wait(epfd, ev, ARRAY_SIZE(ev), -1);
		if (n < 0 && errno != EINTR)
			die("epoll_wait", errno);
		for (int i = 0; i < n; i++) {
			struct conn *cn = &conns[ev[i].data.u32];

			if (cn->fd >= 0 && !conn_read(cn)) {
				close(cn->fd); /* its share of the run is over; the others go on */
				cn->fd = -1;
				active--;
			}
		}
	}
	report(&h);
	/* freed only so that a SANITIZE=1 build (LeakSanitizer) exits with our status */
	free(st.lat);
	free(inflight);
	free(st.ids);
	free(conns);
	return st.errors ? 1 : 0;
}
