/* vgatext.c - the VGA text buffer: kept as written, each character written shown on the guest's output. */
#include <stdlib.h>
#include <string.h>

#include "vgatext.h"

struct vgatext *vgatext_new(void (*out)(void *ctx, u8 byte), void *ctx)
{
	struct vgatext *v = calloc(1, sizeof(*v));

	if (v) {
		v->out = out;
		v->ctx = ctx;
	}
	return v;
}

void vgatext_free(struct vgatext *v)
{
	if (!v)
		return;
	for (int i = 0; i < 8; i++)
		free(v->pages[i]);
	free(v);
}

size_t vgatext_bytes(const struct vgatext *v)
{
	size_t n = v ? sizeof(*v) : 0;

	for (int i = 0; v && i < 8; i++)
		n += v->pages[i] ? VGA_PAGE_SIZE : 0;
	return n;
}

void vgatext_line_break(struct vgatext *v)
{
	if (v)
		v->line_open = false;
}

/* A byte of the window as it reads: written, or the blank cell it started as. */
static u8 vga_peek(const struct vgatext *v, u32 off)
{
	const u8 *p = v->pages[off / VGA_PAGE_SIZE];

	return p ? p[off % VGA_PAGE_SIZE] : (off & 1 ? VGA_BLANK >> 8 : VGA_BLANK & 0xff);
}

static void vga_emit(struct vgatext *v, u8 byte, unsigned n)
{
	while (n--)
		v->out(v->ctx, byte);
}

/* Shows the character c written at (row, col), placed after the last one shown. */
static void vga_show(struct vgatext *v, u8 row, u8 col, u8 c)
{
	if (!v->line_open) {
		vga_emit(v, ' ', col);
	} else if (row == v->row && col >= v->col) {
		vga_emit(v, ' ', col - v->col);
	} else {
		vga_emit(v, '\n', row > v->row ? row - v->row : 1);
		vga_emit(v, ' ', col);
	}
	v->out(v->ctx, c);
	v->line_open = true;
	v->row = row;
	v->col = (u8)(col + 1);
	v->shown++;
}

static void vga_write(struct vgatext *v, u32 off, u8 val)
{
	u8 **p = &v->pages[off / VGA_PAGE_SIZE];
	u8 old = vga_peek(v, off);

	v->writes++;
	if (!*p) {
		if (val == old)
			return; /* still as it started: nothing to keep */
		*p = malloc(VGA_PAGE_SIZE);
		if (!*p)
			return; /* the write is lost, as one to absent memory */
		for (u32 i = 0; i < VGA_PAGE_SIZE; i += 2) {
			(*p)[i] = VGA_BLANK & 0xff;
			(*p)[i + 1] = VGA_BLANK >> 8;
		}
	}
	(*p)[off % VGA_PAGE_SIZE] = val;
	/* a character (even offset) of page 0 that changed is shown */
	if (!(off & 1) && off < VGA_COLS * VGA_ROWS * 2 && val != old)
		vga_show(v, (u8)(off / (2 * VGA_COLS)), (u8)(off / 2 % VGA_COLS), val);
}

void vgatext_io(struct vgatext *v, u32 offset, u8 *data, u32 len, bool is_write)
{
	for (u32 i = 0; i < len; i++) {
		u32 off = offset + i;

		if (off >= VGA_TEXT_WINDOW) {
			if (!is_write)
				data[i] = 0xff; /* past the window: nothing */
			continue;
		}
		if (is_write)
			vga_write(v, off, data[i]);
		else
			data[i] = vga_peek(v, off);
	}
}
