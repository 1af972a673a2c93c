/* hostinfo.c - reads /proc for the figures kvmlite reports: memory, CPU time, a process's RSS and PSS. */
#include <stdio.h>
#include <string.h>

#include "hostinfo.h"

int meminfo_read(struct meminfo *m)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char key[64];
	unsigned long long v;

	memset(m, 0, sizeof(*m));
	if (!f)
		return -1;
	while (fscanf(f, "%63s %llu kB\n", key, &v) == 2) {
		if (strcmp(key, "MemTotal:") == 0)
			m->total_kib = v;
		else if (strcmp(key, "MemAvailable:") == 0)
			m->available_kib = v;
		else if (strcmp(key, "Slab:") == 0)
			m->slab_kib = v;
		else if (strcmp(key, "KernelStack:") == 0)
			m->kernel_stack_kib = v;
		else if (strcmp(key, "PageTables:") == 0)
			m->page_tables_kib = v;
	}
	fclose(f);
	return m->total_kib ? 0 : -1;
}

double meminfo_used_pct(const struct meminfo *m)
{
	return m->total_kib ? 100.0 * (double)(m->total_kib - m->available_kib) / (double)m->total_kib : 0;
}

int cpustat_read(struct cpustat *c)
{
	unsigned long long v[8] = { 0 };
	FILE *f = fopen("/proc/stat", "r");
	int n;

	memset(c, 0, sizeof(*c));
	if (!f)
		return -1;
	/* cpu user nice system idle iowait irq softirq steal */
	n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
		   &v[6], &v[7]);
	fclose(f);
	if (n < 4)
		return -1;
	for (int i = 0; i < 8; i++)
		c->total += v[i];
	c->busy = c->total - v[3] - v[4];
	return 0;
}

double cpustat_busy_pct(const struct cpustat *a, const struct cpustat *b)
{
	u64 total = b->total - a->total;

	return total ? 100.0 * (double)(b->busy - a->busy) / (double)total : 0;
}

int proc_mem_kib(pid_t pid, u64 *rss, u64 *anon)
{
	char path[64], key[64];
	unsigned long long v;
	FILE *f;

	*rss = *anon = 0;
	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fscanf(f, "%63s", key) == 1) {
		if (strcmp(key, "Rss:") == 0 && fscanf(f, "%llu", &v) == 1)
			*rss = v;
		else if (strcmp(key, "Anonymous:") == 0 && fscanf(f, "%llu", &v) == 1)
			*anon = v;
	}
	fclose(f);
	return 0;
}

long proc_pte_kib(pid_t pid)
{
	char path[64], line[128];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (v < 0 && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmPTE: %ld", &v) != 1)
			v = -1;
	fclose(f);
	return v;
}

long host_read_long(const char *path, long fallback)
{
	FILE *f = fopen(path, "r");
	long v;

	if (!f)
		return fallback;
	if (fscanf(f, "%ld", &v) != 1)
		v = fallback;
	fclose(f);
	return v;
}

u64 proc_cpu_ticks(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long utime = 0, stime = 0;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* Fields after the command name, which may hold spaces: state is the
	 * 3rd field, utime and stime the 14th and 15th. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
		return 0;
	return utime + stime;
}

long host_pids_left(void)
{
	long pid_max = host_read_long("/proc/sys/kernel/pid_max", 32768);
	long running, threads = 0;
	FILE *f = fopen("/proc/loadavg", "r");

	/* /proc/loadavg: "0.00 0.01 0.05 RUNNING/TASKS LASTPID" */
	if (f) {
		if (fscanf(f, "%*f %*f %*f %ld/%ld", &running, &threads) != 2)
			threads = 0;
		fclose(f);
	}
	return pid_max - threads;
}
