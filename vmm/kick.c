/* kick.c - getting a thread's guest out of KVM_RUN: a signal that sets its immediate_exit, sent by a timer or by hand.
 */
#define _GNU_SOURCE /* SIGEV_THREAD_ID */
#include <linux/kvm.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "kick.h"

/*
 * A signal sent to the thread that runs a guest sets that guest's
 * immediate_exit, so KVM_RUN returns EINTR at once, whether the signal
 * came during KVM_RUN, just before it, or while the thread was busy
 * elsewhere (then the next entry returns at once: a harmless extra turn).
 * The handler finds the guest its thread runs through a thread-local
 * pointer, which stays set between entries so that no kick is lost.
 */
__thread struct kvm_run *volatile kick_running;

void kick_self(void)
{
	struct kvm_run *run = kick_running;

	if (run)
		run->immediate_exit = 1;
}

static void kick_handler(int sig)
{
	(void)sig;
	kick_self();
}

int kick_install(void)
{
	/* SA_RESTART: a kick must not cut short the VMM's own write()s;
	 * KVM_RUN and poll() return EINTR regardless. */
	struct sigaction sa = { .sa_handler = kick_handler, .sa_flags = SA_RESTART };

	sigemptyset(&sa.sa_mask);
	return sigaction(KICK_SIGNAL, &sa, NULL);
}

int kick_timer_create(timer_t *timer)
{
	struct sigevent sev = { .sigev_notify = SIGEV_THREAD_ID, .sigev_signo = KICK_SIGNAL };

	sev._sigev_un._tid = (int)syscall(SYS_gettid);
	return timer_create(CLOCK_MONOTONIC, &sev, timer);
}

void kick_timer_at(timer_t timer, u64 when)
{
	struct itimerspec its = { 0 };

	if (when && when != UINT64_MAX)
		its.it_value = clock_timespec(when);
	timer_settime(timer, TIMER_ABSTIME, &its, NULL);
}
