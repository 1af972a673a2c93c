/* summary.h - what the supervisor reports (summary.c): the status line, the summary, the stats JSON and metrics. */
#ifndef KVMLITE_SUMMARY_H
#define KVMLITE_SUMMARY_H

#include <stdio.h>

#include "supervisor.h"

/* A message on stderr, in place of the status line, wrapped to the terminal's width. */
void summary_say(struct spawn *sv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Guests created and not ended or lost: resident (on a KVM VM) or parked. */
u32 summary_live(const struct spawn *sv);
/* All workers' memory, KiB: resident, and anonymous (their own allocations). */
void summary_worker_mem(struct spawn *sv, u64 *rss, u64 *anon);
/* CPU time of the supervisor and every worker, in clock ticks. */
u64 summary_vmm_ticks(struct spawn *sv);
/* The status line on a terminal, redrawn in place. */
void summary_progress(struct spawn *sv, u64 now);
/* The summary at the end, as text or JSON (--json). */
void summary_print(struct spawn *sv);
/* --boot-times FILE: every booted guest's id and µs to its first byte; closes f. */
void summary_boot_times_write(struct spawn *sv, FILE *f);
/* The `stats` JSON object: the supervisor's own figures, then the shards' sums (wire_stat_names). */
void summary_stats_json(struct spawn *sv, struct outbuf *b, const u64 *sums);
/* The --metrics-file's new content, from a `stats` object (len bytes of JSON). */
void summary_metrics_write(struct spawn *sv, const char *json, size_t len);

#endif
