/* template.c - a shard's template of each image, and parked guests kept as their difference from it (RAM, vCPU state).
 */
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "delta.h"
#include "template.h"

/* What one page's entry can take: two LEB128 counts and the page. */
#define ENTRY_MAX    (GUEST_PAGE_SIZE + 8)
/* The scratch: every page raw, then the state's delta (never more than the state and its counts). */
#define SCRATCH_SIZE (GUEST_RAM_PAGES * ENTRY_MAX + sizeof(((struct template *)0)->state) + 16)

static const u8 zero_page[GUEST_PAGE_SIZE];

static size_t template_state_len(const struct park *p)
{
	return sizeof(*p) + p->xsave_len;
}

/* Which pages of ram are resident (mincore: touched and not given back). */
static void template_resident(const u8 *ram, unsigned char vec[GUEST_RAM_PAGES])
{
	if (mincore((void *)ram, GUEST_RAM_SIZE, vec) < 0)
		memset(vec, 1, GUEST_RAM_PAGES); /* then look at every page: slower, as exact */
}

/* The template of `image`, made from this guest's pages and state if there is none. */
static int template_find(struct templates *ts, const void *image, const struct park *p, const u8 *ram)
{
	unsigned char vec[GUEST_RAM_PAGES];
	struct template *t, **grown;
	u32 i;

	for (i = 0; i < ts->n; i++)
		if (ts->t[i]->image == image)
			return (int)i;
	if (ts->n == UINT16_MAX) {
		errno = ENOSPC; /* more images than a record can name (struct parked's tmpl) */
		return -1;
	}
	grown = realloc(ts->t, (ts->n + 1) * sizeof(*ts->t));
	if (!grown)
		return -1;
	ts->t = grown;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -1;
	t->image = image;
	memcpy(t->state, p, template_state_len(p));
	ts->bytes += malloc_usable_size(t);
	template_resident(ram, vec);
	for (i = 0; i < GUEST_RAM_PAGES; i++) {
		const u8 *src = ram + (size_t)i * GUEST_PAGE_SIZE;

		/* A page that reads as zeros is the zero page: nothing to keep. */
		if (!(vec[i] & 1) || !memcmp(src, zero_page, GUEST_PAGE_SIZE))
			continue;
		t->page[i] = malloc(GUEST_PAGE_SIZE);
		if (!t->page[i])
			break; /* a smaller template: still a right one */
		memcpy(t->page[i], src, GUEST_PAGE_SIZE);
		ts->bytes += malloc_usable_size(t->page[i]);
	}
	ts->t[ts->n] = t;
	return (int)ts->n++;
}

/*
 * Each page that is not exactly the template's (or zeros, where the
 * template has none): the pages skipped since the last entry and the
 * entry's length as LEB128 counts, then its delta (delta.c) or, when that
 * would be no smaller than the page, the page itself (length
 * GUEST_PAGE_SIZE). Pages the guest never touched are zeros.
 */
static size_t template_encode_ram(const struct template *t, const u8 *ram, u8 *out, u16 *pages)
{
	unsigned char vec[GUEST_RAM_PAGES];
	size_t n = 0, next = 0;

	template_resident(ram, vec);
	*pages = 0;
	for (size_t i = 0; i < GUEST_RAM_PAGES; i++) {
		*pages += vec[i] & 1;
		const u8 *cur = (vec[i] & 1) ? ram + i * GUEST_PAGE_SIZE : zero_page;
		u8 *body = out + n + 4; /* room for both counts (each < 2^14: two bytes) */
		ssize_t len;

		if (!(vec[i] & 1) && !t->page[i])
			continue;
		len = delta_encode(cur, t->page[i], GUEST_PAGE_SIZE, body, GUEST_PAGE_SIZE - 1);
		if (len == 0)
			continue;
		if (len < 0) {
			len = GUEST_PAGE_SIZE;
			memcpy(body, cur, GUEST_PAGE_SIZE);
		}
		/* out holds every page whole and its counts (the caller's buffer) */
		delta_put_num(out, SIZE_MAX, &n, i - next);
		delta_put_num(out, SIZE_MAX, &n, (size_t)len);
		memmove(out + n, body, (size_t)len);
		n += (size_t)len;
		next = i + 1;
	}
	return n;
}

struct parked *template_pack(struct templates *ts, const void *image, const struct park *p, const u8 *ram)
{
	size_t state_len = template_state_len(p), ram_len, used;
	u16 pages;
	const struct template *t;
	struct parked *k;
	ssize_t state_enc;
	int i;

	if (!ts->scratch && !(ts->scratch = malloc(SCRATCH_SIZE)))
		return NULL;
	if ((i = template_find(ts, image, p, ram)) < 0)
		return NULL;
	t = ts->t[i];
	ram_len = template_encode_ram(t, ram, ts->scratch, &pages);
	state_enc = delta_encode((const u8 *)p, t->state, state_len, ts->scratch + ram_len, SCRATCH_SIZE - ram_len);
	if (state_enc < 0) {
		errno = EOVERFLOW; /* cannot be: the scratch has room for the whole state */
		return NULL;
	}
	used = ram_len + (size_t)state_enc;
	if (used > ts->scratch_used) { /* what of the scratch is resident, rounded to pages */
		ts->bytes += (used - ts->scratch_used + GUEST_PAGE_SIZE - 1) & ~(size_t)(GUEST_PAGE_SIZE - 1);
		ts->scratch_used = (used + GUEST_PAGE_SIZE - 1) & ~(size_t)(GUEST_PAGE_SIZE - 1);
	}
	k = malloc(sizeof(*k) + used + p->out_len);
	if (!k)
		return NULL;
	*k = (struct parked){ .tmpl = (u16)i,
			      .pages = pages,
			      .state_len = (u16)state_len,
			      .state_enc = (u16)state_enc,
			      .ram_enc = (u32)ram_len,
			      .out_len = p->out_len };
	memcpy(k->data, ts->scratch + ram_len, (size_t)state_enc);
	memcpy(k->data + state_enc, ts->scratch, ram_len);
	memcpy(k->data + used, park_output(p), p->out_len);
	return k;
}

const u8 *parked_output(const struct parked *k)
{
	return k->data + k->state_enc + k->ram_enc;
}

int template_unpack_ram(const struct templates *ts, const struct parked *k, u8 *ram)
{
	const struct template *t = ts->t[k->tmpl];
	const u8 *enc = k->data + k->state_enc;
	size_t pos = 0, next = 0, skip, len;

	/* Where the guest's page was the template's, the template's bytes are its own. */
	for (size_t i = 0;; i++) {
		size_t entry = GUEST_RAM_PAGES; /* the next page the record holds */

		if (pos < k->ram_enc) {
			if (!delta_get_num(enc, k->ram_enc, &pos, &skip) ||
			    !delta_get_num(enc, k->ram_enc, &pos, &len) || skip > GUEST_RAM_PAGES - next ||
			    len > GUEST_PAGE_SIZE || len > k->ram_enc - pos || next + skip == GUEST_RAM_PAGES)
				return -1;
			entry = next + skip;
		}
		for (; i < entry; i++)
			if (t->page[i])
				memcpy(ram + i * GUEST_PAGE_SIZE, t->page[i], GUEST_PAGE_SIZE);
		if (entry == GUEST_RAM_PAGES)
			return 0;
		if (len == GUEST_PAGE_SIZE)
			memcpy(ram + i * GUEST_PAGE_SIZE, enc + pos, GUEST_PAGE_SIZE);
		else if (delta_decode(enc + pos, len, t->page[i], ram + i * GUEST_PAGE_SIZE, GUEST_PAGE_SIZE) < 0)
			return -1;
		pos += len;
		next = i + 1;
	}
}

const struct park *template_unpack_state(const struct templates *ts, const struct parked *k)
{
	static __thread union {
		struct park p;
		u8 bytes[sizeof(((struct template *)0)->state)];
	} s;
	const struct template *t = ts->t[k->tmpl];

	if (k->state_len > sizeof(s) || delta_decode(k->data, k->state_enc, t->state, s.bytes, k->state_len) < 0 ||
	    template_state_len(&s.p) != k->state_len)
		return NULL;
	return &s.p;
}

void templates_free(struct templates *ts)
{
	for (u32 i = 0; i < ts->n; i++) {
		for (size_t j = 0; j < GUEST_RAM_PAGES; j++)
			free(ts->t[i]->page[j]);
		free(ts->t[i]);
	}
	free(ts->t);
	free(ts->scratch);
	memset(ts, 0, sizeof(*ts));
}
