/* disk.h - the guest's hard disk as int 13h sees it: an image shared read-only, a per-guest overlay of writes. */
#ifndef KVMLITE_DISK_H
#define KVMLITE_DISK_H

#include "layout.h"
#include "types.h"

#define DISK_SECTOR	 512
#define DISK_MAX_BYTES	 (1024ull * 16 * 63 * DISK_SECTOR) /* 504 MiB: what CHS addresses without translation */
#define DISK_OVERLAY_MAX 8192 /* sectors a guest may write (4 MiB); more fail as write-protected */
#define DISK_DRIVE	 BOOT_DRIVE /* DL: the first hard disk, 80h, as SeaBIOS numbers an IDE disk */

/* int 13h status codes (AH), as SeaBIOS returns them (std/disk.h there) */
#define DISK_RET_SUCCESS       0x00
#define DISK_RET_EPARAM	       0x01
#define DISK_RET_EWRITEPROTECT 0x03
#define DISK_RET_EBOUNDARY     0x09
#define DISK_RET_EBADTRACK     0x0c
#define DISK_RET_ENOTREMOVABLE 0xb2

/*
 * The image as a disk: its bytes (a read-only mapping of the file, or a
 * built-in guest), shared by every guest that boots it, and the geometry
 * QEMU 7.2 gives an IDE disk of that image and SeaBIOS 1.16 then reports
 * (disk_geometry()). Sectors past the end of the file read as zeros.
 */
struct disk_image {
	const u8 *bytes;
	u64 size;    /* bytes in the file */
	u32 sectors; /* size / 512, rounded up (QEMU rounds up a raw image) */
	u16 cyls;    /* logical geometry (CHS calls): SeaBIOS clips cylinders at 1024 */
	u16 pcyls;   /* physical cylinders (AH=48); heads and sectors are the same in both */
	u8 heads, spt;
};

/* One guest's disk: the shared image and the sectors this guest wrote. */
struct disk {
	const struct disk_image *img; /* NULL: no disk (int 13h finds none) */
	u32 n, cap;		      /* written sectors, kept sorted by LBA */
	u32 *lba;
	u8 *data;	   /* cap * 512 bytes, in the order of lba[] */
	u64 reads, writes; /* sectors read and written through int 13h */
};

/* Geometry from the image's partition table if it has one QEMU believes,
 * else from its size (16 heads, 63 sectors). */
void disk_geometry(struct disk_image *img);
/* One int 13h call: the firmware's register frame at guest-physical frame
 * (pushal, then ES and DS, then the interrupt's IP, CS, FLAGS), in ram of
 * ram_size bytes. Results go back into the frame; *fn is the function (AH)
 * called. Returns AH's new value, or -1 for a function neither SeaBIOS nor
 * kvmlite provides (the frame says so as SeaBIOS does: CF set, AH = 01h). */
int disk_call(struct disk *d, u8 *ram, size_t ram_size, u64 frame, u8 *fn);
/* Bytes the overlay takes. */
size_t disk_overlay_bytes(const struct disk *d);
/* Forgets the written sectors (the image is untouched). */
void disk_free(struct disk *d);

#endif
