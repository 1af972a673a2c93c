/* vgatext.h - the VGA text buffer (0xb8000): what a guest writes there, kept, and its characters shown as output. */
#ifndef KVMLITE_VGATEXT_H
#define KVMLITE_VGATEXT_H

#include "types.h"

#define VGA_COLS      80
#define VGA_ROWS      25
#define VGA_PAGE_SIZE 0x1000 /* the window is kept in 4 KiB pieces, each made on its first write */
#define VGA_BLANK     0x0720 /* a cleared cell: a space, grey on black */

/*
 * The colour text window as the CPU sees it in mode 3: two bytes a cell
 * (character, attribute), 80 x 25 cells from offset 0 (page 0), up to 32
 * KiB (pages 1-7). Reads give what was written (blank cells before). A
 * guest that never touches the window has none of this: the VMM makes it
 * on its first access (vgatext_new).
 *
 * Shown as output ("characters in the order written"): each write that
 * changes a character of page 0 emits it, placed as a stream can place it:
 * on the same row after the last one shown, the cells skipped become
 * spaces; on a later row, one newline per row down and spaces up to its
 * column; anywhere else (back up, or left), a newline and spaces up to its
 * column. Writes that change no character (a clear to spaces, attributes)
 * show nothing. So text written in reading order reads as the screen does.
 */
struct vgatext {
	u8 *pages[8];	/* the 32 KiB window, 0xb8000-0xbffff */
	u8 row, col;	/* the cell after the last character shown */
	bool line_open; /* characters of the screen have been shown on the output's current line */
	void (*out)(void *ctx, u8 byte);
	void *ctx;
	u64 writes; /* bytes written to the window */
	u64 shown;  /* characters shown */
};

#define VGA_TEXT_WINDOW (8 * VGA_PAGE_SIZE)

/* A text buffer whose shown characters go to out(ctx, byte); NULL without memory. */
struct vgatext *vgatext_new(void (*out)(void *ctx, u8 byte), void *ctx);
void vgatext_free(struct vgatext *v);
/* A guest access of len bytes at offset (from 0xb8000); reads fill data. */
void vgatext_io(struct vgatext *v, u32 offset, u8 *data, u32 len, bool is_write);
/* Other output came in between: the next character shown starts a line of its own. */
void vgatext_line_break(struct vgatext *v);
/* Bytes it takes. */
size_t vgatext_bytes(const struct vgatext *v);

#endif
