/* metrics.c - the spawn's counters in the Prometheus text exposition format (docs/metrics.md). */
#define _GNU_SOURCE /* renameat2 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "metrics.h"
#include "types.h"

#define WS " \t\r\n"

/*
 * Each metric and the `stats` key it comes from. Names follow the
 * Prometheus conventions: a kvmlite_ prefix, base units in the name
 * (bytes, ratio), _total on counters, one name per meaning with labels
 * telling parts apart (guests by state sum to the guests there are).
 * Rows of one name stay together: they share their HELP and TYPE lines.
 * The shards' keys are wire.h's WIRE_STATS, the others the supervisor's
 * own (summary.c): the Prometheus side of both is here, in one list in the
 * order a scrape shows them; test_metrics checks that every WIRE_STATS key
 * has its row.
 */
static const struct metric {
	const char *key, *name, *label, *type;
	double scale;
	const char *help;
} metrics[] = {
	{ "guests", "kvmlite_guests_requested", NULL, "gauge", 1, "Guests the spawn was asked to start." },
	{ "created", "kvmlite_guests_created_total", NULL, "counter", 1, "Guests created (given a VM and loaded)." },
	{ "booted", "kvmlite_guests_booted_total", NULL, "counter", 1, "Guests that wrote their first serial byte." },
	{ "resident", "kvmlite_guests", "state=\"resident\"", "gauge", 1,
	  "Guests by state: resident (on a KVM VM), parked (state only), ended, failed, silent, lost." },
	{ "parked", "kvmlite_guests", "state=\"parked\"", "gauge", 1, NULL },
	{ "ended", "kvmlite_guests", "state=\"ended\"", "gauge", 1, NULL },
	{ "failed", "kvmlite_guests", "state=\"failed\"", "gauge", 1, NULL },
	{ "silent", "kvmlite_guests", "state=\"silent\"", "gauge", 1, NULL },
	{ "lost", "kvmlite_guests", "state=\"lost\"", "gauge", 1, NULL },
	{ "workers", "kvmlite_worker_processes", NULL, "gauge", 1, "Worker processes the guests are sharded over." },
	{ "threads_per_worker", "kvmlite_worker_threads", NULL, "gauge", 1, "Shard threads in each worker process." },
	{ "cpu_max", "kvmlite_guest_cpu_max_ratio", NULL, "gauge", 0.01,
	  "The share of a CPU one guest may use at most (--cpu-max)." },
	{ "exits", "kvmlite_vm_exits_total", NULL, "counter", 1, "KVM_RUN exits of all guests." },
	{ "io_exits", "kvmlite_vm_io_exits_total", NULL, "counter", 1, "Port I/O exits." },
	{ "coalesced", "kvmlite_vm_coalesced_writes_total", NULL, "counter", 1,
	  "Port writes that waited in KVM's coalesced ring instead of exiting." },
	{ "hlts", "kvmlite_vm_hlt_exits_total", NULL, "counter", 1, "hlt exits." },
	{ "irqs", "kvmlite_interrupts_injected_total", NULL, "counter", 1, "Interrupts injected (KVM_INTERRUPT)." },
	{ "kicks", "kvmlite_vcpu_kicks_total", NULL, "counter", 1,
	  "Times a timer signal took a vCPU out of KVM_RUN (end of a time slice or a PIT deadline)." },
	{ "unknown_ports", "kvmlite_unknown_port_accesses_total", NULL, "counter", 1,
	  "Accesses to ports no device answers (reads give 0xff, writes are dropped)." },
	{ "mmio", "kvmlite_mmio_accesses_total", NULL, "counter", 1,
	  "Accesses to guest-physical memory with nothing behind it." },
	{ "out_bytes", "kvmlite_serial_transmitted_bytes_total", NULL, "counter", 1,
	  "Bytes the guests wrote to COM1." },
	{ "in_bytes", "kvmlite_serial_received_bytes_total", NULL, "counter", 1, "Bytes the guests read from COM1." },
	{ "overruns", "kvmlite_serial_overruns_total", NULL, "counter", 1, "UART receiver overruns." },
	{ "out_dropped", "kvmlite_serial_output_dropped_bytes_total", NULL, "counter", 1,
	  "Output bytes older than a guest's 4 KiB output ring keeps." },
	{ "pit_irqs", "kvmlite_pit_interrupts_total", NULL, "counter", 1, "Interrupts the PITs raised." },
	{ "pit_clamped", "kvmlite_pit_clamped_total", NULL, "counter", 1,
	  "PIT programmings held to the 200 microsecond minimum period." },
	{ "slices", "kvmlite_slices_total", NULL, "counter", 1, "Times a shard thread ran a guest." },
	{ "preempted", "kvmlite_slices_preempted_total", NULL, "counter", 1, "Slices that ended at the time limit." },
	{ "throttles", "kvmlite_cpu_throttles_total", NULL, "counter", 1,
	  "Times a guest used up its --cpu-max share of a period." },
	{ "create_failed", "kvmlite_guest_create_failures_total", NULL, "counter", 1,
	  "Guests that could not be created." },
	{ "vms_created", "kvmlite_vms_created_total", NULL, "counter", 1, "KVM VMs created." },
	{ "pool", "kvmlite_vm_pool", NULL, "gauge", 1, "Spare KVM VMs, ready for a guest to resume on." },
	{ "parks", "kvmlite_parks_total", NULL, "counter", 1, "Times a guest gave its KVM VM back." },
	{ "resumes", "kvmlite_resumes_total", NULL, "counter", 1, "Times a parked guest got a KVM VM again." },
	{ "pool_hits", "kvmlite_resume_pool_hits_total", NULL, "counter", 1, "Resumes that found a spare VM ready." },
	{ "resume_failed", "kvmlite_resume_failures_total", NULL, "counter", 1,
	  "Resumes that failed (and were retried)." },
	{ "parked_bytes", "kvmlite_parked_state_bytes", NULL, "gauge", 1,
	  "Memory the parked guests' records (deltas from templates) and their last few pages take." },
	{ "templates", "kvmlite_templates", NULL, "gauge", 1,
	  "Templates parked guests are kept as differences from: one per image and shard." },
	{ "template_bytes", "kvmlite_template_bytes", NULL, "gauge", 1,
	  "Memory the templates take: a fixed cost per image and shard, apart from parked_bytes." },
	{ "cq_overflows", "kvmlite_io_uring_cq_overflows_total", NULL, "counter", 1,
	  "Turns of a shard's loop that found its io_uring completion queue overflowed." },
	{ "clients_dropped", "kvmlite_control_clients_dropped_total", NULL, "counter", 1,
	  "Control socket clients hung up on for not reading their answers." },
	{ "accept_errors", "kvmlite_control_accept_errors_total", NULL, "counter", 1,
	  "Times accepting a control socket client failed (at the fd limit, say) and was tried again." },
};

/* The string keys that label kvmlite_info: the build and the host's setting. */
static const char *const info_keys[] = { "version", "kvm_backend", "park", "sandbox" };

/* Past the JSON value at p (string, number, literal, array or object), or NULL if it is malformed. */
static const char *json_skip(const char *p)
{
	int depth = 0;

	do {
		p += strspn(p, WS);
		if (*p == '"') {
			for (p++; *p && *p != '"'; p++)
				if (*p == '\\' && p[1])
					p++;
			if (*p++ != '"')
				return NULL;
		} else if (*p == '{' || *p == '[') {
			depth++;
			p++;
			continue;
		} else if (*p == '}' || *p == ']') {
			if (depth == 0)
				return NULL;
			depth--;
			p++;
		} else {
			size_t n = strcspn(p, ",:}]" WS);

			if (n == 0)
				return NULL;
			p += n;
		}
		p += strspn(p, WS);
		if (depth && (*p == ',' || *p == ':'))
			p++; /* between members or elements of an open container */
	} while (depth);
	return p;
}

/* The value of the top-level member `key` of the object at json: its start and length; false if absent. */
static bool json_member(const char *json, const char *key, const char **val, size_t *vlen)
{
	const char *p = json + strspn(json, WS), *k, *kend, *v;
	size_t klen = strlen(key);

	if (*p++ != '{')
		return false;
	for (;;) {
		p += strspn(p, WS);
		if (*p != '"')
			return false;
		k = p + 1;
		if (!(p = json_skip(p)) || *p != ':')
			return false;
		kend = p; /* past the key's closing quote, and any space */
		p++;
		v = p + strspn(p, WS);
		if (!(p = json_skip(v)))
			return false;
		if (!strncmp(k, key, klen) && k[klen] == '"' && k + klen + 1 + strspn(k + klen + 1, WS) == kend) {
			*val = v;
			*vlen = (size_t)(p - v);
			while (*vlen && strchr(WS, v[*vlen - 1]))
				(*vlen)--;
			return true;
		}
		if (*p++ != ',')
			return false;
	}
}

static size_t put(char *out, size_t cap, size_t n, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static size_t put(char *out, size_t cap, size_t n, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vsnprintf(n < cap ? out + n : NULL, n < cap ? cap - n : 0, fmt, ap);
	va_end(ap);
	return n + (r > 0 ? (size_t)r : 0);
}

/* kvmlite_info{version="...",...} 1: the labels from the string and boolean members present. */
static size_t put_info(const char *json, char *out, size_t cap, size_t n)
{
	const char *v;
	size_t vlen;
	bool any = false;

	for (size_t i = 0; i < ARRAY_SIZE(info_keys); i++) {
		if (!json_member(json, info_keys[i], &v, &vlen))
			continue;
		if (!any)
			n = put(out, cap, n,
				"# HELP kvmlite_info The spawn's version, KVM backend, --park mode and sandbox.\n"
				"# TYPE kvmlite_info gauge\nkvmlite_info{");
		if (*v == '"') {
			v++;
			vlen -= vlen >= 2 ? 2 : vlen;
		}
		/* no escapes in a label value: these strings hold none, and anything from one is cut */
		if (strcspn(v, "\"\\\n") < vlen)
			vlen = strcspn(v, "\"\\\n");
		n = put(out, cap, n, "%s%s=\"%.*s\"", any ? "," : "", info_keys[i], (int)vlen, v);
		any = true;
	}
	return any ? put(out, cap, n, "} 1\n") : n;
}

size_t metrics_format(const char *json, char *out, size_t cap)
{
	const char *prev = "", *v, *end;
	size_t n = 0, vlen;

	if (cap)
		out[0] = '\0';
	if (json[strspn(json, WS)] != '{' || !(end = json_skip(json)) || end[strspn(end, WS)])
		return 0;
	n = put_info(json, out, cap, n);
	for (size_t i = 0; i < ARRAY_SIZE(metrics); i++) {
		const struct metric *m = &metrics[i];
		char *num_end;
		double x;

		if (!json_member(json, m->key, &v, &vlen))
			continue;
		x = strtod(v, &num_end);
		if (num_end != v + vlen)
			continue; /* not a number (null: not measured) */
		if (strcmp(prev, m->name)) {
			const struct metric *h = m;

			while (!h->help) /* a family's help is on its first row */
				h--;
			n = put(out, cap, n, "# HELP %s %s\n# TYPE %s %s\n", m->name, h->help, m->name, m->type);
		}
		prev = m->name;
		x *= m->scale;
		/* whole numbers as such (exact below 2^53), others with 15 significant digits */
		n = put(out, cap, n,
			x >= 0 && x < 9007199254740992.0 && x == (double)(u64)x ? "%s%s%s%s %.0f\n"
										: "%s%s%s%s %.15g\n",
			m->name, m->label ? "{" : "", m->label ? m->label : "", m->label ? "}" : "", x);
	}
	return n;
}

int metrics_file_open(struct metrics_file *m, const char *path, char *err, size_t errlen)
{
	const char *slash = strrchr(path, '/');
	char dir[4096];

	memset(m, 0, sizeof(*m));
	m->dir_fd = m->fd[0] = m->fd[1] = -1;
	m->exchange = true;
	if (snprintf(m->path, sizeof(m->path), "%s", path) >= (int)sizeof(m->path) ||
	    snprintf(m->name, sizeof(m->name), "%s", slash ? slash + 1 : path) >= (int)sizeof(m->name) || !m->name[0]) {
		snprintf(err, errlen, "--metrics-file %s: not a file name", path);
		return -1;
	}
	snprintf(m->tmp, sizeof(m->tmp), ".%s.tmp", m->name);
	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) + (slash == path) : 1, slash ? path : ".");
	m->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	/* O_NOFOLLOW: a symlink put in our place is refused, not written through */
	if (m->dir_fd >= 0)
		m->fd[0] = openat(m->dir_fd, m->name, O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (m->fd[0] >= 0)
		m->fd[1] = openat(m->dir_fd, m->tmp, O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (m->fd[1] < 0) {
		snprintf(err, errlen, "--metrics-file %s: %s", path, strerror(errno));
		metrics_file_close(m, false);
		return -1;
	}
	return 0;
}

static int file_set(int fd, const char *text, size_t len)
{
	ssize_t n = pwrite(fd, text, len, 0);

	if (n != (ssize_t)len) {
		errno = n < 0 ? errno : ENOSPC;
		return -1;
	}
	return ftruncate(fd, (off_t)len);
}

int metrics_file_write(struct metrics_file *m, const char *text, size_t len)
{
	int hidden = 1 - m->shown;

	if (m->exchange) {
		if (file_set(m->fd[hidden], text, len) < 0)
			return -1;
		if (renameat2(m->dir_fd, m->tmp, m->dir_fd, m->name, RENAME_EXCHANGE) == 0) {
			m->shown = hidden;
			return 0;
		}
		if (errno != EINVAL && errno != ENOSYS)
			return -1;
		m->exchange = false; /* this file system cannot swap names: rewrite in place from now on */
	}
	return file_set(m->fd[m->shown], text, len);
}

void metrics_file_close(struct metrics_file *m, bool remove)
{
	if (remove && m->fd[1] >= 0) {
		/* by name in the directory held open: all the supervisor's sandbox lets it remove */
		unlinkat(m->dir_fd, m->name, 0);
		unlinkat(m->dir_fd, m->tmp, 0);
	}
	for (int i = 0; i < 2; i++)
		if (m->fd[i] >= 0)
			close(m->fd[i]);
	if (m->dir_fd >= 0)
		close(m->dir_fd);
	m->dir_fd = m->fd[0] = m->fd[1] = -1;
}
