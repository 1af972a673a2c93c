/* test_vm_exit.c - the exit dispatch on a fake kvm_run: routing, string I/O, bounds, exit reasons. */
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "layout.h"
#include "vm.h"

#define RUN_SIZE 12288 /* what KVM_GET_VCPU_MMAP_SIZE says on x86 */
#define DATA_OFF 4096  /* where KVM puts port I/O data: the second page */

struct fixture {
	struct vm vm;
	u8 out[64];
	int out_len;
};

static void record_output(void *ctx, struct vm *vm, u8 byte)
{
	struct fixture *f = ctx;

	(void)vm;
	if (f->out_len < (int)sizeof(f->out))
		f->out[f->out_len++] = byte;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	f->vm.run = calloc(1, RUN_SIZE);
	f->vm.run_size = RUN_SIZE;
	f->vm.vcpu_fd = -1;
	f->vm.cfg.output = record_output;
	f->vm.cfg.output_ctx = f;
	vm_wire_devices(&f->vm);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	free(f->vm.run);
	vgatext_free(f->vm.vga);
	free(f->vm.why);
	free(f);
	return 0;
}

/* Fakes the exit KVM reports for `in`/`out` (count > 1: string I/O). */
static u8 *io_exit(struct vm *vm, u16 port, bool out, int size, u32 count, const void *data)
{
	struct kvm_run *run = vm->run;
	u8 *p = (u8 *)run + DATA_OFF;

	run->exit_reason = KVM_EXIT_IO;
	run->io.port = port;
	run->io.direction = out ? KVM_EXIT_IO_OUT : KVM_EXIT_IO_IN;
	run->io.size = (u8)size;
	run->io.count = count;
	run->io.data_offset = DATA_OFF;
	memset(p, 0, (size_t)size * count);
	if (data)
		memcpy(p, data, (size_t)size * count);
	vm_handle_exit(vm);
	return p;
}

static void out8(struct vm *vm, u16 port, u8 val)
{
	io_exit(vm, port, true, 1, 1, &val);
}

static u8 in8(struct vm *vm, u16 port)
{
	return *io_exit(vm, port, false, 1, 1, NULL);
}

/* The PIC pair as the firmware programs it, everything unmasked. */
static void pic_setup(struct vm *vm)
{
	out8(vm, 0x20, 0x11), out8(vm, 0x21, 0x08), out8(vm, 0x21, 0x04), out8(vm, 0x21, 0x01);
	out8(vm, 0xa0, 0x11), out8(vm, 0xa1, 0x70), out8(vm, 0xa1, 0x02), out8(vm, 0xa1, 0x01);
	out8(vm, 0x21, 0x00), out8(vm, 0xa1, 0x00);
}

static void test_out_to_thr_reaches_output(void **state)
{
	struct fixture *f = *state;

	out8(&f->vm, COM1_BASE, 'A');
	assert_int_equal(f->out_len, 1);
	assert_int_equal(f->out[0], 'A');
	assert_int_equal(f->vm.state, VM_RUNNING);
}

static void test_rep_outsb_sends_every_byte(void **state)
{
	struct fixture *f = *state;

	io_exit(&f->vm, COM1_BASE, true, 1, 5, "hello");
	assert_int_equal(f->out_len, 5);
	assert_memory_equal(f->out, "hello", 5);
}

static void test_rep_insb_reads_each_byte(void **state)
{
	struct fixture *f = *state;
	u8 *p;

	uart_rx_byte(&f->vm.uart, 'x');
	p = io_exit(&f->vm, COM1_BASE, false, 1, 2, NULL);
	assert_int_equal(p[0], 'x');
	assert_int_equal(p[1], 'x');			     /* FIFOs off: RBR keeps its last byte */
	assert_int_equal(in8(&f->vm, COM1_BASE + 5) & 1, 0); /* DR cleared by the first read */
}

static void test_unknown_port_reads_all_ones_and_counts(void **state)
{
	struct fixture *f = *state;
	u32 v = 0x12345678;
	u8 *p = io_exit(&f->vm, 0x1234, false, 4, 1, NULL);

	assert_int_equal(*(u32 *)p, 0xffffffff);
	io_exit(&f->vm, 0x1234, true, 4, 1, &v);
	/* a 4-byte access is 4 byte-wide ports on the ISA bus */
	assert_int_equal(f->vm.stats.unknown_port_reads, 4);
	assert_int_equal(f->vm.stats.unknown_port_writes, 4);
	assert_int_equal(f->vm.state, VM_RUNNING);
}

static void test_wide_access_splits_across_ports(void **state)
{
	struct fixture *f = *state;
	u16 v = 0xa55a;
	u8 *p;

	io_exit(&f->vm, COM1_BASE + 7, true, 2, 1, &v); /* SCR, then port 0x400 (nothing) */
	assert_int_equal(in8(&f->vm, COM1_BASE + 7), 0x5a);
	assert_int_equal(f->vm.stats.unknown_port_writes, 1);
	p = io_exit(&f->vm, COM1_BASE + 6, false, 2, 1, NULL); /* MSR, SCR */
	assert_int_equal(p[1], 0x5a);
}

static void test_debug_exit_takes_whole_value(void **state)
{
	struct fixture *f = *state;
	u16 v = 0x1234;

	io_exit(&f->vm, DEBUG_EXIT_PORT, true, 2, 1, &v);
	assert_int_equal(f->vm.state, VM_ENDED);
	assert_int_equal(f->vm.end, VM_END_DEBUG_EXIT);
	assert_int_equal(f->vm.exit_code, 0x1234);
}

static void test_string_io_stops_at_debug_exit(void **state)
{
	struct fixture *f = *state;
	u8 v[3] = { 'a', 'b', 'c' };

	io_exit(&f->vm, DEBUG_EXIT_PORT, true, 1, 3, v);
	assert_int_equal(f->vm.exit_code, 'a');
}

static void test_data_offset_outside_run_page_ends_guest(void **state)
{
	struct fixture *f = *state;
	struct kvm_run *run = f->vm.run;

	run->exit_reason = KVM_EXIT_IO;
	run->io.port = COM1_BASE;
	run->io.direction = KVM_EXIT_IO_OUT;
	run->io.size = 2;
	run->io.count = 1;
	run->io.data_offset = RUN_SIZE - 1; /* one byte inside, one outside */
	vm_handle_exit(&f->vm);
	assert_int_equal(f->vm.end, VM_END_HOST_ERROR);
	assert_int_equal(f->out_len, 0);
}

static void test_huge_count_rejected(void **state)
{
	struct fixture *f = *state;
	struct kvm_run *run = f->vm.run;

	run->exit_reason = KVM_EXIT_IO;
	run->io.port = COM1_BASE;
	run->io.size = 4;
	run->io.count = 0xffffffff;
	run->io.data_offset = DATA_OFF;
	vm_handle_exit(&f->vm);
	assert_int_equal(f->vm.end, VM_END_HOST_ERROR);
}

static void test_bad_io_size_rejected(void **state)
{
	struct fixture *f = *state;
	struct kvm_run *run = f->vm.run;

	run->exit_reason = KVM_EXIT_IO;
	run->io.size = 3;
	run->io.count = 1;
	run->io.data_offset = DATA_OFF;
	vm_handle_exit(&f->vm);
	assert_int_equal(f->vm.end, VM_END_HOST_ERROR);
}

static void test_mmio_read_returns_all_ones_and_counts(void **state)
{
	struct fixture *f = *state;
	struct kvm_run *run = f->vm.run;

	run->exit_reason = KVM_EXIT_MMIO;
	run->mmio.phys_addr = 0xc0000;
	run->mmio.len = 4;
	run->mmio.is_write = 0;
	memset(run->mmio.data, 0, 8);
	vm_handle_exit(&f->vm);
	assert_int_equal(*(u32 *)run->mmio.data, 0xffffffff);
	assert_int_equal(run->mmio.data[4], 0); /* only len bytes */
	assert_int_equal(f->vm.stats.mmio_reads, 1);
	run->mmio.len = 200; /* bogus length: clamped to the 8-byte buffer */
	vm_handle_exit(&f->vm);
	assert_int_equal(f->vm.stats.mmio_reads, 2);
}

static void test_mmio_write_dropped_and_counted(void **state)
{
	struct fixture *f = *state;
	struct kvm_run *run = f->vm.run;

	run->exit_reason = KVM_EXIT_MMIO;
	run->mmio.phys_addr = 0xf0000; /* no memory there */
	run->mmio.len = 1;
	run->mmio.is_write = 1;
	vm_handle_exit(&f->vm);
	assert_int_equal(f->vm.stats.mmio_writes, 1);
	assert_int_equal(f->vm.state, VM_RUNNING);
}

/* The MSR filter sends every MSR but the allowed ones here: #GP, and the guest goes on. */
static void test_refused_msr_answered_with_gp(void **state)
{
	struct fixture *f = *state;
	struct kvm_run *run = f->vm.run;

	run->exit_reason = KVM_EXIT_X86_RDMSR;
	run->msr.index = 0x2ff; /* MTRRdefType */
	run->msr.reason = KVM_MSR_EXIT_REASON_FILTER;
	vm_handle_exit(&f->vm);
	assert_int_equal(run->msr.error, 1);
	run->exit_reason = KVM_EXIT_X86_WRMSR;
	run->msr.error = 0;
	run->msr.index = 0x402; /* MC0_ADDR */
	vm_handle_exit(&f->vm);
	assert_int_equal(run->msr.error, 1);
	assert_int_equal(f->vm.stats.msrs_refused, 2);
	assert_int_equal(f->vm.state, VM_RUNNING);
}

/* Fakes a write of len bytes to guest-physical addr that KVM could not map (no RAM there). */
static void mmio_write(struct vm *vm, u64 addr, const void *data, u32 len)
{
	struct kvm_run *run = vm->run;

	run->exit_reason = KVM_EXIT_MMIO;
	run->mmio.phys_addr = addr;
	run->mmio.len = len;
	run->mmio.is_write = 1;
	memcpy(run->mmio.data, data, len);
	vm_handle_exit(vm);
}

static void test_text_buffer_writes_are_screen_output_on_their_own_lines(void **state)
{
	struct fixture *f = *state;

	assert_null(f->vm.vga); /* nothing until the guest touches it */
	out8(&f->vm, COM1_BASE, 'a');
	mmio_write(&f->vm, VGA_TEXT_ADDR, "H\x07i\x07", 4);
	out8(&f->vm, COM1_BASE, 'b');
	mmio_write(&f->vm, VGA_TEXT_ADDR + 4, "!\x07", 2);
	out8(&f->vm, FW_SCREEN_PORT, 'c'); /* int 10h teletype: a stream, as COM1 */
	assert_non_null(f->vm.vga);
	assert_int_equal(f->out_len, 12);
	assert_memory_equal(f->out, "a\nHi\nb\n  !\nc", 12);
	assert_int_equal(f->vm.stats.mmio_writes, 0); /* a device now, not absent memory */
	assert_int_equal(f->vm.stats.vga_accesses, 2);
}

static void test_hlt_with_interrupts_off_ends_guest(void **state)
{
	struct fixture *f = *state;

	f->vm.run->exit_reason = KVM_EXIT_HLT;
	f->vm.run->if_flag = 0;
	vm_handle_exit(&f->vm);
	assert_int_equal(f->vm.state, VM_ENDED);
	assert_int_equal(f->vm.end, VM_END_HALT);
}

static void test_hlt_with_interrupts_on_sleeps(void **state)
{
	struct fixture *f = *state;

	f->vm.run->exit_reason = KVM_EXIT_HLT;
	f->vm.run->if_flag = 1;
	vm_handle_exit(&f->vm);
	assert_int_equal(f->vm.state, VM_HALTED);
	assert_int_equal(vm_deadline(&f->vm), UINT64_MAX);
}

static void test_com1_input_wakes_halted_guest(void **state)
{
	struct fixture *f = *state;

	pic_setup(&f->vm);
	out8(&f->vm, COM1_BASE + 4, 0x08); /* MCR.OUT2: the UART's IRQ reaches the PIC */
	out8(&f->vm, COM1_BASE + 1, 0x01); /* IER: received data available */
	f->vm.run->exit_reason = KVM_EXIT_HLT;
	f->vm.run->if_flag = 1;
	vm_handle_exit(&f->vm);
	assert_int_equal(f->vm.state, VM_HALTED);
	vm_advance(&f->vm, clock_now());
	assert_int_equal(f->vm.state, VM_HALTED);
	uart_rx_byte(&f->vm.uart, 'z');
	vm_advance(&f->vm, clock_now());
	assert_int_equal(f->vm.state, VM_RUNNING);
	assert_int_equal(pic_intack(&f->vm.pic), PIC_MASTER_VECTOR + IRQ_COM1);
}

static void test_hlt_with_pending_interrupt_stays_runnable(void **state)
{
	struct fixture *f = *state;

	pic_setup(&f->vm);
	out8(&f->vm, COM1_BASE + 4, 0x08);
	out8(&f->vm, COM1_BASE + 1, 0x02); /* IER.ETBEI with THR empty: THRE pending */
	assert_true(pic_intr(&f->vm.pic));
	f->vm.run->exit_reason = KVM_EXIT_HLT;
	f->vm.run->if_flag = 1;
	vm_handle_exit(&f->vm);
	assert_int_equal(f->vm.state, VM_RUNNING);
}

static void test_pit_deadline_fires_through_vm_advance(void **state)
{
	struct fixture *f = *state;
	u64 deadline;

	pic_setup(&f->vm);
	out8(&f->vm, PIT_BASE + 3, 0x30); /* counter 0, lo/hi, mode 0 */
	out8(&f->vm, PIT_BASE, 0x00);
	out8(&f->vm, PIT_BASE, 0x10); /* 4096 ticks: about 3.4 ms */
	deadline = vm_deadline(&f->vm);
	assert_true(deadline != UINT64_MAX);
	assert_false(pic_intr(&f->vm.pic));
	vm_advance(&f->vm, deadline);
	assert_true(pic_intr(&f->vm.pic));
	assert_int_equal(pic_intack(&f->vm.pic), PIC_MASTER_VECTOR + IRQ_PIT);
	assert_int_equal(vm_deadline(&f->vm), UINT64_MAX); /* a one-shot */
}

static void test_resets_end_the_guest(void **state)
{
	struct fixture *f = *state;

	out8(&f->vm, PORT_KBD_CMD, 0xd1); /* another 8042 command: ignored */
	assert_int_equal(f->vm.state, VM_RUNNING);
	out8(&f->vm, PORT_KBD_CMD, KBD_CMD_RESET);
	assert_int_equal(f->vm.end, VM_END_RESET);
}

static void test_cf9_reset_needs_bit_2(void **state)
{
	struct fixture *f = *state;

	io_exit(&f->vm, PORT_RESET_CTRL, true, 1, 1, "\x02");
	assert_int_equal(f->vm.state, VM_RUNNING);
	io_exit(&f->vm, PORT_RESET_CTRL, true, 1, 1, "\x06");
	assert_int_equal(f->vm.end, VM_END_RESET);
}

static void test_shutdown_reported_as_triple_fault(void **state)
{
	struct fixture *f = *state;

	f->vm.run->exit_reason = KVM_EXIT_SHUTDOWN;
	vm_handle_exit(&f->vm);
	assert_int_equal(f->vm.end, VM_END_SHUTDOWN);
	assert_non_null(strstr(vm_why(&f->vm), "triple fault"));
}

static void test_internal_error_names_emulation_failure(void **state)
{
	struct fixture *f = *state;

	f->vm.run->exit_reason = KVM_EXIT_INTERNAL_ERROR;
	f->vm.run->internal.suberror = KVM_INTERNAL_ERROR_EMULATION;
	vm_handle_exit(&f->vm);
	assert_int_equal(f->vm.end, VM_END_INTERNAL_ERROR);
	assert_non_null(strstr(vm_why(&f->vm), "emulation failure"));
}

static void test_fail_entry_reports_reason(void **state)
{
	struct fixture *f = *state;

	f->vm.run->exit_reason = KVM_EXIT_FAIL_ENTRY;
	f->vm.run->fail_entry.hardware_entry_failure_reason = 0x21;
	vm_handle_exit(&f->vm);
	assert_int_equal(f->vm.end, VM_END_FAIL_ENTRY);
	assert_non_null(strstr(vm_why(&f->vm), "0x21"));
}

static void test_unknown_exit_ends_guest_with_reason(void **state)
{
	struct fixture *f = *state;

	f->vm.run->exit_reason = 999;
	vm_handle_exit(&f->vm);
	assert_int_equal(f->vm.end, VM_END_UNKNOWN_EXIT);
	assert_non_null(strstr(vm_why(&f->vm), "999"));
}

static void test_first_end_reason_kept(void **state)
{
	struct fixture *f = *state;

	vm_end(&f->vm, VM_END_SHUTDOWN, "first");
	vm_end(&f->vm, VM_END_HALT, "second");
	assert_int_equal(f->vm.end, VM_END_SHUTDOWN);
	assert_string_equal(vm_why(&f->vm), "first");
}

/* A guest carries no room for the text of why it ended until it ends (a
 * parked guest is smaller by that); then the text is all there, up to
 * VM_WHY_MAX - 1 bytes, and a later text replaces an earlier one. */
static void test_end_text_exists_only_once_it_ended(void **state)
{
	struct fixture *f = *state;
	char longer[300];

	assert_null(f->vm.why);
	assert_string_equal(vm_why(&f->vm), "running");
	vm_set_why(&f->vm, "silent: asleep in hlt");
	assert_string_equal(vm_why(&f->vm), "silent: asleep in hlt");
	memset(longer, 'x', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	vm_end(&f->vm, VM_END_DEBUG_EXIT, "debug exit: %s", longer);
	assert_non_null(f->vm.why);
	assert_int_equal(strlen(vm_why(&f->vm)), VM_WHY_MAX - 1);
	assert_memory_equal(vm_why(&f->vm), "debug exit: xxx", 15);
}

/* No memory for the text (fault point "why", set in main() for guest 77):
 * the guest still ends, and its reason reads as the end's name. */
static void test_end_text_without_memory_is_the_reason_name(void **state)
{
	struct fixture *f = *state;

	f->vm.index = 77;
	vm_end(&f->vm, VM_END_RESET, "reset requested through port 0x%x", PORT_RESET_CTRL);
	assert_int_equal(f->vm.state, VM_ENDED);
	assert_null(f->vm.why);
	assert_string_equal(vm_why(&f->vm), "reset");
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_out_to_thr_reaches_output),
		T(test_rep_outsb_sends_every_byte),
		T(test_rep_insb_reads_each_byte),
		T(test_unknown_port_reads_all_ones_and_counts),
		T(test_wide_access_splits_across_ports),
		T(test_debug_exit_takes_whole_value),
		T(test_string_io_stops_at_debug_exit),
		T(test_data_offset_outside_run_page_ends_guest),
		T(test_huge_count_rejected),
		T(test_bad_io_size_rejected),
		T(test_mmio_read_returns_all_ones_and_counts),
		T(test_mmio_write_dropped_and_counted),
		T(test_refused_msr_answered_with_gp),
		T(test_text_buffer_writes_are_screen_output_on_their_own_lines),
		T(test_hlt_with_interrupts_off_ends_guest),
		T(test_hlt_with_interrupts_on_sleeps),
		T(test_com1_input_wakes_halted_guest),
		T(test_hlt_with_pending_interrupt_stays_runnable),
		T(test_pit_deadline_fires_through_vm_advance),
		T(test_resets_end_the_guest),
		T(test_cf9_reset_needs_bit_2),
		T(test_shutdown_reported_as_triple_fault),
		T(test_internal_error_names_emulation_failure),
		T(test_fail_entry_reports_reason),
		T(test_unknown_exit_ends_guest_with_reason),
		T(test_first_end_reason_kept),
		T(test_end_text_exists_only_once_it_ended),
		T(test_end_text_without_memory_is_the_reason_name),
	};

	setenv("KVMLITE_FAULT", "why:77:1", 1); /* before the first fault point reads it */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
