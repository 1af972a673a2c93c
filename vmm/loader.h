/* loader.h - boot-sector images: built-in ones by name or files by path, checked and placed at 0x7c00. */
#ifndef KVMLITE_LOADER_H
#define KVMLITE_LOADER_H

#include "layout.h"
#include "types.h"

struct image {
	char name[64];
	u8 bytes[BOOT_SIZE];
};

/*
 * Fills img from a built-in guest (hello, mvm, ...) or a file. A path is
 * anything with a '/' in it or an existing file; otherwise a built-in name.
 * Returns -1 with a message naming the problem in err.
 */
int loader_open(const char *name_or_path, struct image *img, char *err, size_t errlen);
/* Checks that data is a boot sector: exactly 512 bytes ending in 0x55 0xaa. */
int loader_check(const u8 *data, size_t len, const char *name, char *err, size_t errlen);
/* Copies the boot sector into guest RAM at BOOT_ADDR, as a BIOS would, and
 * with firmware the firmware page at FIRMWARE_ADDR. -1 if RAM is too small. */
int loader_place(const struct image *img, u8 *ram, size_t ram_size, bool firmware);
/* The firmware page built from guest/firmware.S (FIRMWARE_SIZE bytes). */
const u8 *loader_firmware(size_t *len);
/* "hello, mvm, ..." for messages. */
const char *loader_builtin_names(void);

#endif
