/* test_vgatext.c - the VGA text buffer: kept as written, its characters shown in reading order, nothing for a clear. */
#include <string.h>

#include "unit.h"
#include "devices/vgatext.h"

struct sink {
	char buf[512];
	size_t n;
};

static void sink_out(void *ctx, u8 byte)
{
	struct sink *s = ctx;

	if (s->n < sizeof(s->buf) - 1)
		s->buf[s->n++] = (char)byte;
	s->buf[s->n] = '\0';
}

/* Writes text at (row, col) as a guest would: character, attribute, character... */
static void put(struct vgatext *v, int row, int col, const char *text)
{
	for (; *text; text++, col++) {
		u8 cell[2] = { (u8)*text, 0x1e };

		vgatext_io(v, (u32)(row * VGA_COLS + col) * 2, cell, 2, true);
	}
}

static void test_reads_give_blank_cells_until_written(void **state)
{
	struct sink s = { 0 };
	struct vgatext *v = vgatext_new(sink_out, &s);
	u8 d[4];

	vgatext_io(v, 0, d, 4, false);
	assert_memory_equal(d, "\x20\x07\x20\x07", 4);
	assert_int_equal(vgatext_bytes(v), sizeof(*v)); /* nothing kept yet */
	put(v, 0, 1, "A");
	vgatext_io(v, 0, d, 4, false);
	assert_memory_equal(d, "\x20\x07\x41\x1e", 4);
	vgatext_io(v, VGA_TEXT_WINDOW - 1, d, 2, false); /* past the window: nothing */
	assert_int_equal(d[1], 0xff);
	vgatext_free(v);
}

static void test_text_in_reading_order_reads_as_the_screen(void **state)
{
	struct sink s = { 0 };
	struct vgatext *v = vgatext_new(sink_out, &s);

	put(v, 0, 0, "title");
	put(v, 2, 4, "row two");
	put(v, 2, 14, "far");
	put(v, 3, 0, "x");
	assert_string_equal(s.buf, "title\n\n    row two   far\nx");
	vgatext_free(v);
}

static void test_a_clear_shows_nothing_and_attributes_show_nothing(void **state)
{
	struct sink s = { 0 };
	struct vgatext *v = vgatext_new(sink_out, &s);
	u8 blank[2] = { 0x20, 0x07 }, attr = 0x4f;

	for (u32 off = 0; off < VGA_COLS * VGA_ROWS * 2; off += 2)
		vgatext_io(v, off, blank, 2, true);
	vgatext_io(v, 1, &attr, 1, true);
	assert_int_equal(s.n, 0);
	assert_int_equal(v->shown, 0);
	vgatext_free(v);
}

static void test_writing_back_up_the_screen_starts_a_new_line(void **state)
{
	struct sink s = { 0 };
	struct vgatext *v = vgatext_new(sink_out, &s);

	put(v, 5, 0, "low");
	put(v, 1, 2, "up");
	put(v, 1, 0, "a");
	assert_string_equal(s.buf, "low\n  up\na");
	vgatext_free(v);
}

static void test_other_output_in_between_starts_a_line_of_its_own(void **state)
{
	struct sink s = { 0 };
	struct vgatext *v = vgatext_new(sink_out, &s);

	put(v, 0, 0, "ab");
	vgatext_line_break(v);
	put(v, 0, 2, "c"); /* on from column 2, but on a fresh output line */
	assert_string_equal(s.buf, "ab  c");
	vgatext_free(v);
}

static void test_page_zero_only_is_shown_other_pages_kept(void **state)
{
	struct sink s = { 0 };
	struct vgatext *v = vgatext_new(sink_out, &s);
	u8 c = 'Z', d;

	vgatext_io(v, VGA_PAGE_SIZE + 10, &c, 1, true);
	vgatext_io(v, VGA_PAGE_SIZE + 10, &d, 1, false);
	assert_int_equal(d, 'Z');
	assert_int_equal(s.n, 0);
	vgatext_free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reads_give_blank_cells_until_written),
		cmocka_unit_test(test_text_in_reading_order_reads_as_the_screen),
		cmocka_unit_test(test_a_clear_shows_nothing_and_attributes_show_nothing),
		cmocka_unit_test(test_writing_back_up_the_screen_starts_a_new_line),
		cmocka_unit_test(test_other_output_in_between_starts_a_line_of_its_own),
		cmocka_unit_test(test_page_zero_only_is_shown_other_pages_kept),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
