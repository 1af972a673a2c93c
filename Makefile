# Makefile - builds kvmlite, its guests and tests; `make run` and `make test` are the two set-up commands.

CC ?= cc
CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -Ivmm -Ibuild/guest
LDLIBS := -luring -lseccomp -lpthread

# make SANITIZE=1: AddressSanitizer and UndefinedBehaviorSanitizer, in a separate build tree
ifeq ($(SANITIZE),1)
BUILD := build/san
CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
else
BUILD := build
endif

# Debian packages: what the VMM links against, what builds the guests, what the tests use.
DEPS_BUILD := gcc make binutils liburing-dev libseccomp-dev
DEPS_TEST := libcmocka-dev qemu-system-x86 xxd socat clang python3 slurm-wlm munge python3-prometheus-client \
	man-db groff-base gnuplot-nox curl netcat-openbsd
DEPS_BENCH := qemu-system-x86 gnuplot-nox wrk

GUESTS := $(patsubst guest/%.S,%,$(filter-out guest/firmware.S,$(wildcard guest/*.S)))
GUEST_IMGS := $(patsubst %,build/guest/%.img,$(GUESTS))
DIFF_IMGS := $(patsubst tests/diff/%.S,build/diff/%.img,$(wildcard tests/diff/*.S))
ITEST_IMGS := $(patsubst tests/integration/%.S,build/itest/%.img,$(wildcard tests/integration/*.S))
COMPAT_IMGS := $(patsubst tests/compat/%.S,build/compat/%.img,$(wildcard tests/compat/*.S))
# disk_load as disks of other sizes and partition tables (geometry as QEMU + SeaBIOS compute it)
COMPAT_IMGS += build/compat/disk_load-1440k.img build/compat/disk_load-part.img build/compat/disk_load-big.img \
	build/compat/disk_readall-1440k.img
FIRMWARE := build/guest/firmware.bin

CORE_SRCS := $(filter-out vmm/main.c,$(wildcard vmm/*.c)) $(wildcard vmm/devices/*.c)
CORE_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(CORE_SRCS))
UNIT_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_*.c))

.PHONY: all run test unit integration bench bench-quick bench-million deps deps-test deps-bench clean format install uninstall
all: $(BUILD)/kvmlite $(GUEST_IMGS) $(FIRMWARE) $(DIFF_IMGS) $(ITEST_IMGS) $(COMPAT_IMGS)

# --- guests: 16-bit real-mode boot sectors assembled with GNU as (binutils) ---
# gcc runs the C preprocessor first, so guests share vmm/layout.h with the VMM.
build/guest/%.o: guest/%.S vmm/layout.h $(wildcard guest/*.inc)
	@mkdir -p $(@D)
	$(CC) -m32 -c -Ivmm -Iguest -o $@ $<
$(FIRMWARE): build/guest/firmware.o
	ld -m elf_i386 -Ttext=0 --oformat=binary -o $@ $<
	@test $$(stat -c %s $@) -eq 4096 || { echo "$@: firmware must be one 4096-byte page" >&2; rm -f $@; exit 1; }
build/diff/%.o: tests/diff/%.S vmm/layout.h $(wildcard guest/*.inc tests/diff/*.inc)
	@mkdir -p $(@D)
	$(CC) -m32 -c -Ivmm -Iguest -Itests/diff -o $@ $<
build/itest/%.o: tests/integration/%.S vmm/layout.h tests/diff/diff.inc guest/pc.inc
	@mkdir -p $(@D)
	$(CC) -m32 -c -Ivmm -Iguest -Itests/diff -o $@ $<
build/compat/%.o: tests/compat/%.S vmm/layout.h $(wildcard tests/compat/*.inc)
	@mkdir -p $(@D)
	$(CC) -m32 -c -Ivmm -Itests/compat -o $@ $<
# Multi-sector images (tests/compat/disk_*.S): linked at 0x7c00 like a boot sector, any number of
# whole sectors, padded to at least 4 KiB; then the same program as other disks.
build/compat/disk_%.img: build/compat/disk_%.o
	ld -m elf_i386 -Ttext=0x7c00 --oformat=binary -o $@ $<
	@test $$(($$(stat -c %s $@) % 512)) -eq 0 || { echo "$@: not whole sectors" >&2; rm -f $@; exit 1; }
	@test $$(stat -c %s $@) -ge 4096 || truncate -s 4096 $@
# a C program (gcc -m16) after its loader sector, as one image (tests/compat/disk.ld)
build/compat/cprog.o: tests/compat/cprog.c
	@mkdir -p $(@D)
	$(CC) -m16 -ffreestanding -fno-pic -fno-pie -fno-stack-protector -fno-asynchronous-unwind-tables -nostdlib \
		-Os -Wall -Wextra -Werror -c -o $@ $<
build/compat/disk_cprog.img: build/compat/disk_cprog.o build/compat/cprog.o tests/compat/disk.ld
	ld -m elf_i386 -T tests/compat/disk.ld --oformat=binary -o $@ build/compat/disk_cprog.o build/compat/cprog.o
	@truncate -s %512 $@ && test $$(stat -c %s $@) -ge 4096 || truncate -s 4096 $@
build/compat/disk_%-1440k.img: build/compat/disk_%.img
	cp $< $@ && truncate -s 1474560 $@
# a partition table QEMU believes: 4 heads, 32 sectors (entry 0 ends at head 3, sector 32)
build/compat/disk_load-part.img: build/compat/disk_load.img
	cp $< $@ && truncate -s 2M $@
	printf '\200\001\001\000\006\003\040\077\040\000\000\000\340\017\000\000' | \
		dd of=$@ bs=1 seek=446 conv=notrunc status=none
# a table with 255 heads (LBA-translated, as a modern disk tool writes): QEMU falls back on 16/63
build/compat/disk_load-big.img: build/compat/disk_load.img
	cp $< $@ && truncate -s 9M $@
	printf '\200\040\041\000\203\376\377\377\000\010\000\000\000\100\000\000' | \
		dd of=$@ bs=1 seek=446 conv=notrunc status=none
# Every boot sector (guests, differential and integration test sectors) is linked the same way.
build/%.img: build/%.o
	ld -m elf_i386 -Ttext=0x7c00 --oformat=binary -o $@ $<
	@test $$(stat -c %s $@) -eq 512 || { echo "$@: boot sector must be 512 bytes" >&2; rm -f $@; exit 1; }

# --- the VMM ---
$(BUILD)/obj/%.o: %.c $(wildcard vmm/*.h vmm/devices/*.h)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<
# The firmware and built-in guests are linked into the binary (vmm/images.S).
$(BUILD)/obj/vmm/images.o: vmm/images.S $(GUEST_IMGS) $(FIRMWARE)
	@mkdir -p $(@D)
	$(CC) -c -Ibuild/guest -o $@ $<
$(BUILD)/libkvmlite.a: $(CORE_OBJS) $(BUILD)/obj/vmm/images.o
	ar rcs $@ $^
$(BUILD)/kvmlite: $(BUILD)/obj/vmm/main.o $(BUILD)/libkvmlite.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
ifneq ($(BUILD),build)
build/kvmlite: $(BUILD)/kvmlite
endif

# --- tests ---
$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libkvmlite.a tests/unit/unit.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libkvmlite.a -lcmocka $(LDLIBS)

unit: $(UNIT_TESTS)
	@for t in $(UNIT_TESTS); do echo "== $$t"; $$t || exit 1; done

# The same guest checks run under kvmlite (with and without firmware) and
# under QEMU + SeaBIOS; then the differential device tests compare the two,
# and the conversation tests (tests/compat) hold BIOS-using guests to QEMU.
integration: all
	KVMLITE=$(BUILD)/kvmlite tests/integration/run.sh
	KVMLITE=$(BUILD)/kvmlite tests/integration/spawn.sh
	KVMLITE=$(BUILD)/kvmlite tests/integration/park.sh
	KVMLITE=$(BUILD)/kvmlite tests/integration/hostile.sh
	KVMLITE=$(BUILD)/kvmlite tests/integration/faults.sh
	KVMLITE=$(BUILD)/kvmlite SANITIZE=$(SANITIZE) tests/integration/cli.sh
	KVMLITE=$(BUILD)/kvmlite tests/integration/tool.sh
	tests/integration/plots.sh
	KVMLITE=$(BUILD)/kvmlite tests/integration/limits.sh
	KVMLITE=$(BUILD)/kvmlite tests/integration/http.sh
	KVMLITE=$(BUILD)/kvmlite tests/integration/cluster.sh
	KVMLITE=$(BUILD)/kvmlite tests/integration/tutorial.sh
	KVMLITE=$(BUILD)/kvmlite KVMLITE_FIRMWARE=pc GUEST_RUNNER=tests/integration/kvmlite_runner.sh \
		tests/integration/guests_qemu.sh build/guest
	KVMLITE=$(BUILD)/kvmlite KVMLITE_FIRMWARE=none GUEST_RUNNER=tests/integration/kvmlite_runner.sh \
		tests/integration/guests_qemu.sh build/guest
	@if command -v qemu-system-x86_64 >/dev/null; then tests/integration/guests_qemu.sh build/guest; \
	else echo "SKIP: qemu-system-x86_64 is absent: guests not checked under QEMU"; fi
	KVMLITE=$(BUILD)/kvmlite tests/diff/run.sh
	KVMLITE=$(BUILD)/kvmlite COMPAT_QEMU=$(if $(filter 1,$(SANITIZE)),0,1) tests/compat/run.sh

# The shape of vmm/ first (files, functions, include cycles, docs/reading-order.md's counts:
# tests/shape.py); the fuzz targets run briefly too (fuzz/fuzz.mk), so regressions surface here.
test: deps-test
	/usr/bin/python3 tests/shape.py
	$(MAKE) all unit integration
	$(MAKE) fuzz-short
	@echo "all tests passed"

# The main job on built-in defaults: 1,000 mvm guests, booted, summed up, stopped.
run: deps
	$(MAKE) all
	$(BUILD)/kvmlite spawn 1000 --for 0

# Installs missing Debian packages (needs root, or sudo); does nothing when all are present.
deps:
	@tests/install-deps.sh $(DEPS_BUILD)
deps-test:
	@tests/install-deps.sh $(DEPS_BUILD) $(DEPS_TEST)
deps-bench:
	@tests/install-deps.sh $(DEPS_BUILD) $(DEPS_BENCH)

# `make install [PREFIX=/usr/local] [DESTDIR=...]`: the binary (guests and firmware are inside it),
# the manual page and the bash completion; `make uninstall` removes the same three files.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
install: $(BUILD)/kvmlite
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(BASHCOMPDIR)
	install -m 755 $(BUILD)/kvmlite $(DESTDIR)$(BINDIR)/kvmlite
	install -m 644 docs/kvmlite.1 $(DESTDIR)$(MANDIR)/man1/kvmlite.1
	install -m 644 completion/kvmlite $(DESTDIR)$(BASHCOMPDIR)/kvmlite
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/kvmlite $(DESTDIR)$(MANDIR)/man1/kvmlite.1 $(DESTDIR)$(BASHCOMPDIR)/kvmlite

format:
	clang-format -i vmm/*.c vmm/*.h vmm/devices/*.c vmm/devices/*.h tests/unit/*.c fuzz/*.c fuzz/*.h

clean:
	rm -rf build

# --- benchmarks: built and run on purpose only, never by `make test` (DESIGN.md, "Honest numbers") ---
# Each is one C file plus the header-only bench/rawvm.h and vmm/hostinfo.c (/proc readings); none links libkvmlite.
BENCH_PROGS := $(patsubst bench/%.c,build/bench/%,$(wildcard bench/*.c))
build/bench/%: bench/%.c bench/rawvm.h vmm/layout.h vmm/types.h vmm/hostinfo.c vmm/hostinfo.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< vmm/hostinfo.c

# `make bench-quick`: the seven density experiments (docs/experiments.md) at small scale, in about
# two minutes; report in build/bench/quick/results.md. bench/spawn.sh quick|full: the spawn benchmarks.
bench-quick: deps-bench all $(BENCH_PROGS)
	bench/experiments.sh quick
# `make bench-million`: issue 19's benchmark (bench/million.sh full: the boot cycle against its raw
# floor, a million guests with default flags; `bench/million.sh full ten` adds ten million).
bench-million: deps-bench all $(BENCH_PROGS)
	bench/million.sh full
# `make bench`: the seven experiments for kvmlite, QEMU and the raw baseline (at most 20 minutes here);
# CSVs and plots in build/bench/full/, the report generated as docs/results.md.
bench: deps-bench all $(BENCH_PROGS)
	bench/experiments.sh full

# --- fuzzing: libFuzzer targets built with clang ---
include fuzz/fuzz.mk
