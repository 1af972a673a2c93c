/* test_cli.c - the one option parser and number parser: options anywhere, ranges, one clear message each. */
#define _GNU_SOURCE /* memfd_create */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "unit.h"
#include "cli.h"

static const char *const fruit[] = { "apple", "pear", "plum", NULL };

struct parsed {
	bool flag, verbose;
	const char *path;
	u32 count;
	double seconds;
	int choice;
	char err[1024]; /* stderr of the parse */
	char out[4096]; /* stdout (help) */
	char *args[16];
	int nargs, status;
};

/* Parses the NULL-terminated words (after the command name "test") with a table of each kind. */
static struct parsed *parse(const char *first, ...)
{
	static struct parsed p;
	static char *argv[32], words[32][128]; /* static: the parsed values point into them */
	const struct cli_opt opts[] = {
		{ .name = "flag", .kind = CLI_FLAG, .dest = &p.flag, .help = "a flag" },
		{ .name = "verbose", .short_name = 'v', .kind = CLI_FLAG, .dest = &p.verbose, .help = "more" },
		{ .name = "path",
		  .short_name = 'p',
		  .kind = CLI_STRING,
		  .dest = &p.path,
		  .arg = "PATH",
		  .help = "a path" },
		{ .name = "count",
		  .kind = CLI_U32,
		  .dest = &p.count,
		  .arg = "N",
		  .help = "1 to 99",
		  .min = 1,
		  .max = 99 },
		{ .name = "for",
		  .kind = CLI_SECONDS,
		  .dest = &p.seconds,
		  .arg = "S",
		  .help = "s",
		  .min = 0,
		  .max = 60 },
		{ .name = "fruit", .kind = CLI_CHOICE, .dest = &p.choice, .arg = "F", .help = "f", .choices = fruit },
	};
	const struct cli_cmd cmd = { "test", "[options] ARGS",	    "tests",   "A command for tests.\n",
				     opts,   (int)ARRAY_SIZE(opts), "footer\n" };
	int out = memfd_create("out", 0), err = memfd_create("err", 0), saved_out = dup(1), saved_err = dup(2);
	int argc = 1;
	va_list ap;
	ssize_t n;

	memset(&p, 0, sizeof(p));
	argv[0] = "test";
	va_start(ap, first);
	for (const char *w = first; w; w = va_arg(ap, const char *), argc++) {
		snprintf(words[argc], sizeof(words[argc]), "%s", w);
		argv[argc] = words[argc];
	}
	va_end(ap);
	argv[argc] = NULL;
	fflush(NULL);
	dup2(out, 1);
	dup2(err, 2);
	p.status = cli_parse(&cmd, argc, argv, &p.nargs);
	fflush(NULL);
	dup2(saved_out, 1);
	dup2(saved_err, 2);
	close(saved_out);
	close(saved_err);
	n = pread(err, p.err, sizeof(p.err) - 1, 0);
	p.err[n > 0 ? n : 0] = '\0';
	n = pread(out, p.out, sizeof(p.out) - 1, 0);
	p.out[n > 0 ? n : 0] = '\0';
	close(out);
	close(err);
	for (int i = 0; i < p.nargs; i++)
		p.args[i] = argv[i];
	return &p;
}

static void test_options_may_come_before_between_and_after_arguments(void **state)
{
	struct parsed *p = parse("a", "--count", "5", "b", "--path=/x", "c", "-v", NULL);

	assert_int_equal(p->status, 0);
	assert_int_equal(p->nargs, 3);
	assert_string_equal(p->args[0], "a");
	assert_string_equal(p->args[1], "b");
	assert_string_equal(p->args[2], "c");
	assert_int_equal(p->count, 5);
	assert_string_equal(p->path, "/x");
	assert_true(p->verbose);
	assert_string_equal(p->err, "");
}

static void test_double_dash_ends_the_options(void **state)
{
	struct parsed *p = parse("7", "--", "id", "--count", "5", "-v", "--", NULL);

	assert_int_equal(p->status, 0);
	assert_int_equal(p->nargs, 6);
	assert_string_equal(p->args[1], "id");
	assert_string_equal(p->args[2], "--count");
	assert_string_equal(p->args[5], "--");
	assert_int_equal(p->count, 0);
	assert_false(p->verbose);
}

static void test_a_negative_number_is_an_argument_not_an_option(void **state)
{
	struct parsed *p = parse("-5", "-", "-.5", NULL);

	assert_int_equal(p->status, 0);
	assert_int_equal(p->nargs, 3);
	assert_string_equal(p->args[0], "-5");
	assert_string_equal(p->args[1], "-");
}

static void test_short_options_cluster_and_take_values(void **state)
{
	struct parsed *p = parse("-vp/tmp/s", NULL);

	assert_int_equal(p->status, 0);
	assert_true(p->verbose);
	assert_string_equal(p->path, "/tmp/s");
	p = parse("-p", "/a", NULL);
	assert_string_equal(p->path, "/a");
}

static void test_unknown_option_is_named_with_where_to_look(void **state)
{
	struct parsed *p = parse("x", "--bogus", NULL);

	assert_int_equal(p->status, -1);
	assert_string_equal(p->err, "kvmlite test: unknown option '--bogus' (kvmlite help test lists them)\n");
	p = parse("--bogus=3", NULL);
	assert_string_equal(p->err, "kvmlite test: unknown option '--bogus' (kvmlite help test lists them)\n");
	p = parse("-vx", NULL);
	assert_string_equal(p->err, "kvmlite test: unknown option '-x' (kvmlite help test lists them)\n");
}

static void test_a_missing_value_is_named(void **state)
{
	struct parsed *p = parse("--count", NULL);

	assert_int_equal(p->status, -1);
	assert_string_equal(p->err, "kvmlite test: --count needs a value (N)\n");
	p = parse("--flag=1", NULL);
	assert_string_equal(p->err, "kvmlite test: --flag takes no value\n");
}

static void test_numbers_out_of_range_name_the_option_and_the_range(void **state)
{
	static const char *const bad[] = { "0",	 "100", "-1", "abc",	    "",
					   "5x", " 5",	"+5", "4294967296", "99999999999999999999" };

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct parsed *p = parse("--count", bad[i], NULL);
		char want[128];

		snprintf(want, sizeof(want), "kvmlite test: --count takes a whole number from 1 to 99, not '%s'\n",
			 bad[i]);
		assert_int_equal(p->status, -1);
		assert_string_equal(p->err, want);
	}
	assert_int_equal(parse("--count", "99", NULL)->count, 99);
	assert_int_equal(parse("--count=0x10", NULL)->count, 16);
}

static void test_u64_parser_rejects_what_strtoul_would_wrap(void **state)
{
	char err[128];
	u64 v = 7;
	u32 w;

	assert_int_equal(cli_u64("--index", "-1", 0, UINT32_MAX, &v, err, sizeof(err)), -1);
	assert_string_equal(err, "--index takes a whole number from 0 to 4294967295, not '-1'");
	assert_int_equal(v, 7);
	assert_int_equal(cli_u32("--index", "4294967296", 0, UINT32_MAX, &w, err, sizeof(err)), -1);
	assert_int_equal(cli_u64("N", "18446744073709551615", 0, UINT64_MAX, &v, err, sizeof(err)), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(cli_u64("N", "18446744073709551616", 0, UINT64_MAX, &v, err, sizeof(err)), -1);
	assert_int_equal(cli_u64("N", "0x", 0, 9, &v, err, sizeof(err)), -1);
	assert_int_equal(cli_u64("N", "007", 0, 9, &v, err, sizeof(err)), 0); /* decimal, not octal */
	assert_int_equal(v, 7);
}

static void test_seconds_take_decimals_and_nothing_else(void **state)
{
	static const char *const bad[] = { "-1", "61", "1e3", "inf", "nan", ".", "", "1.2.3", "0x10", " 1" };

	assert_true(parse("--for", "2.5", NULL)->seconds == 2.5);
	assert_true(parse("--for", "0", NULL)->seconds == 0);
	assert_true(parse("--for", ".5", NULL)->seconds == 0.5);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct parsed *p = parse("--for", bad[i], NULL);

		assert_int_equal(p->status, -1);
		assert_non_null(strstr(p->err, "--for takes seconds from 0 to 60"));
	}
}

static void test_a_choice_lists_the_words_it_takes(void **state)
{
	struct parsed *p = parse("--fruit", "pear", NULL);

	assert_int_equal(p->choice, 1);
	p = parse("--fruit", "fig", NULL);
	assert_int_equal(p->status, -1);
	assert_string_equal(p->err, "kvmlite test: --fruit takes apple, pear or plum, not 'fig'\n");
}

static void test_help_lists_every_option_in_80_columns(void **state)
{
	struct parsed *p = parse("x", "--help", NULL);
	char *line, *save;

	assert_int_equal(p->status, 1);
	assert_string_equal(p->err, "");
	assert_non_null(strstr(p->out, "usage: kvmlite test [options] ARGS\n"));
	for (const char *o = "--flag\0--verbose\0--path PATH\0--count N\0--for S\0--fruit F\0-h, --help\0"; *o;
	     o += strlen(o) + 1)
		assert_non_null(strstr(p->out, o));
	assert_non_null(strstr(p->out, "  -v, --verbose"));
	for (line = strtok_r(p->out, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		assert_true(strlen(line) <= 80);
	assert_int_equal(parse("-h", NULL)->status, 1);
}

/* cli_wrap's output for a label and text at a width. */
static char *wrap(const char *label, int indent, int width, const char *text)
{
	static char buf[4096];
	FILE *f = fmemopen(buf, sizeof(buf), "w");

	cli_wrap(f, label, indent, width, "%s", text);
	fclose(f);
	return buf;
}

static void test_wrap_keeps_lines_within_the_width(void **state)
{
	assert_string_equal(wrap("  label", 10, 30, "one two three four five six seven"),
			    "  label   one two three four\n"
			    "          five six seven\n");
	/* µ is one column: "µµµµµ µµµµµ µµµµµ" is 17 wide */
	assert_string_equal(wrap("", 0, 20, "µµµµµ µµµµµ µµµµµ µµµµµ"), "µµµµµ µµµµµ µµµµµ\nµµµµµ\n");
	/* a label longer than the indent: the text follows it, later lines at the indent */
	assert_string_equal(wrap("kvmlite spawn: ", 2, 30, "3 of 3 guests booted, 0 failed, 0 lost"),
			    "kvmlite spawn: 3 of 3 guests\n  booted, 0 failed, 0 lost\n");
	/* too narrow for two columns: the label on its own line */
	assert_string_equal(wrap("  a label", 23, 30, "one two three four"), "  a label\n  one two three four\n");
	/* a word longer than a line is broken */
	assert_string_equal(wrap("", 2, 24, "abcdefghijklmnopqrstuvwxyz12345"),
			    "  abcdefghijklmnopqrstuv\n  wxyz12345\n");
}

static void test_cut_counts_characters_not_bytes(void **state)
{
	char s[] = "spawning: µs µs";

	assert_int_equal(cli_cut(s, 12), 13);
	assert_string_equal(s, "spawning: µs");
	assert_int_equal(cli_cut(s, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_options_may_come_before_between_and_after_arguments),
		cmocka_unit_test(test_double_dash_ends_the_options),
		cmocka_unit_test(test_a_negative_number_is_an_argument_not_an_option),
		cmocka_unit_test(test_short_options_cluster_and_take_values),
		cmocka_unit_test(test_unknown_option_is_named_with_where_to_look),
		cmocka_unit_test(test_a_missing_value_is_named),
		cmocka_unit_test(test_numbers_out_of_range_name_the_option_and_the_range),
		cmocka_unit_test(test_u64_parser_rejects_what_strtoul_would_wrap),
		cmocka_unit_test(test_seconds_take_decimals_and_nothing_else),
		cmocka_unit_test(test_a_choice_lists_the_words_it_takes),
		cmocka_unit_test(test_help_lists_every_option_in_80_columns),
		cmocka_unit_test(test_wrap_keeps_lines_within_the_width),
		cmocka_unit_test(test_cut_counts_characters_not_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
