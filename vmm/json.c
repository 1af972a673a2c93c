/* json.c - JSON as kvmlite writes it: strings, and a guest's `info` answer as the object of docs/json.md. */
#include <stdio.h>
#include <string.h>

#include "json.h"

/* Text written snprintf-style: what fits is kept, len counts all of it. */
struct json_out {
	char *out;
	size_t cap, len;
};

static void put(struct json_out *o, const char *s, size_t n)
{
	if (o->len + 1 < o->cap) {
		size_t room = o->cap - 1 - o->len;

		memcpy(o->out + o->len, s, n < room ? n : room);
	}
	o->len += n;
}

static size_t finish(struct json_out *o)
{
	if (o->cap)
		o->out[o->len < o->cap ? o->len : o->cap - 1] = '\0';
	return o->len;
}

/* A string (RFC 8259 §7): '"', '\\' and the control bytes must be escaped; the rest is escaped to stay ASCII. */
static void put_string(struct json_out *o, const char *s, size_t n)
{
	put(o, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		u8 c = (u8)s[i];
		char esc[8];

		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			put(o, esc, 2);
		} else if (c < 0x20 || c > 0x7e) {
			put(o, esc, (size_t)snprintf(esc, sizeof(esc), "\\u%04x", c));
		} else {
			put(o, (const char *)&c, 1);
		}
	}
	put(o, "\"", 1);
}

size_t json_string(const char *s, size_t n, char *out, size_t cap)
{
	struct json_out o = { out, cap, 0 };

	put_string(&o, s, n);
	return finish(&o);
}

/* A JSON number as the shard writes counters: digits, no leading zero (RFC 8259 §6 forbids "007"). */
static bool is_integer(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return n == 1 || (n > 1 && s[0] != '0');
}

/* One "key=value" member; the value of reason runs to the end. Returns where the next word starts, NULL if bad. */
static const char *member_put(struct json_out *o, const char *p, const char *end)
{
	const char *word_end = memchr(p, ' ', (size_t)(end - p)), *eq, *v;
	bool reason, booted;
	size_t klen, vlen;

	word_end = word_end ? word_end : end;
	eq = memchr(p, '=', (size_t)(word_end - p));
	if (!eq || eq == p)
		return NULL;
	klen = (size_t)(eq - p);
	reason = klen == 6 && !memcmp(p, "reason", 6);
	booted = klen == 6 && !memcmp(p, "booted", 6);
	v = eq + 1;
	vlen = (size_t)((reason ? end : word_end) - v); /* reason is last: its text may hold spaces */
	if (booted && (vlen != 1 || (*v != '0' && *v != '1')))
		return NULL;
	put(o, ",", 1);
	put_string(o, p, klen);
	put(o, ":", 1);
	if (booted)
		put(o, *v == '1' ? "true" : "false", *v == '1' ? 4 : 5);
	else if (!reason && is_integer(v, vlen))
		put(o, v, vlen);
	else /* reason, or a key added later with a word for a value */
		put_string(o, v, vlen);
	return v + vlen;
}

size_t json_info(u32 id, const char *rest, size_t len, char *out, size_t cap)
{
	struct json_out o = { out, cap, 0 };
	const char *p = rest, *end = rest + len, *state_end = memchr(rest, ' ', len);
	char head[32];

	state_end = state_end ? state_end : end;
	if (state_end == p || memchr(p, '=', (size_t)(state_end - p)))
		return 0;
	put(&o, head, (size_t)snprintf(head, sizeof(head), "{\"id\":%u,\"state\":", id));
	put_string(&o, p, (size_t)(state_end - p));
	for (p = state_end; p < end;) {
		if (*p == ' ') {
			p++;
		} else if (!(p = member_put(&o, p, end))) {
			if (cap)
				out[0] = '\0';
			return 0;
		}
	}
	put(&o, "}", 1);
	return finish(&o);
}
