/* test_loader.c - boot-sector checks, built-in lookup and placement at 0x7c00. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"
#include "layout.h"
#include "loader.h"
#include "mem.h"

static void make_sector(u8 *s)
{
	memset(s, 0x90, BOOT_SIZE);
	s[510] = 0x55;
	s[511] = 0xaa;
}

static void test_valid_sector_accepted(void **state)
{
	u8 s[BOOT_SIZE];
	char err[128];

	make_sector(s);
	assert_int_equal(loader_check(s, BOOT_SIZE, "x", err, sizeof(err)), 0);
}

static void test_empty_image_named_empty(void **state)
{
	u8 s[BOOT_SIZE] = { 0 };
	char err[128];

	assert_int_equal(loader_check(s, 0, "x.img", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "x.img: image is empty"));
}

static void test_oversized_and_short_images_refused(void **state)
{
	u8 s[BOOT_SIZE + 1];
	char err[160];

	make_sector(s);
	/* a disk image: sector 0 boots, the rest is the guest's disk */
	assert_int_equal(loader_check(s, BOOT_SIZE + 1, "x", err, sizeof(err)), 0);
	/* beyond what CHS addresses: loader_check reads only sector 0 */
	assert_int_equal(loader_check(s, DISK_MAX_BYTES + 1, "x", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "too large (528482305 bytes)"));
	assert_int_equal(loader_check(s, 100, "x", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "too small (100 bytes)"));
}

static void test_missing_signature_refused(void **state)
{
	u8 s[BOOT_SIZE];
	char err[128];

	make_sector(s);
	s[511] = 0xab;
	assert_int_equal(loader_check(s, BOOT_SIZE, "x", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "found 0x55 0xab"));
}

static void test_builtin_guest_found_by_name(void **state)
{
	struct image img;
	char err[128];

	assert_int_equal(loader_open("hello", &img, err, sizeof(err)), 0);
	assert_int_equal(img.bytes[510], 0x55);
	assert_int_equal(img.bytes[511], 0xaa);
}

static void test_unknown_name_lists_builtins(void **state)
{
	struct image img;
	char err[256];

	assert_int_equal(loader_open("no-such-guest", &img, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "built-in: hello"));
}

static void test_file_image_read_and_checked(void **state)
{
	char path[] = "/tmp/kvmlite-test-XXXXXX";
	int fd = mkstemp(path);
	u8 s[BOOT_SIZE];
	struct image img;
	char err[256];

	assert_true(fd >= 0);
	make_sector(s);
	s[0] = 0xf4;
	assert_int_equal(write(fd, s, BOOT_SIZE), BOOT_SIZE);
	assert_int_equal(loader_open(path, &img, err, sizeof(err)), 0);
	assert_int_equal(img.bytes[0], 0xf4);
	assert_int_equal(img.disk.sectors, 1);
	loader_close(&img);
	assert_int_equal(write(fd, s, 1), 1); /* now 513 bytes: a disk of two sectors */
	assert_int_equal(loader_open(path, &img, err, sizeof(err)), 0);
	assert_int_equal(img.disk.sectors, 2);
	assert_int_equal(img.disk.size, 513);
	loader_close(&img);
	assert_int_equal(ftruncate(fd, 100), 0);
	assert_int_equal(loader_open(path, &img, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "too small"));
	close(fd);
	unlink(path);
	assert_int_equal(loader_open(path, &img, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cannot open image"));
}

static void test_sector_placed_at_0x7c00(void **state)
{
	static u8 ram[GUEST_RAM_SIZE];
	struct image img;

	make_sector(img.bytes);
	img.bytes[0] = 0xea;
	assert_int_equal(loader_place(&img, ram, sizeof(ram), false), 0);
	assert_int_equal(ram[BOOT_ADDR], 0xea);
	assert_int_equal(ram[BOOT_ADDR + 511], 0xaa);
	assert_int_equal(ram[BOOT_ADDR - 1], 0);
	assert_int_equal(ram[FIRMWARE_ADDR + FIRMWARE_RESET_OFF], 0); /* no firmware asked for */
	/* RAM too small to hold 0x7c00-0x7dff: refused, nothing written */
	assert_int_equal(loader_place(&img, ram, BOOT_ADDR + 100, false), -1);
}

static void test_guest_ptr_bounds(void **state)
{
	static u8 ram[0x1000];

	assert_ptr_equal(mem_guest_ptr(ram, sizeof(ram), 0, 0x1000), ram);
	assert_ptr_equal(mem_guest_ptr(ram, sizeof(ram), 0xfff, 1), ram + 0xfff);
	assert_null(mem_guest_ptr(ram, sizeof(ram), 0xfff, 2));
	assert_null(mem_guest_ptr(ram, sizeof(ram), 0x1001, 0));
	assert_null(mem_guest_ptr(ram, sizeof(ram), UINT64_MAX, 2));
	assert_null(mem_guest_ptr(ram, sizeof(ram), 1, SIZE_MAX));
}

static void test_firmware_is_one_page_with_reset_jump(void **state)
{
	size_t len;
	const u8 *fw = loader_firmware(&len);

	assert_int_equal(len, FIRMWARE_SIZE);
	/* where the vCPU starts, 16 bytes below the top: a near jump (0xe9) to the code */
	assert_int_equal(fw[FIRMWARE_RESET_OFF], 0xe9);
}

static void test_firmware_copied_into_guest_ram(void **state)
{
	static u8 ram[GUEST_RAM_SIZE];
	struct image img;
	size_t len;

	make_sector(img.bytes);
	assert_int_equal(loader_place(&img, ram, sizeof(ram), true), 0);
	assert_memory_equal(ram + FIRMWARE_ADDR, loader_firmware(&len), FIRMWARE_SIZE);
	assert_int_equal(ram[BOOT_ADDR + 510], 0x55);
	/* RAM that ends below the firmware: refused, nothing written */
	memset(ram, 0, sizeof(ram));
	assert_int_equal(loader_place(&img, ram, FIRMWARE_ADDR, true), -1);
	assert_int_equal(ram[BOOT_ADDR + 510], 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_sector_accepted),
		cmocka_unit_test(test_empty_image_named_empty),
		cmocka_unit_test(test_oversized_and_short_images_refused),
		cmocka_unit_test(test_missing_signature_refused),
		cmocka_unit_test(test_builtin_guest_found_by_name),
		cmocka_unit_test(test_unknown_name_lists_builtins),
		cmocka_unit_test(test_file_image_read_and_checked),
		cmocka_unit_test(test_sector_placed_at_0x7c00),
		cmocka_unit_test(test_guest_ptr_bounds),
		cmocka_unit_test(test_firmware_is_one_page_with_reset_jump),
		cmocka_unit_test(test_firmware_copied_into_guest_ram),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
