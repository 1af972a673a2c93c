/* disk.c - int 13h over a disk image: CHS and LBA transfers, geometry, status, as SeaBIOS serves an IDE disk. */
#include <stdlib.h>
#include <string.h>

#include "disk.h"
#include "layout.h"
#include "mem.h"

/*
 * The firmware's int 13h handler pushes all registers (pushal, ES, DS on
 * top of the interrupt's IP, CS, FLAGS) and writes the frame's address to
 * FW_DISK_PORT; everything else happens here, in one exit. The behaviour
 * follows SeaBIOS 1.16 (src/disk.c) on an ATA disk under QEMU 7.2, so that
 * a guest sees the same AH, AL, CF and geometry; tests/compat/ compares.
 */
enum {
	F_EDI = 0,
	F_ESI = 4,
	F_EBX = 16,
	F_EDX = 20,
	F_ECX = 24,
	F_EAX = 28,
	F_ES = 32,
	F_DS = 34,
	F_FLAGS = 40,
	F_SIZE = 42,
};
#define FLAGS_CF	  0x01
#define BDA_FLOPPY_STATUS 0x441 /* byte: last floppy int 13h status */
#define BDA_DISK_STATUS	  0x474 /* byte: last hard disk int 13h status */
#define BDA_DISK_IRQ_FLAG 0x48e /* byte: disk interrupt flag, cleared by each call */

static u16 rd16(const u8 *p)
{
	return (u16)(p[0] | p[1] << 8);
}

static u32 rd32(const u8 *p)
{
	return rd16(p) | (u32)rd16(p + 2) << 16;
}

static void wr16(u8 *p, u16 v)
{
	p[0] = (u8)v;
	p[1] = (u8)(v >> 8);
}

static void wr32(u8 *p, u32 v)
{
	wr16(p, (u16)v);
	wr16(p + 2, (u16)(v >> 16));
}

void disk_geometry(struct disk_image *img)
{
	const u8 *mbr = img->bytes;
	u32 n = img->sectors, c = 0, h = 0, s = 0;

	/*
	 * QEMU (hw/block/hd-geometry.c) first believes an MSDOS partition table:
	 * the first entry with sectors and an end head gives heads and sectors
	 * per track, if the cylinders that makes (size / (heads * sectors)) lie
	 * in 1..16383. A boot sector's code there is read as a table too.
	 */
	if (img->size >= DISK_SECTOR && mbr[510] == 0x55 && mbr[511] == 0xaa) {
		for (int i = 0; i < 4 && !h; i++) {
			const u8 *p = mbr + 0x1be + 16 * i;
			u32 ph = p[5] + 1u, ps = p[6] & 63u;

			if (!rd32(p + 12) || !p[5] || !ps || n / (ph * ps) < 1 || n / (ph * ps) > 16383)
				continue;
			h = ph;
			s = ps;
			c = n / (ph * ps);
		}
	}
	/* Otherwise, or with more than 16 heads (an LBA-translated table),
	 * the standard geometry for the size: 16 heads, 63 sectors. Below
	 * 504 MiB SeaBIOS then translates nothing. */
	if (!h || h > 16) {
		c = n / (16 * 63);
		c = c < 2 ? 2 : c > 16383 ? 16383 : c;
		h = 16;
		s = 63;
	}
	img->pcyls = (u16)c;
	img->cyls = (u16)(c > 1024 ? 1024 : c); /* SeaBIOS: at most 1024 in the LCHS */
	img->heads = (u8)h;
	img->spt = (u8)s;
}

/* ---- the overlay: sectors this guest wrote, sorted by LBA ---- */

static u32 overlay_find(const struct disk *d, u32 lba, bool *found)
{
	u32 lo = 0, hi = d->n;

	while (lo < hi) {
		u32 mid = lo + (hi - lo) / 2;

		if (d->lba[mid] < lba)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < d->n && d->lba[lo] == lba;
	return lo;
}

/* The sector's bytes for writing: an overlay slot, made if need be; NULL when full. */
static u8 *overlay_slot(struct disk *d, u32 lba)
{
	bool found;
	u32 i = overlay_find(d, lba, &found);

	if (found)
		return d->data + (size_t)i * DISK_SECTOR;
	if (d->n == DISK_OVERLAY_MAX)
		return NULL;
	if (d->n == d->cap) {
		u32 cap = d->cap ? d->cap * 2 : 8;
		u32 *l = realloc(d->lba, cap * sizeof(*l));

		if (l)
			d->lba = l;
		u8 *b = l ? realloc(d->data, (size_t)cap * DISK_SECTOR) : NULL;

		if (!b)
			return NULL;
		d->data = b;
		d->cap = cap;
	}
	memmove(d->lba + i + 1, d->lba + i, (d->n - i) * sizeof(*d->lba));
	memmove(d->data + (size_t)(i + 1) * DISK_SECTOR, d->data + (size_t)i * DISK_SECTOR,
		(size_t)(d->n - i) * DISK_SECTOR);
	d->lba[i] = lba;
	d->n++;
	return d->data + (size_t)i * DISK_SECTOR;
}

/* One sector as the guest sees it: written, from the image, or zeros past its end. */
static void disk_read_sector(const struct disk *d, u32 lba, u8 *out)
{
	bool found;
	u32 i = overlay_find(d, lba, &found);
	u64 off = (u64)lba * DISK_SECTOR, have;

	if (found) {
		memcpy(out, d->data + (size_t)i * DISK_SECTOR, DISK_SECTOR);
		return;
	}
	have = off < d->img->size ? d->img->size - off : 0;
	have = have > DISK_SECTOR ? DISK_SECTOR : have;
	memcpy(out, d->img->bytes + off, have);
	memset(out + have, 0, DISK_SECTOR - have);
}

size_t disk_overlay_bytes(const struct disk *d)
{
	return (size_t)d->cap * (DISK_SECTOR + sizeof(*d->lba));
}

void disk_free(struct disk *d)
{
	free(d->lba);
	free(d->data);
	d->lba = NULL;
	d->data = NULL;
	d->n = d->cap = 0;
}

/*
 * count sectors from lba to or from guest-physical buf, as the ATA driver
 * of SeaBIOS does them: more than 64 KiB at once is refused; past the end
 * of the disk the sectors before it are done and the call fails there.
 * Buffer bytes outside RAM are dropped, as writes to absent memory are.
 * *done says how many were transferred.
 */
static u8 disk_transfer(struct disk *d, u8 *ram, size_t ram_size, u64 lba, u32 count, u64 buf, bool write, u32 *done)
{
	u8 sector[DISK_SECTOR];

	*done = 0;
	if ((u64)count * DISK_SECTOR > 65536)
		return DISK_RET_EBOUNDARY;
	for (; *done < count; (*done)++) {
		u64 at = lba + *done;
		u8 *p = mem_guest_ptr(ram, ram_size, buf + (u64)*done * DISK_SECTOR, DISK_SECTOR);

		if (at >= d->img->sectors)
			return DISK_RET_EBADTRACK;
		if (write) {
			u8 *slot = overlay_slot(d, (u32)at);

			if (!slot)
				return DISK_RET_EWRITEPROTECT; /* the overlay is full: kvmlite's own limit */
			if (p)
				memcpy(slot, p, DISK_SECTOR);
			else
				memset(slot, 0xff, DISK_SECTOR); /* absent memory reads all ones */
			d->writes++;
		} else {
			disk_read_sector(d, (u32)at, p ? p : sector);
			d->reads++;
		}
	}
	return DISK_RET_SUCCESS;
}

/* A call's registers, in the frame the firmware pushed. */
struct call {
	u8 *f;
	u8 *bda;
	u8 *ram;
	size_t ram_size;
};

#define AL(c) ((c)->f[F_EAX])
#define AH(c) ((c)->f[F_EAX + 1])
#define CL(c) ((c)->f[F_ECX])
#define CH(c) ((c)->f[F_ECX + 1])
#define DL(c) ((c)->f[F_EDX])
#define DH(c) ((c)->f[F_EDX + 1])

/* A status in AH, and CF set unless it is 0. */
static u8 disk_status_set(struct call *c, u8 status)
{
	AH(c) = status;
	if (status)
		c->f[F_FLAGS] |= FLAGS_CF;
	else
		c->f[F_FLAGS] &= (u8)~FLAGS_CF;
	return status;
}

/* Ends a call as SeaBIOS's disk_ret: the status in the BDA (the floppy's or
 * the hard disk's, by DL), in AH, and in CF. */
static u8 disk_ret(struct call *c, u8 status)
{
	c->bda[(DL(c) < DISK_DRIVE ? BDA_FLOPPY_STATUS : BDA_DISK_STATUS) - BDA_ADDR] = status;
	return disk_status_set(c, status);
}

/* A real-mode segment:offset in the frame, as a guest-physical address. */
static u64 seg_off(u16 seg, u16 off)
{
	return ((u64)seg << 4) + off;
}

/* AH=02 read, 03 write, 04 verify: AL sectors at cylinder CH (+ CL bits
 * 7-6), head DH, sector CL bits 5-0 (from 1), to or from ES:BX. */
static u8 disk_chs(struct disk *d, struct call *c, u8 ah)
{
	const struct disk_image *g = d->img;
	u32 count = AL(c), cyl = CH(c) | (CL(c) & 0xc0u) << 2, sec = CL(c) & 0x3fu, head = DH(c), done = count;
	u64 lba;
	u8 st;

	if (count > 128 || count == 0 || sec == 0 || cyl >= g->cyls || head >= g->heads || sec > g->spt)
		return disk_ret(c, DISK_RET_EPARAM); /* AL as it was */
	lba = ((u64)cyl * g->heads + head) * g->spt + sec - 1;
	if (ah == 0x04)
		st = DISK_RET_SUCCESS; /* verify: the ATA driver has nothing to do */
	else
		st = disk_transfer(d, c->ram, c->ram_size, lba, count, seg_off(rd16(c->f + F_ES), rd16(c->f + F_EBX)),
				   ah == 0x03, &done);
	AL(c) = (u8)done; /* SeaBIOS: the sectors moved before an error, 0 if none */
	return disk_ret(c, st);
}

/* AH=42 read, 43 write, 44 verify, 47 seek: the disk address packet at
 * DS:SI (size, 0, count, buffer offset and segment, 64-bit LBA). */
static u8 disk_ext(struct disk *d, struct call *c, u8 ah)
{
	u8 *dap = mem_guest_ptr(c->ram, c->ram_size, seg_off(rd16(c->f + F_DS), rd16(c->f + F_ESI)), 16);
	u64 lba;
	u32 count, done;
	u8 st;

	if (!dap)
		return disk_ret(c, DISK_RET_EPARAM);
	lba = rd32(dap + 8) | (u64)rd32(dap + 12) << 32;
	if (lba >= d->img->sectors)
		return disk_ret(c, DISK_RET_EPARAM);
	count = rd16(dap + 2);
	if (!count || ah == 0x44 || ah == 0x47)
		return disk_ret(c, DISK_RET_SUCCESS);
	st = disk_transfer(d, c->ram, c->ram_size, lba, count, seg_off(rd16(dap + 6), rd16(dap + 4)), ah == 0x43,
			   &done);
	wr16(dap + 2, (u16)done);
	return disk_ret(c, st);
}

/* AH=08: the last cylinder (one kept back, as SeaBIOS does for hard
 * disks), heads and sectors, and the number of hard disks in DL. */
static u8 disk_params(const struct disk *d, struct call *c)
{
	u16 nlc = (u16)(d->img->cyls - 2), nlh = (u16)(d->img->heads - 1), nls = d->img->spt;

	AL(c) = 0;
	CH(c) = (u8)nlc;
	CL(c) = (u8)(((nlc >> 2) & 0xc0) | (nls & 0x3f));
	DH(c) = (u8)nlh;
	disk_ret(c, DISK_RET_SUCCESS);
	DL(c) = 1;
	return DISK_RET_SUCCESS;
}

/* AH=48: the EDD 1.x drive parameters into the buffer at DS:SI (26 bytes;
 * SeaBIOS adds a DPTE pointer and an EDD 3.0 device path for bigger ones,
 * which describe an ATA controller kvmlite does not have). */
static u8 disk_edd(const struct disk *d, struct call *c)
{
	const struct disk_image *g = d->img;
	u8 *p = mem_guest_ptr(c->ram, c->ram_size, seg_off(rd16(c->f + F_DS), rd16(c->f + F_ESI)), 26);
	bool valid = (u64)g->sectors <= (u64)g->spt * g->heads * 0x3fff;

	if (!p || rd16(p) < 26)
		return disk_ret(c, DISK_RET_EPARAM);
	wr16(p, 26);
	wr16(p + 2, valid ? 0x02 : 0x00); /* the CHS geometry is valid */
	wr32(p + 4, valid ? g->pcyls : 0x3fff);
	wr32(p + 8, g->heads);
	wr32(p + 12, g->spt);
	wr32(p + 16, g->sectors);
	wr32(p + 20, 0);
	wr16(p + 24, DISK_SECTOR);
	return disk_ret(c, DISK_RET_SUCCESS);
}

/* AH=01: the status of the last call, again, in AH and CF; AL kept. */
static u8 disk_last_status(struct call *c)
{
	return disk_status_set(c, c->bda[BDA_DISK_STATUS - BDA_ADDR]);
}

/* AH=05, format a track: checked, then nothing to do. */
static u8 disk_format(const struct disk *d, struct call *c)
{
	const struct disk_image *g = d->img;

	if (CH(c) >= g->cyls || DH(c) >= g->heads || AL(c) == 0 || AL(c) > g->spt)
		return disk_ret(c, DISK_RET_EPARAM);
	return disk_ret(c, DISK_RET_SUCCESS);
}

/* AH=15, size: AH = 3 (a hard disk), CX:DX = the sectors the CHS geometry holds. */
static u8 disk_size(const struct disk *d, struct call *c)
{
	u32 n = (u32)(u16)(d->img->cyls - 1) * d->img->heads * d->img->spt;

	disk_ret(c, DISK_RET_SUCCESS);
	AH(c) = 3;
	wr16(c->f + F_ECX, (u16)(n >> 16));
	wr16(c->f + F_EDX, (u16)n);
	return 3;
}

/* AH=41, extensions present: EDD 3.0, with packet access and EDD. */
static u8 disk_ext_check(struct call *c)
{
	wr16(c->f + F_EBX, 0xaa55);
	wr16(c->f + F_ECX, 0x0007);
	disk_ret(c, DISK_RET_SUCCESS);
	AH(c) = 0x30;
	return 0x30;
}

/* One function of the first hard disk, by AH; -1 for one SeaBIOS does not provide either. */
static int disk_function(struct disk *d, struct call *c, u8 ah)
{
	switch (ah) {
	case 0x00: /* reset */
	case 0x09: /* initialise parameters, seek, alternate reset, ready, recalibrate, diagnostics */
	case 0x0c:
	case 0x0d:
	case 0x10:
	case 0x11:
	case 0x14:
	case 0x45: /* lock/unlock and media change: always fine for a hard disk */
	case 0x49:
		return disk_ret(c, DISK_RET_SUCCESS);
	case 0x01:
		return disk_last_status(c);
	case 0x02:
	case 0x03:
	case 0x04:
		return disk_chs(d, c, ah);
	case 0x05:
		return disk_format(d, c);
	case 0x08:
		return disk_params(d, c);
	case 0x15:
		return disk_size(d, c);
	case 0x16: /* media change: not for a hard disk */
		return disk_ret(c, DISK_RET_EPARAM);
	case 0x41:
		return disk_ext_check(c);
	case 0x42:
	case 0x43:
	case 0x44:
	case 0x47:
		return disk_ext(d, c, ah);
	case 0x46: /* eject */
		return disk_ret(c, DISK_RET_ENOTREMOVABLE);
	case 0x48:
		return disk_edd(d, c);
	case 0x4e: /* set hardware configuration */
		return disk_ret(c, AL(c) == 1 || AL(c) == 3 || AL(c) == 4 || AL(c) == 6 ? DISK_RET_SUCCESS
											: DISK_RET_EPARAM);
	default: /* SeaBIOS answers these the same way, and so does nothing more */
		disk_ret(c, DISK_RET_EPARAM);
		return -1;
	}
}

int disk_call(struct disk *d, u8 *ram, size_t ram_size, u64 frame, u8 *fn)
{
	struct call c = { mem_guest_ptr(ram, ram_size, frame, F_SIZE), mem_guest_ptr(ram, ram_size, BDA_ADDR, 0x100),
			  ram, ram_size };

	*fn = 0;
	if (!c.f || !c.bda)
		return DISK_RET_EPARAM; /* a frame outside RAM: nobody to answer */
	*fn = AH(&c);
	/* Only the first hard disk exists: no floppy, no second disk (as
	 * under QEMU -nodefaults with one IDE disk) */
	if (DL(&c) != DISK_DRIVE || !d->img)
		return disk_ret(&c, DISK_RET_EPARAM);
	c.bda[BDA_DISK_IRQ_FLAG - BDA_ADDR] = 0;
	return disk_function(d, &c, *fn);
}
