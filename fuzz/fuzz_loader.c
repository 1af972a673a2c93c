/* fuzz_loader.c - libFuzzer target: the loader's boot-sector checks, on bytes and on files of any content. */
#define _GNU_SOURCE /* memfd_create */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "layout.h"
#include "loader.h"

/*
 * The loader has one promise: an image is accepted exactly when it is 512
 * bytes ending in 0x55 0xaa, and then those bytes, unchanged, are what
 * lands at 0x7c00; anything else gets a message. The first input byte
 * picks the way in: loader_check on the bytes, loader_open on a file
 * holding them (a memfd, by its /proc path), or loader_open on a name
 * (built-in guests; never a path, so the fuzzer opens no file of the host's).
 */

/* An image: sector 0 a boot sector, the whole at most DISK_MAX_BYTES. */
static bool is_boot_sector(const u8 *data, size_t len)
{
	return len >= BOOT_SIZE && len <= DISK_MAX_BYTES && data[BOOT_SIZE - 2] == 0x55 && data[BOOT_SIZE - 1] == 0xaa;
}

/* An error message is a NUL-terminated string that says something. */
static void check_err(const char *err, size_t errlen)
{
	FUZZ_CHECK(memchr(err, '\0', errlen));
	FUZZ_CHECK(errlen == 1 || err[0] != '\0');
}

/* Places an accepted image (and the firmware, if asked) into RAM of a fuzzed size: all of it, or nothing. */
static void check_place(const struct image *img, size_t ram_size, bool firmware)
{
	u8 *ram = calloc(1, ram_size ? ram_size : 1);
	bool fits = BOOT_ADDR + BOOT_SIZE <= ram_size && (!firmware || FIRMWARE_ADDR + FIRMWARE_SIZE <= ram_size);
	size_t fw_len;
	int rc;

	if (!ram)
		abort();
	rc = loader_place(img, ram, ram_size, firmware);
	FUZZ_CHECK(rc == (fits ? 0 : -1));
	if (!rc)
		FUZZ_CHECK(!memcmp(ram + BOOT_ADDR, img->bytes, BOOT_SIZE));
	if (!rc && firmware)
		FUZZ_CHECK(!memcmp(ram + FIRMWARE_ADDR, loader_firmware(&fw_len), FIRMWARE_SIZE));
	for (size_t i = 0; rc && i < ram_size; i++)
		FUZZ_CHECK(ram[i] == 0);
	free(ram);
}

static void fuzz_file(const u8 *data, size_t len, size_t ram_size, bool firmware)
{
	char path[64], err[256];
	struct image img;
	int fd = memfd_create("fuzz-image", MFD_CLOEXEC), rc;

	if (fd < 0 || write(fd, data, len) != (ssize_t)len)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	rc = loader_open(path, &img, err, sizeof(err));
	close(fd);
	FUZZ_CHECK(rc == (is_boot_sector(data, len) ? 0 : -1));
	FUZZ_CHECK(memchr(img.name, '\0', sizeof(img.name)));
	if (rc) {
		check_err(err, sizeof(err));
		return;
	}
	FUZZ_CHECK(!memcmp(img.bytes, data, BOOT_SIZE));
	/* the whole file is the guest's disk, in whole sectors, with a geometry that holds it */
	FUZZ_CHECK(img.disk.size == len && !memcmp(img.disk.bytes, data, len));
	FUZZ_CHECK(img.disk.sectors == (len + DISK_SECTOR - 1) / DISK_SECTOR);
	FUZZ_CHECK(img.disk.heads >= 1 && img.disk.heads <= 16 && img.disk.spt >= 1 && img.disk.spt <= 63);
	FUZZ_CHECK(img.disk.cyls >= 1 && img.disk.cyls <= 1024 && img.disk.cyls <= img.disk.pcyls);
	check_place(&img, ram_size, firmware);
	loader_close(&img);
}

static void fuzz_name(const u8 *data, size_t len)
{
	char name[80], err[256];
	struct image img;
	size_t n = len < sizeof(name) - 1 ? len : sizeof(name) - 1;
	int rc;

	/* No '/' and no NUL: a name, which loader_open looks up as a file in the working directory first. */
	for (size_t i = 0; i < n; i++)
		name[i] = data[i] == '/' || !data[i] ? '_' : (char)data[i];
	name[n] = '\0';
	rc = loader_open(name, &img, err, sizeof(err));
	FUZZ_CHECK(memchr(img.name, '\0', sizeof(img.name)));
	if (rc)
		check_err(err, sizeof(err));
	else
		FUZZ_CHECK(is_boot_sector(img.bytes, BOOT_SIZE));
	loader_close(&img);
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	struct fuzz_in in = { data, size };
	u8 mode = fuzz_u8(&in);
	size_t errlen = fuzz_u8(&in) + 1u, ram_size = fuzz_u16(&in) * 16u; /* up to 1 MiB: past the firmware */
	char *err = malloc(errlen);
	u8 *bytes = malloc(in.left ? in.left : 1);
	int rc;

	if (!err || !bytes)
		abort();
	/* Exactly the input's length, so a read past it is a heap overflow. */
	memcpy(bytes, in.p, in.left);
	switch (mode % 3) {
	case 0:
		rc = loader_check(bytes, in.left, "fuzz", err, errlen);
		FUZZ_CHECK(rc == (is_boot_sector(bytes, in.left) ? 0 : -1));
		if (rc)
			check_err(err, errlen);
		break;
	case 1:
		fuzz_file(bytes, in.left, ram_size, mode & 4);
		break;
	default:
		fuzz_name(bytes, in.left);
		break;
	}
	free(err);
	free(bytes);
	return 0;
}
