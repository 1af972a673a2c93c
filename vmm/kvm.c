/* kvm.c - opens /dev/kvm, checks the API version and each capability kvmlite uses, names the backend. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "fault.h"
#include "kvm.h"

/* Every capability the VMM depends on, and why. */
static const struct {
	int cap;
	const char *name;
	const char *why;
} required_caps[] = {
	{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY", "guest RAM comes from our own mappings" },
	{ KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT", "timer signals kick a vCPU out of KVM_RUN without races" },
};

/* The module that implements /dev/kvm; figures differ by 10-100x between them. */
static void kvm_find_backend(struct kvm *kvm)
{
	static const char *const modules[] = { "kvm_intel", "kvm_amd", "kvm_pvm" };
	char path[64];

	snprintf(kvm->backend, sizeof(kvm->backend), "unknown");
	for (size_t i = 0; i < ARRAY_SIZE(modules); i++) {
		snprintf(path, sizeof(path), "/sys/module/%s", modules[i]);
		if (access(path, F_OK) == 0) {
			snprintf(kvm->backend, sizeof(kvm->backend), "%s", modules[i]);
			return;
		}
	}
}

/*
 * Port writes that need no answer can wait in a ring KVM shares with us
 * instead of each costing an exit (KVM_REGISTER_COALESCED_MMIO with pio =
 * 1, Linux 4.19). KVM_CAP_COALESCED_MMIO answers with the ring's page
 * offset within the vCPU mapping, which must lie inside it; the ring
 * fills that page (vm.c counts its entries for x86's 4 KiB pages).
 * KVMLITE_FAULT=coalesced_pio:1:1 pretends there is none, so that tests
 * can hold the same guest with and without it side by side.
 */
static void kvm_find_coalescing(struct kvm *kvm)
{
	int page = ioctl(kvm->fd, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_MMIO);
	long size = sysconf(_SC_PAGESIZE);

	if (page > 0 && size == 4096 && ioctl(kvm->fd, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_PIO) > 0 &&
	    (page + 1) * size <= kvm->run_size && !fault_next("coalesced_pio"))
		kvm->coalesced_offset = (u32)(page * size);
}

int kvm_open(struct kvm *kvm, char *err, size_t errlen)
{
	int version;

	memset(kvm, 0, sizeof(*kvm));
	kvm->fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm->fd < 0) {
		if (errno == ENOENT)
			snprintf(err, errlen,
				 "no /dev/kvm: KVM is not available on this host "
				 "(load kvm_intel or kvm_amd, or enable nested virtualization)");
		else if (errno == EACCES || errno == EPERM)
			snprintf(err, errlen, "no permission to open /dev/kvm: run as root or join the 'kvm' group");
		else
			snprintf(err, errlen, "cannot open /dev/kvm: %s", strerror(errno));
		return -1;
	}
	version = ioctl(kvm->fd, KVM_GET_API_VERSION, 0);
	if (version != KVM_API_VERSION) {
		snprintf(err, errlen, "KVM API version %d, kvmlite needs %d: this KVM is too old", version,
			 KVM_API_VERSION);
		goto fail;
	}
	for (size_t i = 0; i < ARRAY_SIZE(required_caps); i++) {
		if (ioctl(kvm->fd, KVM_CHECK_EXTENSION, required_caps[i].cap) <= 0) {
			snprintf(err, errlen, "KVM lacks %s (%s)", required_caps[i].name, required_caps[i].why);
			goto fail;
		}
	}
	kvm->run_size = ioctl(kvm->fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (kvm->run_size < (int)sizeof(struct kvm_run)) {
		snprintf(err, errlen, "KVM_GET_VCPU_MMAP_SIZE: %s", kvm->run_size < 0 ? strerror(errno) : "too small");
		goto fail;
	}
	kvm_find_backend(kvm);
	/*
	 * With these two a guest reaches only the MSRs vm.c allows (default
	 * deny, the rest answered with #GP from userspace); without them
	 * (Linux < 5.10) no VM is handed from guest to guest (park.c).
	 * KVMLITE_FAULT=msr_filter:1:1 pretends they are absent, for tests.
	 */
	kvm->msr_filter = ioctl(kvm->fd, KVM_CHECK_EXTENSION, KVM_CAP_X86_USER_SPACE_MSR) > 0 &&
			  ioctl(kvm->fd, KVM_CHECK_EXTENSION, KVM_CAP_X86_MSR_FILTER) > 0 && !fault_next("msr_filter");
	kvm->triple_fault_event = ioctl(kvm->fd, KVM_CHECK_EXTENSION, KVM_CAP_X86_TRIPLE_FAULT_EVENT) > 0;
	kvm->sync_events = (ioctl(kvm->fd, KVM_CHECK_EXTENSION, KVM_CAP_SYNC_REGS) & KVM_SYNC_X86_EVENTS) != 0;
	kvm_find_coalescing(kvm);
	return 0;
fail:
	close(kvm->fd);
	kvm->fd = -1;
	return -1;
}

/* Creation ioctls can be interrupted by the timer signals of the thread
 * that runs other guests meanwhile: those are retried, not failures. */
int kvm_ioctl(int fd, unsigned long req, void *arg)
{
	int r;

	do
		r = ioctl(fd, req, arg);
	while (r < 0 && (errno == EINTR || errno == EAGAIN));
	return r;
}

void kvm_close(struct kvm *kvm)
{
	if (kvm->fd >= 0)
		close(kvm->fd);
	kvm->fd = -1;
}
