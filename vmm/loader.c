/* loader.c - finds, checks and places boot-sector and disk images and the firmware; built-in ones live in images.S. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loader.h"
#include "mem.h"

#define DECLARE_IMAGE(n) extern const u8 image_##n[], image_##n##_end[]
DECLARE_IMAGE(firmware);
DECLARE_IMAGE(hello);
DECLARE_IMAGE(mvm);
DECLARE_IMAGE(tick);
DECLARE_IMAGE(alarm);
DECLARE_IMAGE(spin);
DECLARE_IMAGE(burst);
DECLARE_IMAGE(crash);

static const struct {
	const char *name;
	const u8 *start, *end;
} builtins[] = {
#define BUILTIN(n)                             \
	{                                      \
#n, image_##n, image_##n##_end \
	}
	BUILTIN(hello), BUILTIN(mvm), BUILTIN(tick), BUILTIN(alarm), BUILTIN(spin), BUILTIN(burst), BUILTIN(crash),
};

const char *loader_builtin_names(void)
{
	return "hello, mvm, tick, alarm, spin, burst, crash";
}

const u8 *loader_firmware(size_t *len)
{
	*len = (size_t)(image_firmware_end - image_firmware);
	return image_firmware;
}

int loader_check(const u8 *data, size_t len, const char *name, char *err, size_t errlen)
{
	if (len == 0) {
		snprintf(err, errlen, "%s: image is empty", name);
		return -1;
	}
	if (len < BOOT_SIZE) {
		snprintf(err, errlen, "%s: image is too small (%zu bytes); a boot sector is %d bytes", name, len,
			 BOOT_SIZE);
		return -1;
	}
	if (len > DISK_MAX_BYTES) {
		snprintf(err, errlen,
			 "%s: image is too large (%zu bytes); a disk image is at most %llu MiB, what CHS addresses",
			 name, len, DISK_MAX_BYTES >> 20);
		return -1;
	}
	if (data[BOOT_SIZE - 2] != (BOOT_SIGNATURE & 0xff) || data[BOOT_SIZE - 1] != BOOT_SIGNATURE >> 8) {
		snprintf(err, errlen, "%s: not a boot sector: it must end in 0x55 0xaa, found 0x%02x 0x%02x", name,
			 data[BOOT_SIZE - 2], data[BOOT_SIZE - 1]);
		return -1;
	}
	return 0;
}

/* The image as the guest's disk: its bytes, their sectors and geometry. */
static void loader_disk(struct image *img, const u8 *bytes, size_t len)
{
	memcpy(img->bytes, bytes, BOOT_SIZE);
	img->disk.bytes = bytes;
	img->disk.size = len;
	img->disk.sectors = (u32)((len + DISK_SECTOR - 1) / DISK_SECTOR);
	disk_geometry(&img->disk);
}

/*
 * A file is mapped read-only and shared: every guest of this image, in
 * every worker process (they inherit the mapping), reads the same page
 * cache pages; a guest's writes go to its own overlay (disk.c), never to
 * the file. The file must not shrink while kvmlite runs.
 */
static int loader_read_file(const char *path, struct image *img, char *err, size_t errlen)
{
	struct stat st;
	void *map;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot open image: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return -1;
	}
	if (st.st_size < BOOT_SIZE || (u64)st.st_size > DISK_MAX_BYTES) {
		close(fd);
		return loader_check(img->bytes, (size_t)st.st_size, path, err, errlen);
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (map == MAP_FAILED) {
		snprintf(err, errlen, "%s: cannot map image: %s", path, strerror(errno));
		return -1;
	}
	if (loader_check(map, (size_t)st.st_size, path, err, errlen) < 0) {
		munmap(map, (size_t)st.st_size);
		return -1;
	}
	img->mapped = true;
	loader_disk(img, map, (size_t)st.st_size);
	return 0;
}

int loader_open(const char *name_or_path, struct image *img, char *err, size_t errlen)
{
	memset(img, 0, sizeof(*img));
	snprintf(img->name, sizeof(img->name), "%s", name_or_path);
	if (strchr(name_or_path, '/') || access(name_or_path, F_OK) == 0)
		return loader_read_file(name_or_path, img, err, errlen);
	for (size_t i = 0; i < ARRAY_SIZE(builtins); i++) {
		if (strcmp(builtins[i].name, name_or_path) == 0) {
			size_t len = (size_t)(builtins[i].end - builtins[i].start);

			if (loader_check(builtins[i].start, len, name_or_path, err, errlen) < 0)
				return -1;
			loader_disk(img, builtins[i].start, len);
			return 0;
		}
	}
	snprintf(err, errlen, "%s: no such image file, and no built-in guest of that name (built-in: %s)", name_or_path,
		 loader_builtin_names());
	return -1;
}

void loader_close(struct image *img)
{
	if (img->mapped)
		munmap((void *)img->disk.bytes, img->disk.size);
	img->mapped = false;
	img->disk.bytes = NULL;
}

int loader_place(const struct image *img, u8 *ram, size_t ram_size, bool firmware)
{
	u8 *dst = mem_guest_ptr(ram, ram_size, BOOT_ADDR, BOOT_SIZE);
	u8 *fw = mem_guest_ptr(ram, ram_size, FIRMWARE_ADDR, FIRMWARE_SIZE);
	size_t fw_len;

	if (!dst || (firmware && !fw))
		return -1;
	memcpy(dst, img->bytes, BOOT_SIZE);
	/* The guest's own copy: 4 KiB of its RAM, and no memslot of its own
	 * (a second memslot costs the kernel 24 KiB a VM, layout.h). */
	if (firmware)
		memcpy(fw, loader_firmware(&fw_len), FIRMWARE_SIZE);
	return 0;
}
