/* delta.h - how bytes differ from a base: XORed with it, runs of zeros (equal bytes) squeezed to a count. */
#ifndef KVMLITE_DELTA_H
#define KVMLITE_DELTA_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "types.h"

/*
 * The encoding is a sequence of pairs, each two LEB128 numbers and bytes:
 * SKIP (bytes equal to the base's), COUNT, then COUNT bytes XORed with the
 * base's. Bytes after the last pair are the base's. So bytes equal to the
 * base cost nothing at the end and one or two bytes elsewhere; an equal
 * buffer encodes to nothing at all. A NULL base is a buffer of zeros.
 */

/* Encodes how cur[0..len) differs from base into out; the bytes written,
 * or -1 if they would be more than cap. */
ssize_t delta_encode(const u8 *cur, const u8 *base, size_t len, u8 *out, size_t cap);
/* Rebuilds out[0..len) from base and an encoding; -1 (out partly
 * written) if enc is not one of a buffer of len bytes. */
int delta_decode(const u8 *enc, size_t enc_len, const u8 *base, u8 *out, size_t len);
/* Writes v as a LEB128 number at out[*n] and moves *n past it; false
 * (nothing more written) if it would pass cap. */
bool delta_put_num(u8 *out, size_t cap, size_t *n, size_t v);
/* Reads one LEB128 number at enc[*pos] into *v and moves *pos past it;
 * false if enc ends first or the number does not fit a size_t. */
bool delta_get_num(const u8 *enc, size_t len, size_t *pos, size_t *v);

#endif
