/* hostinfo.h - what the host says about itself: memory, CPU time, limits, processes' memory. */
#ifndef KVMLITE_HOSTINFO_H
#define KVMLITE_HOSTINFO_H

#include <sys/types.h>

#include "types.h"

struct meminfo {
	u64 total_kib, available_kib, slab_kib, kernel_stack_kib, page_tables_kib;
};

struct cpustat {
	u64 busy, total; /* jiffies since boot, all CPUs */
};

int meminfo_read(struct meminfo *m);
/* Host memory in use, percent: (MemTotal - MemAvailable) / MemTotal. */
double meminfo_used_pct(const struct meminfo *m);
int cpustat_read(struct cpustat *c);
/* Busy share of all CPUs between two samples, percent. */
double cpustat_busy_pct(const struct cpustat *a, const struct cpustat *b);
/*
 * A process's memory, KiB (smaps_rollup): resident, and anonymous, which is
 * what it allocated itself. The difference for a VMM is mostly the kvm_run
 * pages KVM allocates per vCPU and maps into it: kernel memory.
 */
int proc_mem_kib(pid_t pid, u64 *rss, u64 *anon);
/* The page tables of a process's memory (VmPTE), KiB; -1 if unknown. */
long proc_pte_kib(pid_t pid);
/* CPU time a process used so far (user + system), in clock ticks. */
u64 proc_cpu_ticks(pid_t pid);
/*
 * PIDs the host has left: kernel.pid_max minus the tasks that exist. Every
 * KVM VM has a kernel thread, so live VMs use up PIDs; a host without any
 * cannot even fork a shell.
 */
long host_pids_left(void);
/* A read-only sysctl or /proc number, or fallback. */
long host_read_long(const char *path, long fallback);

#endif
