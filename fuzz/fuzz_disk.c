/* fuzz_disk.c - libFuzzer target: int 13h with guest-chosen frames; the image never changes, the overlay is bounded. */
#include <stdlib.h>
#include <string.h>

#include "disk.h"
#include "fuzz.h"
#include "layout.h"

/*
 * Input: SECTORS (1-64), TRIM (bytes short of whole sectors, but at least
 * one sector, as the loader ensures), 16 bytes of partition entry for 0x1be, then
 * calls: FRAME32 AX BX CX DX SI DS ES (16 bits each) DAP16. The frame is
 * put where the guest says (anywhere, also outside RAM), the packet at
 * DS:SI if that is RAM. Every call must leave the image as it was, keep
 * the overlay within DISK_OVERLAY_MAX sectors, and return a status or -1.
 */
static void put16(u8 *ram, u64 at, u16 v)
{
	if (at + 2 <= GUEST_RAM_SIZE) {
		ram[at] = (u8)v;
		ram[at + 1] = (u8)(v >> 8);
	}
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	struct fuzz_in in = { data, size };
	u32 sectors = fuzz_u8(&in) % 64 + 1;
	size_t trim = fuzz_u8(&in) % 200, len = (size_t)sectors * DISK_SECTOR - (sectors > 1 ? trim : 0);
	u8 *img = malloc(len), *copy = malloc(len), *ram = calloc(1, GUEST_RAM_SIZE);
	struct disk_image di = { 0 };
	struct disk d = { 0 };

	if (!img || !copy || !ram)
		abort();
	for (size_t i = 0; i < len; i++)
		img[i] = (u8)(i / DISK_SECTOR);
	for (int i = 0; i < 16; i++)
		img[0x1be + i] = fuzz_u8(&in);
	img[510] = 0x55;
	img[511] = 0xaa;
	memcpy(copy, img, len);
	di = (struct disk_image){ .bytes = img, .size = len, .sectors = (u32)((len + DISK_SECTOR - 1) / DISK_SECTOR) };
	disk_geometry(&di);
	FUZZ_CHECK(di.heads >= 1 && di.heads <= 16 && di.spt >= 1 && di.spt <= 63);
	FUZZ_CHECK(di.cyls >= 1 && di.cyls <= 1024 && di.cyls <= di.pcyls);
	d.img = &di;
	while (in.left) {
		u64 frame = fuzz_u32(&in) % (GUEST_RAM_SIZE + 0x100);
		u16 regs[7];
		u8 fn;
		int r;

		for (int i = 0; i < 7; i++)
			regs[i] = fuzz_u16(&in);
		put16(ram, frame + 28, regs[0]); /* AX BX CX DX SI DS ES, as the firmware's frame holds them */
		put16(ram, frame + 16, regs[1]);
		put16(ram, frame + 24, regs[2]);
		put16(ram, frame + 20, regs[3]);
		put16(ram, frame + 4, regs[4]);
		put16(ram, frame + 34, regs[5]);
		put16(ram, frame + 32, regs[6]);
		for (u64 i = 0, at = ((u64)regs[5] << 4) + regs[4]; i < 16; i++, at++) {
			u8 b = fuzz_u8(&in);

			if (at < GUEST_RAM_SIZE)
				ram[at] = b;
		}
		r = disk_call(&d, ram, GUEST_RAM_SIZE, frame, &fn);
		FUZZ_CHECK(r >= -1 && r <= 0xff);
		FUZZ_CHECK(d.n <= DISK_OVERLAY_MAX && d.n <= di.sectors);
		FUZZ_CHECK(!memcmp(img, copy, len)); /* writes go to the overlay, never the image */
	}
	disk_free(&d);
	free(img);
	free(copy);
	free(ram);
	return 0;
}
