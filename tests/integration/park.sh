#!/bin/bash
# park.sh - integration tests of parking: a parked guest cannot tell, nothing leaks, a failed resume stays with its guest.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/spawn_lib.sh

now_ms() { echo $(($(date +%s%N) / 1000000)); }
jnum() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"; } # jnum KEY < stats JSON
ifield() { sed -n "s/.* $1=\([0-9]*\).*/\1/p"; } # ifield KEY < an info line
# parked_all N [FILE]: `list` says all N guests are parked; FILE keeps that very answer
parked_all() { ctl list >"${2:-$T/list.last}" && grep -qx "parked $1" "${2:-$T/list.last}"; }
pit_irqs_reach() { [ "$(ctl stats --json | jnum pit_irqs)" -ge "$1" ]; }

# talk FILE REQUEST...: each request to guest 3 on its own connection, in order; FILE gets every
# answer. `fired`: wait until every PIT one-shot armed so far has fired (stats pit_irqs: each of the
# 8 alarm guests arms one at boot, and each `alarm` one more), however long the host takes.
talk() {
	local out=$1 fires=8
	shift
	: >"$out"
	for r in "$@"; do
		case $r in
		fired) wait_for 60 pit_irqs_reach $fires || echo "(a one-shot did not fire within 60 s)" >>"$out" ;;
		*) ctl req 3 "$r" >>"$out" 2>&1 ;;
		esac
		[ "$r" = alarm ] && fires=$((fires + 1))
	done
}

# ---- the same conversation, parked and not: byte-identical answers ----
# mvm: every kind of answer; alarm: a one-shot PIT deadline passes while the
# guest is parked and must fire exactly once (ticks 1, then 2, never 3).
# tick: its PIT keeps time while parked, and its interrupts reach it.
for guest in mvm alarm tick; do
	case $guest in
	mvm) script=(ping id count 'GET /index.html' nonsense "$(head -c 80 /dev/zero | tr '\0' x)" count) ;;
	alarm) script=(fired ticks alarm fired ticks alarm fired ticks count) ;;
	tick) script=(ping id count) ;;
	esac
	for mode in never always; do
		start_spawn 8 --guest $guest --park $mode || bad "spawn 8 $guest --park $mode booted" "$(cat "$T/spawn.err")"
		# with always, every guest parks once it halts: wait for all 8 at once, and keep that
		# answer (a tick guest wakes 18 times a second: a later `list` may find one running)
		if [ $mode = always ]; then
			wait_for 60 parked_all 8 "$T/list.$guest.$mode"
		else
			ctl list >"$T/list.$guest.$mode"
		fi
		talk "$T/talk.$guest.$mode" "${script[@]}"
		if [ $guest = tick ]; then
			# Windows around the two looks at its PIT (pit_periods in info): the inner one lies
			# within the time between them, the outer one holds it.
			a0=$(now_ms); i0=$(ctl info 3); a1=$(now_ms); t0=$(ctl req 3 ticks)
			sleep 2
			t1=$(ctl req 3 ticks); b0=$(now_ms); i1=$(ctl info 3); b1=$(now_ms)
			echo "$((t1 - t0)) $(($(ifield pit_irqs <<<"$i1") - $(ifield pit_irqs <<<"$i0")))" \
				"$(($(ifield pit_periods <<<"$i1") - $(ifield pit_periods <<<"$i0"))) $((b0 - a1)) $((b1 - a0))" >"$T/rate.$mode"
		fi
		ctl info 3 >"$T/info.$guest.$mode"
		stop_spawn
	done
	check "$guest: the same conversation gives the same answers parked (--park always) and not" \
		"cmp -s '$T/talk.$guest.never' '$T/talk.$guest.always'" "$(diff "$T/talk.$guest.never" "$T/talk.$guest.always")"
	check "$guest: with --park always every idle guest is parked, none is with never" \
		"grep -qx 'parked 8' '$T/list.$guest.always' && grep -qx 'parked 0' '$T/list.$guest.never'" \
		"$(paste "$T/list.$guest.never" "$T/list.$guest.always")"
done
check "mvm: the answers are the guest's (not empty, not errors of kvmlite)" \
	"[ \"\$(sed -n 2p '$T/talk.mvm.always')\" = 3 ] && grep -qx '200 OK /index.html' '$T/talk.mvm.always'" \
	"$(cat "$T/talk.mvm.always")"
check "alarm: a one-shot deadline that passed while parked fired once" \
	"[ \"\$(tr '\n' ' ' <'$T/talk.alarm.always')\" = '1 1 2 2 3 6 ' ]" "$(tr '\n' ' ' <"$T/talk.alarm.always")"
# The PIT counts 18.2065 periods a second (PIT_HZ / 65536) whether its guest is parked or not:
# between the two looks at least inner / period - 1 and at most outer / period + 1. Every
# interrupt reaches the guest, which counts them: more than none, never more than were raised,
# never more than the periods (+1 each: an interrupt raised or a period due just before the first
# look may be taken after it; periods due together become one). (How many of the periods became interrupts of their own, rather than
# merged, depends on how busy the host is: bench/spawn.sh measures it.)
rate_ok() {
	read -r ticks irqs periods inner outer <"$1"
	[ "$periods" -ge $((inner * 1193182 / 65536000 - 1)) ] && [ "$periods" -le $((outer * 1193182 / 65536000 + 1)) ] &&
		[ "$ticks" -ge 1 ] && [ "$ticks" -le $((irqs + 1)) ] && [ "$irqs" -le $((periods + 1)) ]
}
for mode in always never; do
	read -r ticks irqs periods inner outer <"$T/rate.$mode"
	check "tick, --park $mode: its PIT keeps time ($periods periods in $inner..$outer ms) and its $irqs interrupts reach it ($ticks ticks)" \
		"rate_ok '$T/rate.$mode'" "ticks irqs periods inner_ms outer_ms: $(cat "$T/rate.$mode")"
done
# (not the CPU time it cost: resuming costs more than staying; nor the PIT's count of periods, which is time)
devstate() { cut -d' ' -f2- "$1" | sed 's/ cpu_us=[0-9]*//; s/ pit_periods=[0-9]*//'; }
check "alarm: the guest's device state and exit count are the same parked and not" \
	"[ \"\$(devstate '$T/info.alarm.never')\" = \"\$(devstate '$T/info.alarm.always')\" ]" \
	"$(cat "$T/info.alarm.never" "$T/info.alarm.always")"

# ---- a VM handed from guest to guest carries nothing of the last one ----
start_spawn 6 --guest build/itest/reuse.img --park always --resident 1 --workers 1 ||
	bad "spawn 6 reuse guests booted" "$(cat "$T/spawn.err")"
# each prints five lines, then halts
reuse_done() { for i in 0 1 2 3 4 5; do [ "$(ctl read $i | grep -c .)" -ge 5 ] || return 1; done; }
wait_for 60 reuse_done
for i in 0 1 2 3 4 5; do ctl read $i; done >"$T/reuse"
check "six guests booted one after another on one KVM VM" "ctl stats --json | grep -q '\"vms_created\":1,'" \
	"$(ctl stats --json)"
check "each found the reset CPU state, not the last guest's (debug, control, segment registers)" \
	"[ \"\$(sort '$T/reuse' | uniq -c | tr -s ' ' | tr '\n' ';')\" = ' 6 cr0 10; 6 cr4 00; 6 dirty; 6 dr0 00; 6 fs 00;' ]" \
	"$(sort "$T/reuse" | uniq -c)"
stop_spawn

# ---- MSRs and the rest of the vCPU state: nothing passes between guests, and each gets its own back ----
# msrscan.S reads ~11,000 MSR numbers (all the ranges where KVM serves any),
# writes a mark of its own into every MSR that takes one, sleeps in hlt
# (parked, its VM carrying the next guest), and scans again. With the MSR
# filter only TSC and EFER exist for a guest; without it (pretended with
# KVMLITE_FAULT) no VM is reused. Either way a guest must find a fresh VM's
# view and, after parking, its own marks. ~0.4 s a scan here (an exit each).
scan_wait() { # until every guest printed the line of its scan after sleeping
	for _ in $(seq 600); do
		[ "$(for i in 0 1 2; do ctl read $i; done | grep -c '^b ')" = 3 ] && return 0
		sleep 0.1
	done
	return 1
}
line() { grep "^$1 " "$2" | cut -d' ' -f2-; } # line LETTER FILE: what follows "LETTER "
scan_no_cpuid() { for f in "$T"/scan.fresh "$T"/scan.[012]; do [ "$(line c "$f")" = 00000000 ] || return 1; done; }
scan_fresh_view() { for i in 0 1 2; do [ "$(line v "$T/scan.$i")" = "$(line v "$T/scan.fresh")" ] || return 1; done; }
scan_own_back() {
	for i in 0 1 2; do [ -n "$(line m "$T/scan.$i")" ] && [ "$(line m "$T/scan.$i")" = "$(line b "$T/scan.$i")" ] || return 1; done
}
for mode in filter nofilter; do
	fault=
	[ $mode = nofilter ] && fault=msr_filter:1:1
	KVMLITE_FAULT=$fault "$KVMLITE" run --firmware none build/itest/msrscan.img </dev/null >"$T/scan.fresh" 2>&1
	KVMLITE_FAULT=$fault start_spawn 3 --guest build/itest/msrscan.img --park always --resident 1 --workers 1 \
		--cpu-max 100 || bad "$mode: spawn 3 msrscan guests booted" "$(cat "$T/spawn.err")"
	scan_wait || bad "$mode: every guest scanned again after sleeping" "$(for i in 0 1 2; do ctl read $i; done)"
	for i in 0 1 2; do ctl read $i >"$T/scan.$i"; done
	ctl stats --json >"$T/scan.stats"
	stop_spawn
	check "$mode: a guest is offered no CPUID feature (every leaf reads 0), fresh or on a reused VM" scan_no_cpuid \
		"$(grep -H '^c' "$T"/scan.fresh "$T"/scan.[012])"
	check "$mode: every guest's view of the MSRs is a fresh VM's (kvmlite run: $(line v "$T/scan.fresh"))" \
		"[ -n \"\$(line v '$T/scan.fresh')\" ] && scan_fresh_view" "$(grep -H '^v' "$T"/scan.fresh "$T"/scan.[012])"
	check "$mode: each guest finds its own MSR values again after sleeping (parked)" scan_own_back \
		"$(grep -H '^[mb]' "$T"/scan.[012])"
	if [ $mode = filter ]; then
		check "filter: a guest can read only TSC and EFER (2 MSRs; x2APIC's 0x800-0x8ff raise #GP too)" \
			"[ \"\$(line v '$T/scan.fresh' | cut -d' ' -f2)\" = 0002 ]" "$(cat "$T/scan.fresh")"
		check "filter: one KVM VM carried the three guests in turn, each parked and resumed" \
			"grep -q '\"vms_created\":1,' '$T/scan.stats' && grep -Eq '\"resumes\":([3-9]|[1-9][0-9]+),' '$T/scan.stats'" \
			"$(cat "$T/scan.stats")"
	else
		check "nofilter: parking is off, said once, and each guest had a VM of its own" \
			"grep -q 'parking is not possible on this host (KVM has no MSR filter' '$T/spawn.err' &&
			 grep -q '\"vms_created\":3,' '$T/scan.stats' && grep -q '\"parks\":0,' '$T/scan.stats'" \
			"$(cat "$T/spawn.err" "$T/scan.stats")"
	fi
done

# ---- guests of one image, each with bytes of its own all over its RAM, parked after every request ----
# A parked guest keeps its RAM as its difference from its image's template (the first guest of the
# image its shard parked). ramfill.S writes 32 pages that are the same in every guest but for two
# bytes (where and what depend on its index and the round; the first and last bytes of the range
# among them) and one page all its own (no delta is smaller: kept raw), 0x30 or 0x31 by its index's
# parity; each request checks every byte, that the other of the two reads as zeros (a slot handed
# on from guest to guest shows nothing of the last one), and writes the next round's. 12 mvm
# guests on the same shard get a template of their own.
start_spawn 24 --guest build/itest/ramfill.img:12 --guest mvm --park always --workers 1 ||
	bad "spawn 12 ramfill and 12 mvm guests booted" "$(cat "$T/spawn.err")"
wait_for 60 parked_all 24
for round in 1 2 3 4 5; do
	for i in $(seq 0 11); do ctl req $i check 2>&1; done
	for i in $(seq 12 23); do ctl req $i id 2>&1; done
done >"$T/fill"
ctl stats --json >"$T/fill.stats"
for round in 1 2 3 4 5; do
	for i in $(seq 0 11); do printf 'ok %04x\n' $i; done
	seq 12 23
done >"$T/fill.expected"
check "12 guests of one image each find their own bytes in 33 pages and zeros in one, in each of 5 rounds parked between" \
	"cmp -s '$T/fill.expected' '$T/fill'" "$(diff "$T/fill.expected" "$T/fill" | head -5)"
check "each of the 120 requests resumed its guest from its record ($(jnum resumes <"$T/fill.stats") resumes)" \
	"[ $(jnum resumes <"$T/fill.stats") -ge 120 ]" "$(cat "$T/fill.stats")"
# One template per image on the one shard. Records: ramfill's under 10 KiB (its own page raw, and the
# template's if not the same), mvm's under 2 KiB; the slots of the last 32 guests parked (here all of
# them) still hold their pages (ramfill 38 at most, mvm 4) and count with them: ~1.9 MB in all. An mvm
# guest kept against ramfill's template would carry its 33 pages (~130 KiB): ~1.5 MB more.
check "one template per image on the shard (2), and no guest's record holds another image's pages" \
	"[ $(jnum templates <"$T/fill.stats") = 2 ] &&
	 [ $(jnum parked_bytes <"$T/fill.stats") -lt $((12 * 10240 + 12 * 2048 + (12 * 38 + 12 * 4) * 4096)) ]" \
	"$(cat "$T/fill.stats")"
stop_spawn

# ---- parking and resuming thousands of guests in a loop leaks nothing ----
# (An AddressSanitizer build keeps freed memory in quarantine: that would
# look like growth. Without it freed park records are reused at once.)
# Memory is compared over two windows of 3 rounds each (6,000 resumes): the
# first may still warm the allocator up; a leak grows in both, by the same.
# The second must stay under 512 KiB: 85 bytes a resume (this build: ~50 KiB
# in each). Under AddressSanitizer RssAnon is its allocator's, which grew by
# 550 KiB and then 950 KiB (its size classes fill one by one as records of
# new sizes come): not a measure of kvmlite there, so not checked (CI failed
# on it once); its LeakSanitizer checks for leaks instead.
N=2000
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0 start_spawn $N --park always --workers 1 || bad "spawn $N --park always booted" "$(cat "$T/spawn.err")"
wpid=$(ctl stats --json | sed 's/.*"worker_pids":\[\([0-9]*\).*/\1/')
usage() { echo "$(ls /proc/"$wpid"/fd | wc -l) $(wc -l <"/proc/$wpid/maps") $(awk '/^RssAnon/ {print $2}' "/proc/$wpid/status")"; }
check "round 1: each of $N parked guests is resumed and answers id with its own index" "sweep $N '$T/a1'" "$(head -3 "$T/a1" 2>/dev/null)"
read -r fd1 map1 rss1 <<<"$(usage)"
for round in 2 3 4; do sweep $N "$T/a$round" || bad "round $round: every answer right" "$(head -3 "$T/a$round")"; done
read -r fd4 map4 rss4 <<<"$(usage)"
for round in 5 6 7; do sweep $N "$T/a$round" || bad "round $round: every answer right" "$(head -3 "$T/a$round")"; done
read -r fd7 map7 rss7 <<<"$(usage)"
ctl stats --json >"$T/stats"
resumes=$(sed 's/.*"resumes":\([0-9]*\).*/\1/' "$T/stats")
check "7 rounds resumed and re-parked every guest ($resumes resumes)" "[ $resumes -ge $((7 * N)) ]" "$(cat "$T/stats")"
check "after 6 more rounds of $N resumes the worker holds the same fds and mappings" \
	"[ $fd1 = $fd4 ] && [ $map1 = $map4 ] && [ $fd4 = $fd7 ] && [ $map4 = $map7 ]" \
	"fds $fd1 -> $fd4 -> $fd7, maps $map1 -> $map4 -> $map7"
if ldd "$KVMLITE" 2>/dev/null | grep -q libasan; then
	echo "not checked: and its memory did not grow (RssAnon $rss1 -> $rss4 -> $rss7 KiB): an AddressSanitizer build's allocator"
else
	check "and its memory did not grow (RssAnon $rss1 -> $rss4 -> $rss7 KiB: under 512 KiB over the last 6,000 resumes)" \
		"[ $((rss7 - rss4)) -lt 512 ]"
fi
stop_spawn

# ---- the summary's figures: each divided by its own guests, none by a handful ----
# 3 spinning guests never halt, so they stay resident; the other 2,997 park.
# Whole-VMM memory divided by 3 residents was "700 KiB per resident guest"
# here, and at a million guests with 5 resident "8,199.89 KiB" (issue 19).
# The same spawn twice, as JSON and as text: the two must say the same.
# (An AddressSanitizer build keeps freed memory in quarantine: none here, as above.)
N=3000
qz=ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0
sargs=(--guest spin:3 --guest mvm --park always --for 0 --socket "$SOCK")
timeout 300 env "$qz" "$KVMLITE" spawn $N "${sargs[@]}" --json >"$T/sum.json" 2>"$T/sum.err" ||
	bad "spawn $N --park always (3 spinning) ended" "$(cat "$T/sum.err")"
timeout 300 env "$qz" "$KVMLITE" spawn $N "${sargs[@]}" >"$T/sum.txt" 2>"$T/sum.err" ||
	bad "spawn $N --park always (3 spinning) ended, text" "$(cat "$T/sum.err")"
# jcheck EXPR: a Python expression over the summary j is true
jcheck() { python3 -c 'import json, sys; j = json.load(open(sys.argv[1])); sys.exit(not eval(sys.argv[2]))' "$T/sum.json" "$1"; }
txt_parked=$(flat "$T/sum.txt" | sed -n 's/.* parked  *\([0-9.]*\) KiB per parked guest.*/\1/p')
# Resident at the end: the 3 spinners, and on a busy host some that booted in the last moments and
# are not parked yet; a figure per resident guest exists only from 250 residents a shard on.
few="j[\"resident_at_end\"] < 250 * j[\"workers\"] * j[\"threads_per_worker\"]"
check "JSON: the 3 spinning guests stay resident, every other is parked or resident" \
	"jcheck 'j[\"resident_at_end\"] >= 3 and j[\"resident_at_end\"] + j[\"parked_at_end\"] == $N'" "$(cat "$T/sum.json")"
check "JSON: no per-resident figure over a few residents (null), the totals given instead" \
	"jcheck '(all(j[k] is None for k in (\"vmm_userspace_kib_per_guest\", \"vmm_rss_kib_per_guest\", \"kernel_kib_per_guest\", \"slab_kib_per_guest\")) if $few else 4 < j[\"vmm_userspace_kib_per_guest\"] < 64) and j[\"vmm_anon_kib\"] >= j[\"vmm_parked_kib\"] > 0'" \
	"$(cat "$T/sum.json")"
# (Per parked guest: its struct guest, scheduler slots and record, its RAM and state a delta from its
# image's template: ~1 KiB with mvm here; 14.5 KiB when it kept its RAM pages.)
check "JSON: per parked guest between 0.25 and 64 KiB, and that times the parked guests is their total" \
	"jcheck '0.25 < j[\"vmm_userspace_kib_per_parked\"] < 64 and abs(j[\"vmm_userspace_kib_per_parked\"] * j[\"parked_at_end\"] - j[\"vmm_parked_kib\"]) < j[\"parked_at_end\"] * 0.01'" \
	"$(cat "$T/sum.json")"
# Issue 19: a parked mvm guest takes at most 1 KiB (0.88 KiB; 1.05 KiB while every guest had room for
# the 128-byte text of why it ended). Up to the last 32 guests each shard parked still hold their RAM's
# 3 pages (12 KiB, pool_keep), counted with them: set aside here, they would be 0.1-0.4 KiB a guest.
check "JSON: per parked mvm guest at most 1 KiB, the pages the last 32 parked of each shard may still hold set aside" \
	"jcheck '(j[\"vmm_parked_kib\"] - j[\"workers\"] * j[\"threads_per_worker\"] * 32 * 12) / j[\"parked_at_end\"] <= 1.0'" \
	"$(cat "$T/sum.json")"
check "JSON: the workers' memory in all is within 64 KiB per live guest (not a resident's share of everything)" \
	"jcheck 'j[\"vmm_anon_kib\"] < 64 * j[\"live_at_end\"]'" "$(cat "$T/sum.json")"
check "text: per parked guest ${txt_parked:-none} KiB, as the JSON says (within 1 KiB)" \
	"[ -n '$txt_parked' ] && jcheck 'abs(j[\"vmm_userspace_kib_per_parked\"] - $txt_parked) < 1'" "$(cat "$T/sum.txt")"
txt_res=$(flat "$T/sum.txt" | sed -n 's/.*at the end  *\([0-9]*\) resident.*/\1/p')
if jcheck "${txt_res:-0} < 250 * j[\"workers\"] * j[\"threads_per_worker\"]"; then
	check "text: no figure per resident guest over ${txt_res:-?} residents, it says why, and gives the totals" \
		"! grep -q 'KiB per resident guest' '$T/sum.txt' && flat '$T/sum.txt' | grep -q 'per resident guest *none: [0-9]* resident guests are fewer than' &&
		 flat '$T/sum.txt' | grep -q 'VMM userspace, all *[0-9]* KiB .*, of which parked guests [0-9]* KiB'" "$(cat "$T/sum.txt")"
else
	check "text: a figure per resident guest over ${txt_res} residents, and the totals" \
		"grep -q 'KiB per resident guest' '$T/sum.txt' && flat '$T/sum.txt' | grep -q 'VMM userspace, all *[0-9]* KiB'" "$(cat "$T/sum.txt")"
fi
# With residents enough (600 on one shard), the per-resident figures are there and sane.
timeout 300 env "$qz" "$KVMLITE" spawn 600 --park never --workers 1 --for 0 --socket "$SOCK" --json >"$T/sum.json" 2>"$T/sum.err"
check "600 resident guests on one shard: a figure per resident guest, VMM userspace between 4 and 64 KiB" \
	"jcheck 'j[\"resident_at_end\"] == 600 and 4 < j[\"vmm_userspace_kib_per_guest\"] < 64'" "$(cat "$T/sum.json")"

# ---- --park auto with more guests than the host holds on KVM VMs: each parked as it halts, from the start ----
# (issue 19: `spawn 1000000` by default filled the host with VMs until PIDs ran short, then parked.)
# A hard fd limit of 200 leaves the one worker room for 68 VMs (two fds each): 500 guests are more,
# as a million are for this host's PIDs. The same decision as --park always, taken by itself.
early() { (ulimit -n 200 && exec timeout 300 "$KVMLITE" spawn 500 --workers 1 --for 0 --socket "$SOCK" "$@"); }
early --json >"$T/sum.json" 2>"$T/early.err" || bad "spawn 500 under ulimit -n 200 ended" "$(cat "$T/early.err")"
# Parked as each halts: at the end only guests caught between booting and halting are resident (a
# few; tens beside a busy neighbour), where filling the VMs first left 60 of the 68 resident.
check "500 guests, room for 68 VMs: nearly all are parked at the end (not 60 resident)" \
	"jcheck 'j[\"parked_at_end\"] >= 470 and j[\"park\"] == \"auto\"'" "$(cat "$T/sum.json")"
check "the summary says --park auto parked from the start, and held at most 30 guests on VMs" \
	"jcheck 'j[\"park_early\"] is True and j[\"resident_at_end\"] <= 30'" "$(cat "$T/sum.json")"
early >"$T/early.txt" 2>&1
check "and says why, with the limit that decided it" \
	"flat '$T/early.txt' | grep -q '500 guests are more than this host holds on KVM VMs (about 68, by the workers. open files): --park auto parks every guest as it halts, from the start'" \
	"$(cat "$T/early.txt")"

# ---- --park auto with a resident limit: the least recently active make room ----
start_spawn 600 --resident 100 || bad "spawn 600 --resident 100 booted" "$(cat "$T/spawn.err")"
check "every guest answers id with its own index while at most 100 hold a VM" "sweep 600 '$T/auto'" \
	"$(head -3 "$T/auto" 2>/dev/null)"
ctl stats --json >"$T/stats"
res=$(sed 's/.*"resident":\([0-9]*\).*/\1/' "$T/stats"); prk=$(sed 's/.*"parked":\([0-9]*\).*/\1/' "$T/stats")
check "stats shows resident ($res <= 100) and parked ($prk) apart, adding up to 600" \
	"[ $res -le 100 ] && [ $((res + prk)) = 600 ]" "$(cat "$T/stats")"
check "the summary names resident and parked guests apart" "stop_spawn; grep -q 'resident (on a KVM VM), [0-9]* parked' '$T/spawn.out'" \
	"$(cat "$T/spawn.out")"

# ---- no VM to be had: the shard waits for one, it does not spin ----
# Guest 0 spins on the one VM (--resident 1) and never halts; guest 1 cannot
# be created until it does. Between guest 0's slices (at most 20% of a CPU,
# --cpu-max) the shard has nothing to do and must sleep: its worker's CPU
# time (/proc) is its guest's share and a little more. (A shard that spun on
# the creation it could not make used 630 per mille here; a spin takes all
# the CPU it is given, so the bound is far from both.)
"$KVMLITE" spawn 2 --guest spin --resident 1 --workers 1 --socket "$SOCK" >"$T/spawn.out" 2>"$T/spawn.err" &
spawn_pid=$!
running0() { ctl info 0 2>/dev/null | grep -q '^running'; }
wait_for 60 running0
wpid=$(ctl stats --json | sed 's/.*"worker_pids":\[\([0-9]*\).*/\1/')
t0=$(date +%s%N) c0=$(awk '{print $14 + $15}' "/proc/$wpid/stat")
sleep 2
c1=$(awk '{print $14 + $15}' "/proc/$wpid/stat") t1=$(date +%s%N)
pm=$(((c1 - c0) * 10000000000 / (t1 - t0))) # per mille of a CPU (ticks of 10 ms)
check "a shard that can get no VM for its next guest sleeps meanwhile (worker $pm per mille of a CPU, at most 400)" \
	"[ $pm -le 400 ] && ctl info 1 | grep -q '^creating'" "$(ctl info 1)"
check "and answers meanwhile" "[ \"\$(ctl info 0 | cut -d' ' -f1)\" = running ]"
stop_spawn

# ---- a guest whose VM cannot be given back: failed with its reason, kept, retried; the others unaffected ----
# Its next 6 resumes fail. It is retried after 100 ms, then 200, 400, 800,
# 1,600 and 3,200 ms: it stays failed for 6.3 s after the first, time enough
# to look at it however busy the host (with 2 it was 0.3 s, and a loaded CI
# run looked too late).
KVMLITE_FAULT=resume:7:6 start_spawn 20 --park always || bad "spawn 20 with an injected fault booted" "$(cat "$T/spawn.err")"
parked7() { ctl info 7 | grep -q '^parked'; }
wait_for 60 parked7
ctl req 7 id >"$T/f1" 2>&1
check "a request to it is answered with the reason" "grep -q 'resume: .*Cannot allocate memory (state kept, retrying)' '$T/f1'" \
	"$(cat "$T/f1")"
ctl info 7 >"$T/f2"
check "info and list report it failed, with the reason" "grep -q '^failed .*reason=resume' '$T/f2' && [ \"\$(ctl list failed)\" = 7 ]" \
	"$(cat "$T/f2")"
check "the others keep answering" "[ \"\$(ctl req 6 id)\" = 6 ] && [ \"\$(ctl req 8 id)\" = 8 ]"
# A request meanwhile waits for the next retry, or is answered with the reason if that one fails too.
answers7() { [ "$(ctl req 7 id 2>&1)" = 7 ]; }
check "it is retried, resumes with its state kept, answers, and parks again" "wait_for 60 answers7 && wait_for 60 parked7" \
	"$(ctl req 7 id 2>&1; ctl info 7)"
check "stats counts the failed resumes" "ctl stats --json | grep -q '\"resume_failed\":6'" "$(ctl stats --json)"
stop_spawn

echo "park: $pass passed, $fail failed"
[ "$fail" = 0 ]
