/* loader.h - boot-sector and disk images: built-in ones by name or files by path, checked and placed at 0x7c00. */
#ifndef KVMLITE_LOADER_H
#define KVMLITE_LOADER_H

#include "disk.h"
#include "layout.h"
#include "types.h"

/*
 * A guest image: a 512-byte boot sector, or a raw disk image (up to 504
 * MiB) whose first sector is one. The guest boots from its first sector
 * and sees the whole image as its hard disk through int 13h.
 */
struct image {
	char name[64];
	u8 bytes[BOOT_SIZE];	/* sector 0, which the firmware would load at 0x7c00 */
	struct disk_image disk; /* the whole image, shared by all guests booting it */
	bool mapped;		/* disk.bytes is a mapping of the file (loader_close unmaps it) */
};

/*
 * Fills img from a built-in guest (hello, mvm, ...) or a file. A path is
 * anything with a '/' in it or an existing file; otherwise a built-in name.
 * Returns -1 with a message naming the problem in err.
 */
int loader_open(const char *name_or_path, struct image *img, char *err, size_t errlen);
/* Checks that data is an image: 512 bytes to 504 MiB, its first sector ending in 0x55 0xaa. */
int loader_check(const u8 *data, size_t len, const char *name, char *err, size_t errlen);
/* Gives back what loader_open took (a file's mapping). */
void loader_close(struct image *img);
/* Copies the boot sector into guest RAM at BOOT_ADDR, as a BIOS would, and
 * with firmware the firmware page at FIRMWARE_ADDR. -1 if RAM is too small. */
int loader_place(const struct image *img, u8 *ram, size_t ram_size, bool firmware);
/* The firmware page built from guest/firmware.S (FIRMWARE_SIZE bytes). */
const u8 *loader_firmware(size_t *len);
/* "hello, mvm, ..." for messages. */
const char *loader_builtin_names(void);

/* Guests with ids below `upto` (and above the previous entry's) boot `img`. */
struct guest_image {
	struct image img;
	u32 upto;
};

#endif
