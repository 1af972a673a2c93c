/* fuzz.h - what the libFuzzer targets share: typed reads from the fuzz input, and checks that trap. */
#ifndef KVMLITE_FUZZ_H
#define KVMLITE_FUZZ_H

#include <stdio.h>

#include "types.h"

/*
 * The fuzz input, read from the front as a little program of operations.
 * Reads past the end give zeros, so every byte string is a valid program
 * and the fuzzer never wastes time on inputs the decoder rejects.
 */
struct fuzz_in {
	const u8 *p;
	size_t left;
};

static inline u8 fuzz_u8(struct fuzz_in *in)
{
	if (!in->left)
		return 0;
	in->left--;
	return *in->p++;
}

static inline u16 fuzz_u16(struct fuzz_in *in)
{
	u16 lo = fuzz_u8(in);

	return (u16)(lo | fuzz_u8(in) << 8);
}

static inline u32 fuzz_u32(struct fuzz_in *in)
{
	u32 lo = fuzz_u16(in);

	return lo | (u32)fuzz_u16(in) << 16;
}

static inline u64 fuzz_u64(struct fuzz_in *in)
{
	u64 lo = fuzz_u32(in);

	return lo | (u64)fuzz_u32(in) << 32;
}

/* An access size for a device's io function: 1, 2 or 4, mostly 1 as real guests do. */
static inline int fuzz_size(struct fuzz_in *in)
{
	static const int sizes[4] = { 1, 2, 4, 1 };

	return sizes[fuzz_u8(in) & 3];
}

/*
 * A promise of the model is broken: name it, then trap. The trap is a crash
 * to libFuzzer, so it stops, keeps the input and fails the make target.
 */
#define FUZZ_CHECK(cond)                                                                             \
	do {                                                                                         \
		if (!(cond)) {                                                                       \
			fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond); \
			__builtin_trap();                                                            \
		}                                                                                    \
	} while (0)

#endif
