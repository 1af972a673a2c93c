/* test_disk.c - int 13h over an image: geometry as QEMU guesses it, transfers, the overlay, errors as SeaBIOS. */
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "disk.h"
#include "layout.h"

#define FRAME 0x7000 /* where the tests put the firmware's register frame */
#define BUF   0x8000 /* and the guest's buffer */

/* the frame the firmware pushes: pushal, ES, DS, then IP, CS, FLAGS */
enum { EDI = 0, ESI = 4, EBX = 16, EDX = 20, ECX = 24, EAX = 28, ES = 32, DS = 34, FLAGS = 40 };

struct fx {
	u8 *ram;
	u8 *img;
	struct disk_image di;
	struct disk d;
};

static struct fx *fx_new(u32 sectors)
{
	struct fx *f = calloc(1, sizeof(*f));

	f->ram = calloc(1, GUEST_RAM_SIZE);
	f->img = calloc(sectors, DISK_SECTOR);
	for (u32 i = 0; i < sectors; i++)
		memset(f->img + (size_t)i * DISK_SECTOR, (int)(i & 0xff), DISK_SECTOR); /* sector i holds i */
	f->img[510] = 0x55;
	f->img[511] = 0xaa;
	f->di = (struct disk_image){ .bytes = f->img, .size = (u64)sectors * DISK_SECTOR, .sectors = sectors };
	disk_geometry(&f->di);
	f->d.img = &f->di;
	return f;
}

static void fx_free(struct fx *f)
{
	disk_free(&f->d);
	free(f->img);
	free(f->ram);
	free(f);
}

static u16 reg(struct fx *f, int off)
{
	return (u16)(f->ram[FRAME + off] | f->ram[FRAME + off + 1] << 8);
}

static void set(struct fx *f, int off, u16 v)
{
	f->ram[FRAME + off] = (u8)v;
	f->ram[FRAME + off + 1] = (u8)(v >> 8);
}

static int call(struct fx *f, u16 ax, u16 bx, u16 cx, u16 dx)
{
	u8 fn;

	set(f, EAX, ax);
	set(f, EBX, bx);
	set(f, ECX, cx);
	set(f, EDX, dx);
	set(f, ES, 0);
	set(f, DS, 0);
	f->ram[FRAME + FLAGS] = 0x02;
	return disk_call(&f->d, f->ram, GUEST_RAM_SIZE, FRAME, &fn);
}

static bool cf(struct fx *f)
{
	return f->ram[FRAME + FLAGS] & 1;
}

/* An LBA call through a disk address packet at 0x600. */
static int ext(struct fx *f, u8 ah, u64 lba, u16 count)
{
	u8 *dap = f->ram + 0x600;

	memset(dap, 0, 16);
	dap[0] = 16;
	dap[2] = (u8)count;
	dap[3] = (u8)(count >> 8);
	dap[4] = (u8)BUF;
	dap[5] = (u8)(BUF >> 8);
	memcpy(dap + 8, &lba, 8);
	set(f, ESI, 0x600);
	f->ram[FRAME + EAX + 1] = ah;
	set(f, EDX, DISK_DRIVE);
	set(f, DS, 0);
	f->ram[FRAME + FLAGS] = 0x02;
	u8 fn;
	return disk_call(&f->d, f->ram, GUEST_RAM_SIZE, FRAME, &fn);
}

static void test_geometry_from_size_has_16_heads_63_sectors_at_least_2_cylinders(void **state)
{
	struct fx *f = fx_new(1); /* a lone boot sector */

	assert_int_equal(f->di.cyls, 2);
	assert_int_equal(f->di.heads, 16);
	assert_int_equal(f->di.spt, 63);
	fx_free(f);
	f = fx_new(2880); /* 1.44 MB: QEMU makes an IDE disk of it, 2880 / 1008 = 2 cylinders */
	assert_int_equal(f->di.cyls, 2);
	fx_free(f);
	f = fx_new(20160);
	assert_int_equal(f->di.cyls, 20);
	fx_free(f);
}

static void test_geometry_from_a_partition_table_qemu_believes(void **state)
{
	struct fx *f = fx_new(4096);
	u8 *p = f->img + 0x1be;

	p[5] = 3;     /* end head: 4 heads */
	p[6] = 32;    /* end sector: 32 a track */
	p[12] = 0xe0; /* sectors in it: not 0 */
	disk_geometry(&f->di);
	assert_int_equal(f->di.heads, 4);
	assert_int_equal(f->di.spt, 32);
	assert_int_equal(f->di.cyls, 4096 / (4 * 32));
	p[5] = 0xfe; /* 255 heads: an LBA-translated table, QEMU falls back on 16/63 */
	p[6] = 0x3f;
	disk_geometry(&f->di);
	assert_int_equal(f->di.heads, 16);
	assert_int_equal(f->di.spt, 63);
	fx_free(f);
}

static void test_chs_read_moves_sectors_and_counts_them(void **state)
{
	struct fx *f = fx_new(64);

	/* 3 sectors from cylinder 0, head 0, sector 2 (LBA 1) to 0000:8000 */
	assert_int_equal(call(f, 0x0203, BUF, 0x0002, DISK_DRIVE), 0);
	assert_false(cf(f));
	assert_int_equal(reg(f, EAX), 0x0003);
	assert_int_equal(f->ram[BUF], 1);
	assert_int_equal(f->ram[BUF + 2 * DISK_SECTOR + 511], 3);
	assert_int_equal(f->ram[BDA_ADDR + 0x74], 0); /* the BDA's last status */
	fx_free(f);
}

static void test_chs_errors_as_seabios(void **state)
{
	struct fx *f = fx_new(64);

	/* sector 0 does not exist: EPARAM, AL as it was */
	assert_int_equal(call(f, 0x0205, BUF, 0x0000, DISK_DRIVE), DISK_RET_EPARAM);
	assert_true(cf(f));
	assert_int_equal(reg(f, EAX), 0x0105);
	assert_int_equal(f->ram[BDA_ADDR + 0x74], 1);
	/* AH=01 reports it */
	assert_int_equal(call(f, 0x0100, 0, 0, DISK_DRIVE), 1);
	assert_true(cf(f));
	/* no second disk, no floppy */
	assert_int_equal(call(f, 0x0201, BUF, 0x0001, 0x81), DISK_RET_EPARAM);
	assert_int_equal(call(f, 0x0201, BUF, 0x0001, 0x00), DISK_RET_EPARAM);
	assert_int_equal(f->ram[BDA_ADDR + 0x41], 1); /* a floppy call sets the floppy's status */
	/* past the end of a small image, within its geometry: the sectors before it, then EBADTRACK */
	assert_int_equal(call(f, 0x0204, BUF, 0x003e, DISK_DRIVE), DISK_RET_EBADTRACK); /* LBA 61.. */
	assert_int_equal(reg(f, EAX), 0x0c03);
	assert_int_equal(f->ram[BUF + 2 * DISK_SECTOR], 63);
	fx_free(f);
}

static void test_lba_read_write_overlay_never_touches_the_image(void **state)
{
	struct fx *f = fx_new(64), *g = fx_new(64);

	g->d.img = &f->di; /* a second guest of the same image */
	memset(f->ram + BUF, 0xab, DISK_SECTOR);
	assert_int_equal(ext(f, 0x43, 10, 1), 0);
	assert_int_equal(f->img[10 * DISK_SECTOR], 10); /* the image is untouched */
	memset(f->ram + BUF, 0, DISK_SECTOR);
	assert_int_equal(ext(f, 0x42, 9, 3), 0);
	assert_int_equal(f->ram[BUF], 9);
	assert_int_equal(f->ram[BUF + DISK_SECTOR], 0xab); /* this guest reads what it wrote */
	assert_int_equal(f->ram[BUF + 2 * DISK_SECTOR], 11);
	assert_int_equal(ext(g, 0x42, 10, 1), 0);
	assert_int_equal(g->ram[BUF], 10); /* the other guest does not */
	assert_true(disk_overlay_bytes(&f->d) >= DISK_SECTOR);
	assert_int_equal(disk_overlay_bytes(&g->d), 0);
	g->d.img = &g->di;
	fx_free(g);
	fx_free(f);
}

static void test_lba_errors_and_limits(void **state)
{
	struct fx *f = fx_new(64);

	assert_int_equal(ext(f, 0x42, 64, 1), DISK_RET_EPARAM);	   /* past the end */
	assert_int_equal(ext(f, 0x42, 63, 3), DISK_RET_EBADTRACK); /* the last sector only */
	assert_int_equal(f->ram[0x602], 1);
	assert_int_equal(ext(f, 0x42, 0, 129), DISK_RET_EBOUNDARY); /* more than 64 KiB */
	assert_int_equal(f->ram[0x602], 0);
	assert_int_equal(ext(f, 0x42, 0, 0), 0); /* nothing to do */
	fx_free(f);
}

static void test_overlay_is_bounded_a_guest_cannot_eat_the_host(void **state)
{
	struct fx *f = fx_new(DISK_OVERLAY_MAX + 64);

	for (u32 lba = 0; lba < DISK_OVERLAY_MAX; lba += 64)
		assert_int_equal(ext(f, 0x43, lba, 64), 0);
	/* rewriting a sector it has is fine; one more is refused, as a write-protected disk */
	assert_int_equal(ext(f, 0x43, 5, 1), 0);
	assert_int_equal(ext(f, 0x43, DISK_OVERLAY_MAX, 1), DISK_RET_EWRITEPROTECT);
	assert_int_equal(f->ram[0x602], 0);
	assert_true(disk_overlay_bytes(&f->d) <= (size_t)DISK_OVERLAY_MAX * (DISK_SECTOR + 4));
	fx_free(f);
}

static void test_parameters_size_extensions_and_edd(void **state)
{
	struct fx *f = fx_new(2880); /* 2/16/63 */
	u8 *edd = f->ram + 0x700;

	assert_int_equal(call(f, 0x0800, 0, 0, DISK_DRIVE), 0);
	assert_int_equal(reg(f, ECX), 0x003f); /* last cylinder 0 (one kept back), 63 sectors */
	assert_int_equal(reg(f, EDX), 0x0f01); /* last head 15, one hard disk */
	assert_int_equal(call(f, 0x1500, 0, 0, DISK_DRIVE), 3);
	assert_int_equal(reg(f, EAX) >> 8, 3);
	assert_int_equal(reg(f, EDX), 1 * 16 * 63); /* cylinders - 1 */
	assert_false(cf(f));
	assert_int_equal(call(f, 0x4100, 0x55aa, 0, DISK_DRIVE), 0x30);
	assert_int_equal(reg(f, EBX), 0xaa55);
	assert_int_equal(reg(f, ECX), 0x0007);
	memset(edd, 0, 32);
	edd[0] = 30; /* a bigger buffer gets the 26 bytes of EDD 1.x */
	set(f, ESI, 0x700);
	assert_int_equal(call(f, 0x4800, 0, 0, DISK_DRIVE), 0);
	assert_int_equal(edd[0], 26);
	assert_int_equal(edd[2], 2);
	assert_int_equal(edd[4], 2);
	assert_int_equal(edd[8], 16);
	assert_int_equal(edd[12], 63);
	assert_int_equal(edd[16] | edd[17] << 8, 2880);
	assert_int_equal(edd[24] | edd[25] << 8, 512);
	edd[0] = 25;
	assert_int_equal(call(f, 0x4800, 0, 0, DISK_DRIVE), DISK_RET_EPARAM);
	fx_free(f);
}

static void test_unknown_function_is_eparam_and_named_missing(void **state)
{
	struct fx *f = fx_new(8);

	assert_int_equal(call(f, 0x7f00, 0, 0, DISK_DRIVE), -1);
	assert_true(cf(f));
	assert_int_equal(reg(f, EAX) >> 8, DISK_RET_EPARAM);
	fx_free(f);
}

static void test_frame_outside_ram_is_ignored(void **state)
{
	struct fx *f = fx_new(8);
	u8 fn;

	assert_int_equal(disk_call(&f->d, f->ram, GUEST_RAM_SIZE, GUEST_RAM_SIZE - 10, &fn), DISK_RET_EPARAM);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_geometry_from_size_has_16_heads_63_sectors_at_least_2_cylinders),
		cmocka_unit_test(test_geometry_from_a_partition_table_qemu_believes),
		cmocka_unit_test(test_chs_read_moves_sectors_and_counts_them),
		cmocka_unit_test(test_chs_errors_as_seabios),
		cmocka_unit_test(test_lba_read_write_overlay_never_touches_the_image),
		cmocka_unit_test(test_lba_errors_and_limits),
		cmocka_unit_test(test_overlay_is_bounded_a_guest_cannot_eat_the_host),
		cmocka_unit_test(test_parameters_size_extensions_and_edd),
		cmocka_unit_test(test_unknown_function_is_eparam_and_named_missing),
		cmocka_unit_test(test_frame_outside_ram_is_ignored),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
