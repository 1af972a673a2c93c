/* delta.c - how bytes differ from a base: XORed with it, runs of zeros (equal bytes) squeezed to a count. */
#include <string.h>

#include "delta.h"

/* A run of fewer equal bytes than this stays inside the XORed bytes: ending
 * the run and starting a new pair would cost two counts, at least 2 bytes. */
#define DELTA_RUN_MIN 3

static inline u8 delta_base(const u8 *base, size_t i)
{
	return base ? base[i] : 0;
}

/* The first index from i on where cur and base differ, or len. Eight bytes
 * at a time: most of a page is equal to its template's. */
static size_t delta_same_until(const u8 *cur, const u8 *base, size_t i, size_t len)
{
	for (; i + 8 <= len; i += 8) {
		u64 a, b = 0;

		memcpy(&a, cur + i, 8);
		if (base)
			memcpy(&b, base + i, 8);
		if (a != b)
			break;
	}
	while (i < len && cur[i] == delta_base(base, i))
		i++;
	return i;
}

/* The end of the differing bytes from i on: the start of the next run of
 * DELTA_RUN_MIN equal bytes, or of equal bytes up to len, or len. */
static size_t delta_differ_until(const u8 *cur, const u8 *base, size_t i, size_t len)
{
	while (i < len) {
		size_t j = i;

		if (cur[i] != delta_base(base, i)) {
			i++;
			continue;
		}
		while (j < len && j - i < DELTA_RUN_MIN && cur[j] == delta_base(base, j))
			j++;
		if (j == len || j - i == DELTA_RUN_MIN)
			break;
		i = j;
	}
	return i;
}

/* LEB128: seven bits a byte, low bits first, the top bit set on all but the last. */
bool delta_put_num(u8 *out, size_t cap, size_t *n, size_t v)
{
	do {
		if (*n == cap)
			return false;
		out[(*n)++] = (u8)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		v >>= 7;
	} while (v);
	return true;
}

bool delta_get_num(const u8 *enc, size_t len, size_t *pos, size_t *v)
{
	*v = 0;
	for (unsigned shift = 0; shift < 8 * sizeof(*v); shift += 7) {
		if (*pos == len)
			return false;
		u8 b = enc[(*pos)++];

		*v |= (size_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return true;
	}
	return false;
}

ssize_t delta_encode(const u8 *cur, const u8 *base, size_t len, u8 *out, size_t cap)
{
	size_t done = 0, i, n = 0; /* done: the bytes of cur the pairs so far describe */

	while ((i = delta_same_until(cur, base, done, len)) < len) {
		size_t end = delta_differ_until(cur, base, i, len);

		if (!delta_put_num(out, cap, &n, i - done) || !delta_put_num(out, cap, &n, end - i) ||
		    end - i > cap - n)
			return -1;
		for (; i < end; i++)
			out[n++] = cur[i] ^ delta_base(base, i);
		done = end;
	}
	return (ssize_t)n;
}

int delta_decode(const u8 *enc, size_t enc_len, const u8 *base, u8 *out, size_t len)
{
	size_t pos = 0, i = 0, skip, count;

	if (base)
		memcpy(out, base, len);
	else
		memset(out, 0, len);
	while (pos < enc_len) {
		if (!delta_get_num(enc, enc_len, &pos, &skip) || !delta_get_num(enc, enc_len, &pos, &count) ||
		    skip > len - i || count > len - i - skip || count > enc_len - pos)
			return -1;
		i += skip;
		for (size_t k = 0; k < count; k++, i++)
			out[i] ^= enc[pos++];
	}
	return 0;
}
