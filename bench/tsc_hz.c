/* tsc_hz.c - prints the host TSC frequency in Hz (rdtsc against CLOCK_MONOTONIC over 200 ms), to turn guest cycle counts into seconds. */
#include "rawvm.h"

static inline u64 tsc_read(void)
{
	u32 lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (u64)hi << 32 | lo;
}

int main(void)
{
	u64 t0 = now_ns(), c0 = tsc_read(), t1, c1;
	struct timespec ts = { 0, 200000000 };

	nanosleep(&ts, NULL);
	c1 = tsc_read();
	t1 = now_ns();
	printf("%.0f\n", (double)(c1 - c0) * 1e9 / (double)(t1 - t0));
	return 0;
}
