# fuzz.mk - libFuzzer targets (devices, exit dispatch, control protocol, HTTP, loader, parking on KVM): `make fuzz`, `make fuzz-short`.
#
# Included by the Makefile. Each target is fuzz/fuzz_NAME.c plus the vmm/
# sources it exercises, compiled here with clang, libFuzzer, ASan and UBSan
# (not taken from the gcc-built libkvmlite.a). A run starts from the
# committed seeds fuzz/corpus/fuzz_NAME/, copied into build/fuzz/corpus/NAME/,
# which keeps what the fuzzer finds from run to run (delete it to start
# over). A crash, a broken invariant, a hang or running out of memory fails
# the target, prints the end of its log (build/fuzz/fuzz_NAME.log) and
# leaves the input in build/fuzz/crashes/; rerun it with
# `build/fuzz/fuzz_NAME build/fuzz/crashes/fuzz_NAME-crash-...`.

FUZZ_CC ?= clang
# Seconds per target: `make fuzz`, and `make fuzz-short` (what `make test` runs).
FUZZ_SECONDS ?= 300
FUZZ_SHORT_SECONDS ?= 15
# Targets fuzzed at the same time: one per core.
FUZZ_JOBS ?= $(shell nproc)
FUZZ_DIR := build/fuzz
FUZZ_NAMES := uart pit pic exit proto loader park disk http
# The project's warning flags; -O1 -g as libFuzzer's documentation suggests.
FUZZ_CFLAGS := -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -Ivmm -g -O1 \
	-fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
# An input that runs 30 s counts as a hang (generous: CI shares its CPUs); a run above 2 GiB of memory fails too (ASan keeps
# a few hundred MiB of freed memory in quarantine, so less would be a false alarm).
FUZZ_RUN_FLAGS := -timeout=30 -rss_limit_mb=2048 -print_final_stats=1

fuzz_objs = $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(1))
FUZZ_DEVICES := vmm/devices/uart16550.c vmm/devices/i8254.c vmm/devices/i8259.c vmm/devices/vgatext.c

# What each harness links besides itself.
$(FUZZ_DIR)/fuzz_uart: $(call fuzz_objs,vmm/devices/uart16550.c)
$(FUZZ_DIR)/fuzz_pit: $(call fuzz_objs,vmm/devices/i8254.c)
$(FUZZ_DIR)/fuzz_pic: $(call fuzz_objs,vmm/devices/i8259.c)
$(FUZZ_DIR)/fuzz_exit: $(call fuzz_objs,vmm/vm.c vmm/kick.c vmm/kvm.c vmm/machine.c vmm/trace.c vmm/fault.c vmm/bios.c vmm/disk.c vmm/mem.c $(FUZZ_DEVICES))
$(FUZZ_DIR)/fuzz_proto: $(call fuzz_objs,vmm/proto.c)
$(FUZZ_DIR)/fuzz_http: $(call fuzz_objs,vmm/http.c)
# Parking drives /dev/kvm: each input is a few dozen ioctls and two guest entries (~2 ms here).
$(FUZZ_DIR)/fuzz_park: $(call fuzz_objs,vmm/park.c vmm/vm.c vmm/kick.c vmm/kvm.c vmm/machine.c vmm/trace.c vmm/fault.c vmm/bios.c vmm/disk.c vmm/mem.c $(FUZZ_DEVICES))
# The loader refers to the built-in images, so it links them (assembled by clang from the guests gcc built).
$(FUZZ_DIR)/fuzz_loader: $(call fuzz_objs,vmm/loader.c vmm/mem.c vmm/disk.c) $(FUZZ_DIR)/obj/vmm/images.o
$(FUZZ_DIR)/fuzz_disk: $(call fuzz_objs,vmm/disk.c vmm/mem.c)

$(FUZZ_DIR)/fuzz_%: $(FUZZ_DIR)/obj/fuzz/fuzz_%.o
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^
# Keep the harness objects (make would delete them as intermediates and rebuild them next time).
.SECONDARY: $(patsubst %,$(FUZZ_DIR)/obj/fuzz/fuzz_%.o,$(FUZZ_NAMES))
$(FUZZ_DIR)/obj/%.o: %.c $(wildcard vmm/*.h vmm/devices/*.h fuzz/*.h)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<
$(FUZZ_DIR)/obj/vmm/images.o: vmm/images.S $(GUEST_IMGS) $(FIRMWARE)
	@mkdir -p $(@D)
	$(FUZZ_CC) -c -Ibuild/guest -o $@ $<

# One target for FUZZ_TIME seconds: fuzz-run-uart, fuzz-run-pit, ... (fuzz_park: 10 s in the short run)
FUZZ_TIME ?= $(FUZZ_SHORT_SECONDS)
fuzz_time = $(if $(and $(FUZZ_SHORT_$(1)),$(filter $(FUZZ_SHORT_SECONDS),$(FUZZ_TIME))),$(FUZZ_SHORT_$(1)),$(FUZZ_TIME))
FUZZ_SHORT_park := 10
fuzz-run-%: $(FUZZ_DIR)/fuzz_%
	@mkdir -p $(FUZZ_DIR)/corpus/$* $(FUZZ_DIR)/crashes
	@cp fuzz/corpus/fuzz_$*/* $(FUZZ_DIR)/corpus/$*/
	@echo "fuzz_$*: fuzzing for $(call fuzz_time,$*) s"
	@$< $(FUZZ_RUN_FLAGS) -max_total_time=$(call fuzz_time,$*) -artifact_prefix=$(FUZZ_DIR)/crashes/fuzz_$*- \
		$(FUZZ_DIR)/corpus/$* >$(FUZZ_DIR)/fuzz_$*.log 2>&1 || \
		{ tail -n 40 $(FUZZ_DIR)/fuzz_$*.log; \
		  echo "fuzz_$*: FAILED; input: $$(ls -t $(FUZZ_DIR)/crashes/fuzz_$*-* 2>/dev/null | head -n 1)"; exit 1; }
	@grep -h '^fuzz_$*: SKIP' $(FUZZ_DIR)/fuzz_$*.log || \
		echo "fuzz_$*: ok: $$(grep -h DONE $(FUZZ_DIR)/fuzz_$*.log | tail -n 1 | tr -s ' \t' ' ')"

.PHONY: fuzz fuzz-short fuzz-build fuzz-deps
fuzz-deps:
	@tests/install-deps.sh clang
fuzz-build: $(addprefix $(FUZZ_DIR)/fuzz_,$(FUZZ_NAMES))
# Build first, then run FUZZ_JOBS targets at a time; -k: one target's crash does not stop the others.
fuzz fuzz-short: fuzz-deps
	@$(MAKE) --no-print-directory -j$(FUZZ_JOBS) fuzz-build
	@$(MAKE) --no-print-directory -j$(FUZZ_JOBS) -k FUZZ_TIME=$(if $(filter fuzz,$@),$(FUZZ_SECONDS),$(FUZZ_SHORT_SECONDS)) \
		$(addprefix fuzz-run-,$(FUZZ_NAMES))
