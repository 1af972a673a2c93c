/* metrics.h - the spawn's counters in the Prometheus text exposition format (docs/metrics.md). */
#ifndef KVMLITE_METRICS_H
#define KVMLITE_METRICS_H

#include <stddef.h>

#include "types.h"

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

/*
 * --metrics-file PATH, for node_exporter's textfile collector, which may
 * read it at any moment: a reader must see one whole exposition, old or
 * new. Two files are opened at the start, PATH and a hidden .NAME.tmp
 * beside it; each update rewrites the hidden one (pwrite, ftruncate) and
 * swaps the two names in one step (renameat2 RENAME_EXCHANGE). Nothing is
 * opened for writing after the start, so the supervisor's sandbox keeps
 * its promise of opening files read-only (docs/security.md). A file
 * system without RENAME_EXCHANGE gets PATH rewritten in place instead.
 */
struct metrics_file {
	int dir_fd, fd[2]; /* fd[shown] is PATH now; the other one is the hidden file */
	int shown;
	bool exchange; /* RENAME_EXCHANGE works here */
	char path[4096], name[256], tmp[264];
};

/* Opens (creates, empties) PATH and its hidden twin. 0, or -1 with err. */
int metrics_file_open(struct metrics_file *m, const char *path, char *err, size_t errlen);
/* Makes text PATH's whole content. 0, or -1 with errno. */
int metrics_file_write(struct metrics_file *m, const char *text, size_t len);
/* Closes the files; with remove, both names are unlinked first. */
void metrics_file_close(struct metrics_file *m, bool remove);

#endif
