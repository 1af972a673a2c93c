/* wire.c - the one definition of every line between a shard and its supervisor: formatters and parsers. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

#define WIRE_NAME(e, name) #name,
const char *const wire_stage_names[NSTAGES] = { WIRE_STAGES(WIRE_NAME) };
#define WIRE_KEY(k) #k,
const char *const wire_stat_names[] = { WIRE_STATS(WIRE_KEY) };
const char *const wire_count_names[WIRE_NCOUNTS] = { WIRE_COUNTS(WIRE_KEY) };

/* snprintf into buf, as the shard's sendbuf takes it: the length written, at most cap - 1. */
static size_t wire_printf(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static size_t wire_printf(char *buf, size_t cap, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, cap, fmt, ap);
	va_end(ap);
	if (n < 0)
		return 0;
	return (size_t)n < cap ? (size_t)n : cap - 1;
}

/* "TAG ok k=v k=v ...\n" from n values named by names. */
static size_t wire_keys_format(char *buf, size_t cap, u32 tag, const char *const *names, const u64 *v, size_t n)
{
	size_t len = wire_printf(buf, cap, "%u ok", tag);

	for (size_t k = 0; k < n; k++)
		len += wire_printf(buf + len, cap - len, " %s=%llu", names[k], (unsigned long long)v[k]);
	return len + wire_printf(buf + len, cap - len, "\n");
}

size_t wire_stats_format(char *buf, size_t cap, u32 tag, const struct wire_stats *st)
{
	u64 v[WIRE_NSTATS];

	memcpy(v, st, sizeof(v));
	return wire_keys_format(buf, cap, tag, wire_stat_names, v, WIRE_NSTATS);
}

size_t wire_counts_format(char *buf, size_t cap, u32 tag, const u64 counts[WIRE_NCOUNTS], u64 booted)
{
	size_t len = wire_keys_format(buf, cap, tag, wire_count_names, counts, WIRE_NCOUNTS);

	if (len)
		len--; /* the newline: two more keys follow */
	return len + wire_printf(buf + len, cap - len, " lost=0 booted=%llu\n", (unsigned long long)booted);
}

void wire_sums_add(const char *answer, const char *const *names, size_t n, u64 *sums)
{
	if (strncmp(answer, "ok", 2) != 0)
		return;
	for (size_t k = 0; k < n; k++) {
		char pat[32];
		const char *v;

		snprintf(pat, sizeof(pat), " %s=", names[k]);
		v = strstr(answer, pat);
		if (v)
			sums[k] += strtoull(v + strlen(pat), NULL, 10);
	}
}

/* ---- events ---- */

size_t wire_created_format(char *buf, size_t cap, const struct wire_created *c)
{
	size_t len = wire_printf(buf, cap, "@created %u %u %llu %llu %llu", c->created, c->parked,
				 (unsigned long long)c->parked_bytes, (unsigned long long)c->spare,
				 (unsigned long long)c->staged);

	for (int k = 0; k < NSTAGES; k++)
		len += wire_printf(buf + len, cap - len, " %llu", (unsigned long long)c->stage_ns[k]);
	return len + wire_printf(buf + len, cap - len, " %llu %llu %llu\n", (unsigned long long)c->created_staged,
				 (unsigned long long)c->templates, (unsigned long long)c->template_bytes);
}

size_t wire_boot_format(char *buf, size_t cap, u32 id, u64 ns)
{
	return wire_printf(buf, cap, "@boot %u %llu\n", id, (unsigned long long)ns);
}

size_t wire_silent_format(char *buf, size_t cap, u32 id, const char *what)
{
	return wire_printf(buf, cap, "@silent %u %s\n", id, what);
}

size_t wire_end_format(char *buf, size_t cap, u32 id, const char *state, const char *why)
{
	return wire_printf(buf, cap, "@end %u %s %s\n", id, state, why);
}

size_t wire_resume_failed_format(char *buf, size_t cap, u32 id, const char *why)
{
	return wire_printf(buf, cap, "@resume_failed %u %s\n", id, why);
}

size_t wire_out_head_format(char *buf, size_t cap, u32 id)
{
	return wire_printf(buf, cap, "@out %u ", id);
}

size_t wire_fatal_format(char *buf, size_t cap, const char *text)
{
	return wire_printf(buf, cap, "@fatal %s\n", text);
}

static void wire_created_parse(const char *arg, struct wire_created *c)
{
	char *p = (char *)arg;

	c->created = (u32)strtoul(p, &p, 10);
	c->parked = (u32)strtoul(p, &p, 10);
	c->parked_bytes = strtoull(p, &p, 10);
	c->spare = strtoull(p, &p, 10);
	c->staged = strtoull(p, &p, 10);
	for (int k = 0; k < NSTAGES; k++)
		c->stage_ns[k] = strtoull(p, &p, 10);
	c->created_staged = strtoull(p, &p, 10);
	c->templates = strtoull(p, &p, 10);
	c->template_bytes = strtoull(p, &p, 10);
}

void wire_event_parse(const char *line, struct wire_event *e)
{
	static const struct {
		const char *name;
		enum wire_event_kind kind;
	} events[] = { { "@created ", WIRE_CREATED },
		       { "@boot ", WIRE_BOOT },
		       { "@silent ", WIRE_SILENT },
		       { "@end ", WIRE_END },
		       { "@resume_failed ", WIRE_RESUME_FAILED },
		       { "@out ", WIRE_OUT },
		       { "@fatal ", WIRE_FATAL } };
	const char *arg = NULL;
	char *p;

	memset(e, 0, sizeof(*e));
	e->kind = line[0] == '@' ? WIRE_UNKNOWN : WIRE_NOT_EVENT;
	for (size_t k = 0; e->kind == WIRE_UNKNOWN && k < sizeof(events) / sizeof(events[0]); k++)
		if (strncmp(line, events[k].name, strlen(events[k].name)) == 0) {
			e->kind = events[k].kind;
			arg = line + strlen(events[k].name);
		}
	if (!arg)
		return;
	e->text = "";
	if (e->kind == WIRE_CREATED) {
		wire_created_parse(arg, &e->created);
		return;
	}
	if (e->kind == WIRE_FATAL) {
		e->text = arg;
		return;
	}
	e->id = (u32)strtoul(arg, &p, 10);
	if (*p == ' ')
		p++;
	if (e->kind == WIRE_BOOT)
		e->ns = strtoull(p, NULL, 10);
	else if (e->kind == WIRE_END) {
		/* STATE WHY: the state is one word */
		const char *sp = strchr(p, ' ');

		e->failed = strncmp(p, "failed ", 7) == 0;
		e->text = sp ? sp + 1 : "";
	} else
		e->text = p;
}

/* ---- commands ---- */

size_t wire_request_format(char *buf, size_t cap, u32 tag, const char *request, size_t len)
{
	return wire_printf(buf, cap, "%u %.*s\n", tag, (int)len, request);
}

size_t wire_control_format(char *buf, size_t cap, enum wire_control control, u32 id)
{
	switch (control) {
	case WIRE_NOCREATE:
		return wire_printf(buf, cap, "0 nocreate\n");
	case WIRE_HOLD:
		return wire_printf(buf, cap, "0 hold\n");
	case WIRE_UNWATCH:
		return wire_printf(buf, cap, "0 unwatch %u\n", id);
	default:
		return 0;
	}
}

void wire_command_parse(const char *line, size_t len, struct wire_command *c)
{
	char *rest;

	memset(c, 0, sizeof(*c));
	c->tag = (u32)strtoul(line, &rest, 10);
	if (*rest != ' ') {
		c->control = WIRE_MALFORMED;
		return;
	}
	rest++;
	c->request = rest;
	c->len = len - (size_t)(rest - line);
	if (strcmp(rest, "nocreate") == 0)
		c->control = WIRE_NOCREATE;
	else if (strcmp(rest, "hold") == 0)
		c->control = WIRE_HOLD;
	else if (strncmp(rest, "unwatch ", 8) == 0) {
		c->control = WIRE_UNWATCH;
		c->id = (u32)strtoul(rest + 8, NULL, 10);
	} else
		c->control = WIRE_REQUEST;
}

bool wire_answer_parse(const char *line, u32 *tag, const char **rest)
{
	char *p;

	*tag = (u32)strtoul(line, &p, 10);
	if (*p != ' ')
		return false;
	*rest = p + 1;
	return true;
}
