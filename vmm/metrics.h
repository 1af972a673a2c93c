/* metrics.h - the spawn's counters in the Prometheus text exposition format (docs/metrics.md). */
#ifndef KVMLITE_METRICS_H
#define KVMLITE_METRICS_H

#include <stddef.h>

#define METRICS_TEXT_MAX (32 * 1024) /* the whole exposition is about 8 KiB */

/*
 * Writes the metrics for a `stats` JSON object (the answer's object, as
 * `kvmlite stats --json` prints it) into out: # HELP and # TYPE lines and
 * one sample per counter, named and scaled by Prometheus conventions
 * (kvmlite_ prefix, base units, _total for counters). A key the object
 * lacks is left out. Returns the length written, or that it would need
 * (like snprintf: the text is cut when that is >= cap); 0 when json is not
 * an object.
 */
size_t metrics_format(const char *json, char *out, size_t cap);

#endif
