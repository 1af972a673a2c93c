/* test_metrics.c - the stats object in the Prometheus text format; a --metrics-file a reader always sees whole. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit.h"
#include "metrics.h"
#include "wire.h"

static const char stats[] =
	"{\"version\":\"0.1.0\",\"guests\":300,\"created\":300,\"booted\":299,\"live\":300,\"resident\":290,"
	"\"parked\":10,\"ended\":0,\"failed\":1,\"lost\":0,\"park\":\"auto\",\"clients_dropped\":0,\"workers\":3,"
	"\"threads_per_worker\":1,\"kvm_backend\":\"kvm_pvm\",\"sandbox\":true,\"cpu_max\":20,"
	"\"worker_pids\":[11,12,13],\"exits\":123456789012,\"parked_bytes\":81920,\"nested\":{\"exits\":5}}";

static void test_counters_get_prometheus_names_types_and_help(void **state)
{
	char out[METRICS_TEXT_MAX];
	size_t n = metrics_format(stats, out, sizeof(out));

	assert_true(n > 0 && n < sizeof(out));
	assert_int_equal(strlen(out), n);
	assert_non_null(strstr(out, "# TYPE kvmlite_vm_exits_total counter\nkvmlite_vm_exits_total 123456789012\n"));
	assert_non_null(strstr(out, "# TYPE kvmlite_parked_state_bytes gauge\nkvmlite_parked_state_bytes 81920\n"));
	assert_non_null(strstr(out, "# HELP kvmlite_vm_exits_total "));
	/* a percentage becomes a ratio, as the base unit */
	assert_non_null(strstr(out, "kvmlite_guest_cpu_max_ratio 0.2\n"));
	assert_non_null(strstr(
		out, "kvmlite_info{version=\"0.1.0\",kvm_backend=\"kvm_pvm\",park=\"auto\",sandbox=\"true\"} 1\n"));
	/* nested members are not top-level counters */
	assert_null(strstr(out, " 5\n# "));
}

static void test_guests_by_state_are_one_family_with_one_help(void **state)
{
	char out[METRICS_TEXT_MAX];
	const char *fam;

	metrics_format(stats, out, sizeof(out));
	fam = strstr(out, "# HELP kvmlite_guests Guests by state");
	assert_non_null(fam);
	assert_non_null(strstr(fam, "# TYPE kvmlite_guests gauge\n"
				    "kvmlite_guests{state=\"resident\"} 290\n"
				    "kvmlite_guests{state=\"parked\"} 10\n"
				    "kvmlite_guests{state=\"ended\"} 0\n"
				    "kvmlite_guests{state=\"failed\"} 1\n"
				    "kvmlite_guests{state=\"lost\"} 0\n"));
	assert_null(strstr(fam + 1, "# HELP kvmlite_guests "));
}

static void test_absent_and_null_values_are_left_out(void **state)
{
	char out[METRICS_TEXT_MAX];

	metrics_format("{\"guests\":3,\"exits\":null}", out, sizeof(out));
	assert_non_null(strstr(out, "kvmlite_guests_requested 3\n"));
	assert_null(strstr(out, "exits"));
	assert_null(strstr(out, "kvmlite_info"));
}

static void test_not_an_object_gives_nothing(void **state)
{
	char out[64];

	assert_int_equal(metrics_format("[1,2]", out, sizeof(out)), 0);
	assert_int_equal(metrics_format("{\"a\":1", out, sizeof(out)), 0);
	assert_int_equal(metrics_format("{\"a\":1} x", out, sizeof(out)), 0);
	assert_int_equal(metrics_format("", out, sizeof(out)), 0);
}

static void test_a_short_buffer_is_cut_and_the_length_needed_returned(void **state)
{
	char big[METRICS_TEXT_MAX], small[40];
	size_t need = metrics_format(stats, big, sizeof(big));

	assert_int_equal(metrics_format(stats, small, sizeof(small)), need);
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_memory_equal(small, big, sizeof(small) - 1);
}

static char *slurp(const char *path)
{
	static char buf[4096];
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void test_metrics_file_is_replaced_whole_and_removed_at_the_end(void **state)
{
	char dir[] = "/tmp/kvmlite-test-metrics.XXXXXX", path[64], tmp[80], err[256];
	struct metrics_file m;
	struct stat st;
	int reader;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/kvmlite.prom", dir);
	snprintf(tmp, sizeof(tmp), "%s/.kvmlite.prom.tmp", dir);
	assert_int_equal(metrics_file_open(&m, path, err, sizeof(err)), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 0);
	assert_int_equal(metrics_file_write(&m, "a 1\nb 2\n", 8), 0);
	assert_string_equal(slurp(path), "a 1\nb 2\n");
	/* a reader that opened the old file keeps reading the old one, whole */
	reader = open(path, O_RDONLY);
	assert_int_equal(metrics_file_write(&m, "c 3\n", 4), 0);
	assert_string_equal(slurp(path), "c 3\n");
	{
		char old[16] = { 0 };

		assert_int_equal(read(reader, old, sizeof(old) - 1), 8);
		assert_string_equal(old, "a 1\nb 2\n");
		close(reader);
	}
	assert_int_equal(metrics_file_write(&m, "d 4\ne 5\nf 6\n", 12), 0);
	assert_string_equal(slurp(path), "d 4\ne 5\nf 6\n");
	assert_true(m.exchange); /* /tmp can swap names */
	metrics_file_close(&m, true);
	assert_int_equal(stat(path, &st), -1);
	assert_int_equal(stat(tmp, &st), -1);
	assert_int_equal(rmdir(dir), 0);
}

static void test_metrics_file_refuses_a_symlink_and_a_missing_directory(void **state)
{
	char dir[] = "/tmp/kvmlite-test-metrics.XXXXXX", path[64], err[256];
	struct metrics_file m;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/link.prom", dir);
	assert_int_equal(symlink("/tmp/elsewhere.prom", path), 0);
	assert_int_equal(metrics_file_open(&m, path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "--metrics-file"));
	unlink(path);
	snprintf(path, sizeof(path), "%s/no/such.prom", dir);
	assert_int_equal(metrics_file_open(&m, path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "No such file or directory"));
	assert_int_equal(metrics_file_open(&m, "/tmp/", err, sizeof(err)), -1);
	assert_int_equal(rmdir(dir), 0);
}

/* The shards' stats keys are wire.h's one list; each has its metric here, or a new one would be left out. */
static void test_every_shard_stats_key_has_a_metric(void **state)
{
	char json[4096], out[METRICS_TEXT_MAX], want[64];
	size_t n = 0;

	for (size_t i = 0; i < WIRE_NSTATS; i++)
		n += (size_t)snprintf(json + n, sizeof(json) - n, "%c\"%s\":%zu", i ? ',' : '{', wire_stat_names[i],
				      1000 + i);
	snprintf(json + n, sizeof(json) - n, "}");
	assert_true(metrics_format(json, out, sizeof(out)) < sizeof(out));
	for (size_t i = 0; i < WIRE_NSTATS; i++) {
		snprintf(want, sizeof(want), " %zu\n", 1000 + i);
		if (!strstr(out, want))
			fail_msg("the stats key %s has no metric in metrics.c", wire_stat_names[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counters_get_prometheus_names_types_and_help),
		cmocka_unit_test(test_guests_by_state_are_one_family_with_one_help),
		cmocka_unit_test(test_every_shard_stats_key_has_a_metric),
		cmocka_unit_test(test_absent_and_null_values_are_left_out),
		cmocka_unit_test(test_not_an_object_gives_nothing),
		cmocka_unit_test(test_a_short_buffer_is_cut_and_the_length_needed_returned),
		cmocka_unit_test(test_metrics_file_is_replaced_whole_and_removed_at_the_end),
		cmocka_unit_test(test_metrics_file_refuses_a_symlink_and_a_missing_directory),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
