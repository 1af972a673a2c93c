#!/bin/bash
# cli.sh - kvmlite as a Unix tool: every mistake named, help and the manual page agree, completion, make install.
#
# Most checks need no /dev/kvm (a mistake is refused before KVM is opened);
# those that run a guest skip, saying so, without it.
set -u
cd "$(dirname "$0")/../.."
KVMLITE=${KVMLITE:-build/kvmlite}
ROOT=$PWD KABS=$(realpath "$KVMLITE")
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0 skipped=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; shift; for l in "$@"; do echo "     $l"; done; }
check() { if eval "$2"; then ok "$1"; else bad "$1" "${@:3}"; fi; }
export LC_ALL=C MANWIDTH=80
export XDG_RUNTIME_DIR=$T/run # no spawn is there: a client that connects says so

# refused NAME STDERR_LINE -- COMMAND...: COMMAND exits 2, prints nothing on stdout and exactly STDERR_LINE on stderr
refused() {
	local name=$1 want=$2
	shift 3
	"$@" >"$T/out" 2>"$T/err"
	local st=$?
	if [ "$st" = 2 ] && [ ! -s "$T/out" ] && [ "$(cat "$T/err")" = "$want" ]; then
		ok "$name"
	else
		bad "$name" "status $st (want 2)" "stderr: $(tr '\n' '|' <"$T/err")" "want:   $want" "stdout: $(head -c 200 "$T/out")"
	fi
}

# ---- every mistake gets one line that says what and why ----
k="kvmlite spawn:"
refused "spawn --workers 0 names the option and its range" \
	"$k --workers takes a whole number from 1 to 4096, not '0'" -- "$KVMLITE" spawn 5 --workers 0
refused "spawn --workers 5000 is refused the same way" \
	"$k --workers takes a whole number from 1 to 4096, not '5000'" -- "$KVMLITE" spawn 5 --workers 5000
refused "spawn --threads 0" "$k --threads takes a whole number from 1 to 256, not '0'" -- "$KVMLITE" spawn 5 --threads 0
refused "spawn --threads 300" "$k --threads takes a whole number from 1 to 256, not '300'" -- "$KVMLITE" spawn 5 --threads 300
refused "spawn --mem-budget 100" "$k --mem-budget takes a whole number from 1 to 99, not '100'" -- \
	"$KVMLITE" spawn 5 --mem-budget 100
refused "spawn --resident 0" "$k --resident takes a whole number from 1 to 4294967295, not '0'" -- \
	"$KVMLITE" spawn 5 --resident 0
refused "spawn --cpu-max 101" "$k --cpu-max takes a whole number from 1 to 100, not '101'" -- "$KVMLITE" spawn 5 --cpu-max=101
refused "spawn --for -1" "$k --for takes seconds from 0 to 31536000 (such as 2 or 0.5), not '-1'" -- \
	"$KVMLITE" spawn 5 --for -1
refused "spawn -5 names the guest count, not an option" \
	"$k N (the guest count) takes a whole number from 1 to 4294967295, not '-5'" -- "$KVMLITE" spawn -5
refused "spawn abc says it in one line" \
	"$k N (the guest count) takes a whole number from 1 to 4294967295, not 'abc'" -- "$KVMLITE" spawn abc
refused "spawn without N" "$k the guest count N is missing" -- "$KVMLITE" spawn --for 0
refused "spawn --park lists its choices" "$k --park takes never, auto or always, not 'sometimes'" -- \
	"$KVMLITE" spawn 5 --park sometimes
refused "spawn --resident with --park never says why not" \
	"$k --resident needs parking: --park auto or always" -- "$KVMLITE" spawn 5 --resident 3 --park never
refused "an option without its value" "$k --socket needs a value (PATH)" -- "$KVMLITE" spawn 5 --socket
refused "run --index -1 does not wrap around" \
	"kvmlite run: --index takes a whole number from 0 to 4294967295, not '-1'" -- "$KVMLITE" run --index -1 hello
refused "run --index 4294967296 does not wrap around" \
	"kvmlite run: --index takes a whole number from 0 to 4294967295, not '4294967296'" -- \
	"$KVMLITE" run hello --index 4294967296
refused "run --bogus names the option and where to look" \
	"kvmlite run: unknown option '--bogus' (kvmlite help run lists them)" -- "$KVMLITE" run --bogus hello
refused "run --firmware lists its choices" "kvmlite run: --firmware takes none or pc, not 'bios'" -- \
	"$KVMLITE" run --firmware bios hello
refused "list bogus names the states" \
	"kvmlite list: no state 'bogus': STATE is one of running, halted, parked, ended, failed, silent, lost or booted" -- \
	"$KVMLITE" list bogus
refused "an unknown command lists the commands" \
	"kvmlite: unknown command 'frob'; the commands are: run, spawn, send, req, console, watch, read, info, list, stats, stop, help" \
	-- "$KVMLITE" frob
# an option after the arguments is an option: these reach for the socket they name
refused "info 7 --socket S takes S as the socket (not: too many arguments)" \
	"kvmlite: cannot connect to $T/other.sock: No such file or directory (is \`kvmlite spawn\` running?)" -- \
	"$KVMLITE" info 7 --socket "$T/other.sock"
refused "req 3 id --socket S sends 'id' to S's guest 3 (not 'id --socket S' to the default spawn)" \
	"kvmlite: cannot connect to $T/other.sock: No such file or directory (is \`kvmlite spawn\` running?)" -- \
	"$KVMLITE" req 3 id --socket "$T/other.sock"

# ---- --version, help ----
want_version=$(sed -n 's/^#define KVMLITE_VERSION "\(.*\)"/\1/p' vmm/version.h)
check "kvmlite --version prints the version" "[ \"\$('$KVMLITE' --version)\" = 'kvmlite $want_version' ]" \
	"$("$KVMLITE" --version 2>&1)"
"$KVMLITE" help >"$T/help" 2>&1
commands=$(sed -n '/^commands:/,/^$/s/^  \([a-z]*\) .*/\1/p' "$T/help")
commands=$(echo $commands)
check "kvmlite help lists the twelve commands" \
	"[ '$commands' = 'run spawn send req console watch read info list stats stop help' ]" "$commands"
check "kvmlite --help is kvmlite help" "\"$KVMLITE\" --help | cmp -s - '$T/help'"
wide=
for c in $commands; do
	"$KVMLITE" help "$c" >"$T/help.$c" 2>&1 || bad "kvmlite help $c exits 0" "$(head -3 "$T/help.$c")"
	[ "$c" = help ] && continue
	"$KVMLITE" "$c" --help | cmp -s - "$T/help.$c" || bad "kvmlite $c --help is kvmlite help $c"
	grep -q "^usage: kvmlite $c" "$T/help.$c" || bad "kvmlite help $c starts with its usage" "$(head -1 "$T/help.$c")"
	awk 'length > 80 { exit 1 }' "$T/help.$c" || wide="$wide $c"
done
ok "each command has its own help, the same through help and --help"
check "every help fits in 80 columns" "[ -z '$wide' ] && awk 'length > 80 { exit 1 }' '$T/help'" "too wide:$wide"
check "each client command's help explains it (not one text for all)" \
	"[ \$(md5sum '$T'/help.{send,req,console,watch,read,info,list,stats,stop} | cut -d' ' -f1 | sort -u | wc -l) = 9 ] &&
	 grep -q 'pong' '$T/help.req' && grep -q 'ranges' '$T/help.list' && grep -q 'Ctrl-A x' '$T/help.console'"
refused "help for no such command" "kvmlite: unknown command 'frob'; the commands are: run, spawn, send, req, console, watch, read, info, list, stats, stop, help" \
	-- "$KVMLITE" help frob

# ---- the manual page agrees with the help ----
man --warnings -l docs/kvmlite.1 >"$T/man" 2>"$T/man.err"
col -b <"$T/man" >"$T/man.txt"
check "man -l renders docs/kvmlite.1 without a warning" "[ -s '$T/man.txt' ] && [ ! -s '$T/man.err' ]" "$(head -5 "$T/man.err")"
check "the manual page names the version --version prints" "grep -q 'kvmlite $want_version' '$T/man.txt'"
missing=
for c in $commands; do
	# the command's section: from its heading ("   kvmlite spawn N [options]") to the next heading
	awk -v c="$c" '/^   kvmlite / { on = ($2 == c) } /^[A-Z]/ { on = 0 } on' "$T/man.txt" >"$T/sec.$c"
	[ -s "$T/sec.$c" ] || { missing="$missing $c(section)"; continue; }
	# every option the help lists, as "--name ARG", is described in the section, and no other
	sed -n 's/^  \(-[a-zA-Z], \)\{0,1\}\(--[a-z-]*\)\( [^ ][^ ]*\)\{0,1\}.*/\2\3/p' "$T/help.$c" |
		grep -v '^--help$' >"$T/opts.$c"
	while read -r o; do
		# (the clients' --socket is described once, after their sections)
		grep -qF -- "$o" "$T/sec.$c" || { [ "$o" = "--socket PATH" ] && grep -qF -- "$o" "$T/man.txt"; } ||
			missing="$missing $c:$o"
	done <"$T/opts.$c"
	for o in $(grep -o -- '--[a-z][a-z-]*' "$T/sec.$c" | sort -u); do
		grep -q -- "^$o\( \|$\)" "$T/opts.$c" || [ "$o" = --help ] || [ "$o" = --socket ] || [ "$o" = --version ] ||
			missing="$missing $c:$o(not in help)"
	done
done
check "the manual page has a section per command, with exactly the options its help lists" "[ -z '$missing' ]" \
	"differs:$missing"

# ---- bash completion ----
complete_words() { # complete_words WORD...: what completion offers for the last word (in an empty directory)
	mkdir -p "$T/empty"
	(cd "$T/empty" && bash -c 'source "$0"/completion/kvmlite; COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _kvmlite
		echo "${COMPREPLY[*]}"' "$ROOT" "$KABS" "$@")
}
check "completion offers the commands" "[ \"\$(complete_words sp)\" = spawn ] && [ \"\$(complete_words w)\" = watch ]"
check "completion offers a command's options" \
	"[ \"\$(complete_words spawn 5 --me)\" = '--metrics-file --mem-budget' ] && [ \"\$(complete_words stats --p)\" = --prometheus ]" \
	"$(complete_words spawn 5 --me) / $(complete_words stats --p)"
check "completion offers an option's values" "[ \"\$(complete_words spawn --park '')\" = 'auto never always' ]" \
	"$(complete_words spawn --park '')"
check "completion offers the built-in guest names" \
	"[ \"\$(complete_words run m)\" = mvm ] && [ \"\$(complete_words spawn 9 --guest c)\" = crash ]" \
	"$(complete_words run m) / $(complete_words spawn 9 --guest c)"

# ---- make install / uninstall ----
D=$T/dest
make -s install DESTDIR="$D" PREFIX=/usr SANITIZE="${SANITIZE:-}" >"$T/install.out" 2>&1
check "make install puts the binary, the manual page and the completion under DESTDIR/PREFIX" \
	"[ -x '$D/usr/bin/kvmlite' ] && [ -f '$D/usr/share/man/man1/kvmlite.1' ] &&
	 [ -f '$D/usr/share/bash-completion/completions/kvmlite' ]" "$(cat "$T/install.out")"
check "the installed kvmlite runs" "[ \"\$('$D/usr/bin/kvmlite' --version)\" = 'kvmlite $want_version' ]"
check "the installed manual page renders" "man -l '$D/usr/share/man/man1/kvmlite.1' 2>/dev/null | grep -q 'kvmlite spawn'"
if [ -c /dev/kvm ]; then
	check "the installed kvmlite boots its built-in guests" "[ \"\$('$D/usr/bin/kvmlite' run hello)\" = 'hello, world' ]"
else
	skipped=$((skipped + 1)); echo "SKIP the installed kvmlite boots a guest: /dev/kvm is absent"
fi
make -s uninstall DESTDIR="$D" PREFIX=/usr >/dev/null 2>&1
check "make uninstall removes the three files" "[ -z \"\$(find '$D' -type f)\" ]" "$(find "$D" -type f)"

echo "cli: $pass passed, $fail failed, $skipped skipped"
[ "$fail" = 0 ]
