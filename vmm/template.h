/* template.h - a shard's template of each image, and parked guests kept as their difference from it (RAM, vCPU state).
 */
#ifndef KVMLITE_TEMPLATE_H
#define KVMLITE_TEMPLATE_H

#include "layout.h"
#include "park.h"

#define GUEST_RAM_PAGES (GUEST_RAM_SIZE / GUEST_PAGE_SIZE)

/*
 * What the first guest of an image that a shard parked held: its RAM pages
 * (those it had touched) and its vCPU state. Guests of one image boot the
 * same sector with the same firmware, so their pages and registers are
 * mostly the same bytes: each parked guest keeps only how its own differ.
 * A template never changes once made, and is only ever combined with a
 * guest's own delta: what a guest gets back is its own bytes, exactly.
 */
struct template
{
	const void *image;					  /* the image its guests boot (the key) */
	u8 *page[GUEST_RAM_PAGES];				  /* page i's bytes; NULL where it had none (zeros) */
	u8 state[sizeof(struct park) + sizeof(struct kvm_xsave)]; /* struct park and XSAVE, zeros after */
};

/* A shard's templates, one per image its guests boot, and room to encode in. */
struct templates {
	struct template **t;
	u32 n;
	u8 *scratch;	     /* a whole RAM's worth of encoding, made at the first park */
	size_t scratch_used; /* how much of it was ever written (so much of it is resident) */
	size_t bytes;	     /* what the templates and the scratch take: a fixed cost per shard and image */
};

/* A parked guest as kept: deltas from its image's template, and its kept output. */
struct parked {
	u32 counted;   /* what the parked guest takes in all, as its shard counted it */
	u16 tmpl;      /* its template, in the shard's list */
	u16 pages;     /* its RAM's resident pages when it was parked */
	u16 state_len; /* its vCPU state's full length (struct park and XSAVE) */
	u16 state_enc; /* bytes of its delta */
	u32 ram_enc;   /* bytes of its RAM's delta: pages, each as a delta or raw */
	u32 out_len;   /* output bytes kept, after the deltas, as they were */
	u8 data[];
};

/*
 * Keeps a halted guest's state p (park_save) and its RAM (GUEST_RAM_SIZE
 * bytes at ram, of which only resident pages are read) as deltas from the
 * template of `image`, made from this guest if there is none yet. The
 * caller may then give the RAM back. NULL with errno (ENOMEM).
 */
struct parked *template_pack(struct templates *ts, const void *image, const struct park *p, const u8 *ram);
/* Writes a parked guest's RAM back byte for byte into ram, which must read
 * as zeros (given back). -1 if the record is damaged. */
int template_unpack_ram(const struct templates *ts, const struct parked *k, u8 *ram);
/* Its vCPU state, for park_restore() (valid until the next call on this
 * thread); NULL if the record is damaged. */
const struct park *template_unpack_state(const struct templates *ts, const struct parked *k);
/* The output it kept. */
const u8 *parked_output(const struct parked *k);
void templates_free(struct templates *ts);

#endif
