/* kick.h - getting a thread's guest out of KVM_RUN: a signal that sets its immediate_exit, sent by a timer or by hand.
 */
#ifndef KVMLITE_KICK_H
#define KVMLITE_KICK_H

#include <signal.h>
#include <time.h>

#include "types.h"

#define KICK_SIGNAL SIGRTMIN

struct kvm_run;

/*
 * The kvm_run of the guest this thread runs, which a kick reaches. It
 * stays set between entries (vm_run() sets it), so that a kick that comes
 * while the thread is busy elsewhere is not lost: the next entry returns
 * at once.
 */
extern __thread struct kvm_run *volatile kick_running;

static inline void kick_target(struct kvm_run *run)
{
	kick_running = run;
}

/* A guest's kvm_run goes away: a kick must not reach it any more. */
static inline void kick_forget(const struct kvm_run *run)
{
	if (kick_running == run)
		kick_running = NULL;
}

/* Makes KICK_SIGNAL kick the guest of the thread it is delivered to. */
int kick_install(void);
/* Kicks this thread's guest; async-signal-safe, for other signal handlers. */
void kick_self(void);

/* A POSIX timer that sends KICK_SIGNAL to the calling thread. */
int kick_timer_create(timer_t *timer);
/* Arms it for the host monotonic time `when` (ns); 0 or UINT64_MAX disarm it. */
void kick_timer_at(timer_t timer, u64 when);

#endif
