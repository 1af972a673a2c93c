/* clock.h - the clocks kvmlite reads (host monotonic time, a thread's CPU time) and nanoseconds as timespecs. */
#ifndef KVMLITE_CLOCK_H
#define KVMLITE_CLOCK_H

#include <linux/time_types.h>
#include <time.h>

#include "types.h"

#define NS_PER_S 1000000000ull

/* The host monotonic clock in ns: the only clock the devices are given. */
static inline u64 clock_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * NS_PER_S + (u64)ts.tv_nsec;
}

/* The calling thread's CPU time (ns): a system call, ~0.3 us here. */
static inline u64 clock_thread_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (u64)ts.tv_sec * NS_PER_S + (u64)ts.tv_nsec;
}

/* ns as the timespec of POSIX timers, and as io_uring's timeouts take it. */
static inline struct timespec clock_timespec(u64 ns)
{
	return (struct timespec){ .tv_sec = (time_t)(ns / NS_PER_S), .tv_nsec = (long)(ns % NS_PER_S) };
}

static inline struct __kernel_timespec clock_kernel_timespec(u64 ns)
{
	struct timespec ts = clock_timespec(ns);

	return (struct __kernel_timespec){ .tv_sec = ts.tv_sec, .tv_nsec = ts.tv_nsec };
}

#endif
