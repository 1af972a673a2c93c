/* wire.h - the one definition of every line between a shard and its supervisor (docs/spawn.md, "The wire"). */
#ifndef KVMLITE_WIRE_H
#define KVMLITE_WIRE_H

#include <stddef.h>

#include "types.h"

/*
 * A shard and its supervisor talk in lines over a socketpair. The
 * supervisor sends "TAG REQUEST" (a client's request, TAG its pending
 * answer) or "0 CONTROL" (nocreate, hold, unwatch ID); the shard answers
 * "TAG ok ..." or "TAG error ...", and says on its own "@EVENT ID ...".
 * Each line has here its one formatter (into a buffer of WIRE_LINE_MAX, as
 * snprintf: what fits, the length written) and its one parser.
 */
#define WIRE_LINE_MAX 512

/* Where a guest's boot time goes, summed over a shard's guests (ns); the names are the summary's JSON keys. */
/* clang-format off */
#define WIRE_STAGES(X) \
	X(CREATE_VM, create_vm) X(CREATE_VCPU, create_vcpu) X(LOAD, load) X(SET_MEMORY, set_memory) \
	X(SET_REGS, set_regs) X(FIRMWARE, firmware) X(FIRST_BYTE, first_byte)
/* clang-format on */
#define WIRE_STAGE_ENUM(e, name) STAGE_##e,
enum boot_stage { WIRE_STAGES(WIRE_STAGE_ENUM) NSTAGES };
extern const char *const wire_stage_names[NSTAGES];

/*
 * The counters of a `stats` answer: each shard says its own, the
 * supervisor sums them and writes them in this order into its JSON
 * (docs/json.md), whose names metrics.c maps to Prometheus'.
 */
/* clang-format off */
#define WIRE_STATS(X) \
	X(exits) X(io_exits) X(coalesced) X(hlts) X(irqs) X(kicks) X(unknown_ports) X(mmio) \
	X(out_bytes) X(in_bytes) X(overruns) X(out_dropped) X(pit_irqs) X(pit_clamped) \
	X(slices) X(preempted) X(create_failed) X(pool) X(parks) X(resumes) X(pool_hits) \
	X(resume_failed) X(vms_created) X(parked_bytes) X(templates) X(template_bytes) X(cq_overflows) X(throttles)
/* clang-format on */
#define WIRE_STAT_FIELD(k) u64 k;
struct wire_stats {
	WIRE_STATS(WIRE_STAT_FIELD)
};
#define WIRE_NSTATS (sizeof(struct wire_stats) / sizeof(u64))
extern const char *const wire_stat_names[];

/* The guests of a shard by state, for `list` without a state; `lost` is the supervisor's to count. */
#define WIRE_COUNTS(X)	   X(running) X(halted) X(parked) X(ended) X(failed) X(silent)
#define WIRE_COUNT_ENUM(k) WIRE_COUNT_##k,
enum { WIRE_COUNTS(WIRE_COUNT_ENUM) WIRE_NCOUNTS };
extern const char *const wire_count_names[WIRE_NCOUNTS];

/* "TAG ok exits=N ...": a shard's stats. */
size_t wire_stats_format(char *buf, size_t cap, u32 tag, const struct wire_stats *st);
/* "TAG ok running=N ... lost=0 booted=N": a shard's counts. */
size_t wire_counts_format(char *buf, size_t cap, u32 tag, const u64 counts[WIRE_NCOUNTS], u64 booted);
/* Adds the values of an answer "ok k=v ..." (after its tag) to sums, n keys of names; nothing for an error. */
void wire_sums_add(const char *answer, const char *const *names, size_t n, u64 *sums);

/* "@created N PARKED BYTES SPARE STAGED STAGE_NS... CREATED_STAGED TEMPLATES TEMPLATE_BYTES": what a shard created,
 * parked, holds and timed. */
struct wire_created {
	u32 created, parked;
	u64 parked_bytes;
	u64 spare;		       /* KVM VMs in its pool, carrying no guest */
	u64 staged, stage_ns[NSTAGES]; /* the first byte's stage summed over its booted guests... */
	u64 created_staged;	       /* ...the others' over the guests it created */
	u64 templates, template_bytes; /* its parked guests' templates (template.c), one per image, and their bytes */
};

/* The events a shard sends unasked. */
enum wire_event_kind {
	WIRE_NOT_EVENT,	    /* not an event: an answer "TAG ..." */
	WIRE_CREATED,	    /* the numbers of struct wire_created */
	WIRE_BOOT,	    /* "@boot ID NS": its first output byte, NS on the monotonic clock all processes share */
	WIRE_SILENT,	    /* "@silent ID WHAT": nothing written by the boot deadline, and what it does */
	WIRE_END,	    /* "@end ID STATE WHY": it ended (STATE "failed" or "ended") */
	WIRE_RESUME_FAILED, /* "@resume_failed ID WHY": a parked guest could not get a VM back */
	WIRE_OUT,	    /* "@out ID DATA": a watched guest wrote */
	WIRE_FATAL,	    /* "@fatal TEXT": the shard cannot go on */
	WIRE_UNKNOWN,	    /* an event of no known kind: ignored */
};

struct wire_event {
	enum wire_event_kind kind;
	u32 id;
	u64 ns;		  /* WIRE_BOOT */
	bool failed;	  /* WIRE_END: STATE is "failed" */
	const char *text; /* WHAT, WHY, DATA or TEXT: the rest of the line */
	struct wire_created created;
};

size_t wire_created_format(char *buf, size_t cap, const struct wire_created *c);
size_t wire_boot_format(char *buf, size_t cap, u32 id, u64 ns);
size_t wire_silent_format(char *buf, size_t cap, u32 id, const char *what);
size_t wire_end_format(char *buf, size_t cap, u32 id, const char *state, const char *why);
size_t wire_resume_failed_format(char *buf, size_t cap, u32 id, const char *why);
/* "@out ID ": the data and the newline follow (the data may be longer than a line buffer). */
size_t wire_out_head_format(char *buf, size_t cap, u32 id);
size_t wire_fatal_format(char *buf, size_t cap, const char *text);
/* Parses a NUL-terminated line; e->text points into it. */
void wire_event_parse(const char *line, struct wire_event *e);

/* The supervisor's own commands to a shard, tagged 0. */
enum wire_control {
	WIRE_REQUEST,	/* not a control: a client's request, to answer with its tag */
	WIRE_NOCREATE,	/* "0 nocreate": create no more guests (the host is at its limit) */
	WIRE_HOLD,	/* "0 hold": no more VMs than now (--park auto) */
	WIRE_UNWATCH,	/* "0 unwatch ID": nobody watches the guest any more */
	WIRE_MALFORMED, /* no tag: not from a supervisor */
};

struct wire_command {
	enum wire_control control;
	u32 tag;
	u32 id;		     /* WIRE_UNWATCH */
	const char *request; /* WIRE_REQUEST: the client's request, len bytes */
	size_t len;
};

/* "TAG REQUEST\n" (len bytes of request). */
size_t wire_request_format(char *buf, size_t cap, u32 tag, const char *request, size_t len);
/* "0 nocreate\n", "0 hold\n", "0 unwatch ID\n". */
size_t wire_control_format(char *buf, size_t cap, enum wire_control control, u32 id);
/* Parses a NUL-terminated line of len bytes (without its newline). */
void wire_command_parse(const char *line, size_t len, struct wire_command *c);

/* "TAG REST": an answer's tag and where the rest starts; false if the line is no answer. */
bool wire_answer_parse(const char *line, u32 *tag, const char **rest);

#endif
