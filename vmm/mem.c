/* mem.c - the guest RAM arena and the bounds-checked guest pointer. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "layout.h"
#include "mem.h"

int arena_init(struct arena *a, size_t slots, size_t slot_size, char *err, size_t errlen)
{
	/* Slots a page table's reach each start on one (layout.h, GUEST_SLOT_SIZE). */
	size_t len = slots * slot_size, align = slot_size % GUEST_SLOT_SIZE ? 0 : GUEST_SLOT_SIZE;
	u8 *map;

	memset(a, 0, sizeof(*a));
	if (slots == 0 || slot_size == 0 || slot_size % GUEST_PAGE_SIZE || len / slots != slot_size) {
		snprintf(err, errlen, "arena: bad geometry");
		return -1;
	}
	map = mmap(NULL, len + align, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (map == MAP_FAILED) {
		snprintf(err, errlen, "mmap of %zu KiB guest RAM arena: %s", len / 1024, strerror(errno));
		return -1;
	}
	a->base = align ? (u8 *)(((uintptr_t)map + align - 1) & ~(uintptr_t)(align - 1)) : map;
	/* What lies before and after the aligned arena goes: one mapping stays. */
	if (a->base > map)
		munmap(map, (size_t)(a->base - map));
	if (map + len + align > a->base + len)
		munmap(a->base + len, (size_t)(map + len + align - (a->base + len)));
	/* A guest touches a few 4 KiB pages of its slot: never let a fault
	 * fill one with a 2 MiB huge page (THP "always"). */
	madvise(a->base, len, MADV_NOHUGEPAGE);
	a->slots = slots;
	a->slot_size = slot_size;
	return 0;
}

void arena_free(struct arena *a)
{
	if (a->base)
		munmap(a->base, a->slots * a->slot_size);
	memset(a, 0, sizeof(*a));
}

u8 *arena_slot(const struct arena *a, size_t i)
{
	return i < a->slots ? a->base + i * a->slot_size : NULL;
}

void arena_release(struct arena *a, size_t i, size_t n)
{
	if (i < a->slots && n <= a->slots - i)
		madvise(a->base + i * a->slot_size, n * a->slot_size, MADV_DONTNEED);
}

void arena_clear(struct arena *a, size_t i)
{
	unsigned char vec[1024];
	u8 *slot = arena_slot(a, i);
	size_t pages = a->slot_size / GUEST_PAGE_SIZE;

	if (!slot)
		return;
	if (pages > sizeof(vec) || mincore(slot, a->slot_size, vec) < 0) {
		memset(slot, 0, a->slot_size); /* every page, then: slower, as exact */
		return;
	}
	for (size_t p = 0; p < pages; p++)
		if (vec[p] & 1)
			memset(slot + p * GUEST_PAGE_SIZE, 0, GUEST_PAGE_SIZE);
}

size_t arena_index(const struct arena *a, const u8 *ram)
{
	return (size_t)(ram - a->base) / a->slot_size;
}

void *mem_guest_ptr(u8 *ram, size_t ram_size, u64 gpa, size_t len)
{
	if (gpa > ram_size || len > ram_size - gpa)
		return NULL;
	return ram + gpa;
}
