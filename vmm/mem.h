/* mem.h - guest RAM: one MAP_NORESERVE arena sliced per guest, checked pointers. */
#ifndef KVMLITE_MEM_H
#define KVMLITE_MEM_H

#include "types.h"

/*
 * All guests of a process take their RAM from one arena: one mapping, one
 * entry in /proc/self/maps however many guests there are. It is reserved
 * with MAP_NORESERVE, so only pages a guest touches cost host memory.
 */
struct arena {
	u8 *base;
	size_t slots;	  /* how many guests it holds */
	size_t slot_size; /* bytes per guest: its RAM and, in a shard, room up to GUEST_SLOT_SIZE */
};

int arena_init(struct arena *a, size_t slots, size_t slot_size, char *err, size_t errlen);
void arena_free(struct arena *a);
u8 *arena_slot(const struct arena *a, size_t i);
/* Gives slots i..i+n-1 back to the host, in one call: their pages read as zero again. */
void arena_release(struct arena *a, size_t i, size_t n);
/* Zeros the pages of slot i that were touched, and keeps them: no
 * MADV_DONTNEED, whose cost grows with the KVM VMs in the process. */
void arena_clear(struct arena *a, size_t i);
/* The slot that ram (a slot's first byte) is. */
size_t arena_index(const struct arena *a, const u8 *ram);

/*
 * The one way to turn a guest-physical address into a host pointer: NULL
 * unless all of [gpa, gpa + len) lies inside the guest's RAM.
 */
void *mem_guest_ptr(u8 *ram, size_t ram_size, u64 gpa, size_t len);

#endif
