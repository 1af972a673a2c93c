#!/bin/bash
# plot.sh - draws density ramps from CSV files as one PNG (gnuplot): host CPU and memory in use vs live VMs.
#
# Usage: bench/plot.sh [-o OUT.png] [-t TITLE] [-F] [-v] RAMP.csv...
#
# Each CSV has the columns vmm,guest,count,cpu_mean,cpu_sd,mem_mean,mem_sd,samples
# (build/bench/qemu_fleet --ramp N --csv FILE writes them; so does kvmlite's side).
# Files may hold several configurations and may be given in any number: every
# vmm + guest pair is one line, mean ± sd as error bars, in two panels, CPU and
# memory. Each y axis is fitted to its data (-F: 0 to 100% instead, as in the
# research's standardized scalability test). When the VM counts span more than
# a decade (QEMU's tens beside kvmlite's thousands) the x axis is logarithmic,
# so that every configuration can be seen; the host without VMs (count 0) is
# then left out. -v prints each panel's axis ranges on stderr. Lines starting
# with '#' are comments; a "# host: ..." line names the host and KVM backend
# in the title (without one, the title names this host). Default output:
# build/bench/density.png.
set -eu

OUT=$(cd "$(dirname "$0")/.." && pwd)/build/bench/density.png
TITLE=
FULL=
VERBOSE=
usage() { sed -n '4,17p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while getopts o:t:aFvh opt; do
	case $opt in
	o) OUT=$OPTARG ;;
	t) TITLE=$OPTARG ;;
	a) ;; # (fitted to the data: the default now)
	F) FULL=1 ;;
	v) VERBOSE=1 ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || usage
command -v gnuplot >/dev/null || { echo "plot.sh: gnuplot not found (Debian: apt-get install gnuplot-nox)" >&2; exit 1; }
for f in "$@"; do
	[ -r "$f" ] || { echo "plot.sh: $f: cannot read" >&2; exit 1; }
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/plot.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# One data file per configuration, rows sorted by count: "count cpu cpu_sd mem mem_sd".
# configs lists them in order of first appearance: "N vmm guest".
awk -F, -v dir="$WORK" '
	/^#/ || $1 == "vmm" || NF < 7 { next }
	{
		key = $1 " " $2
		if (!(key in id)) { id[key] = ++n; print n, $1, $2 > (dir "/configs") }
		print $3, $4, $5, $6, $7 > (dir "/raw." id[key])
	}' "$@"
[ -s "$WORK/configs" ] || { echo "plot.sh: no data rows in $*" >&2; exit 1; }
while read -r n _; do
	sort -n -k1,1 "$WORK/raw.$n" >"$WORK/cfg.$n"
done <"$WORK/configs"

# The axes, fitted to the data: y up to the highest mean + sd (with room for the error bars), x on a
# log scale when the counts span more than a decade (then without count 0, which a log axis cannot show).
read -r XMIN XMAX CPUMAX MEMMAX < <(cat "$WORK"/cfg.* | awk '
	BEGIN { xmin = -1 }
	{ if ($1 > 0 && (xmin < 0 || $1 < xmin)) xmin = $1; if ($1 > xmax) xmax = $1
	  if ($2 + $3 > c) c = $2 + $3; if ($4 + $5 > m) m = $4 + $5 }
	END { print (xmin < 0 ? 1 : xmin), xmax + 0, c + 0, m + 0 }')
LOGX=$(awk -v a="$XMIN" -v b="$XMAX" 'BEGIN { print (b >= 20 * a) ? 1 : 0 }')
# a y axis from 0 to a round number above the data (at most 100%)
yfit() {
	awk -v m="$1" 'BEGIN { m *= 1.1; if (m > 100) m = 100; if (m <= 0) m = 1
		s = 10 ^ int(log(m) / log(10)); if (m < 1) s /= 10; print "[0:" int(m / s + 0.999) * s "]" }'
}
if [ -n "$FULL" ]; then
	CPURANGE='[0:100]' MEMRANGE='[0:100]'
else
	CPURANGE=$(yfit "$CPUMAX") MEMRANGE=$(yfit "$MEMMAX")
fi
if [ "$LOGX" = 1 ]; then
	XSET="set logscale x; set xrange [$(awk -v a="$XMIN" 'BEGIN { print a / 1.5 }'):$(awk -v b="$XMAX" 'BEGIN { print b * 1.5 }')]"
	XLABEL='live VMs (log scale; the host without VMs is not shown)'
else
	XSET='set xrange [0:*]; set autoscale xfixmax; set offsets graph 0.02, graph 0.02, 0, 0'
	XLABEL='live VMs'
fi

if [ -z "$TITLE" ]; then
	hosts=$(grep -h '^# host: ' "$@" | sed 's/^# host: //' | sort -u)
	if [ -z "$hosts" ]; then
		# No host line in the data: name this host (the data was probably taken here).
		backend=unknown
		for m in kvm_intel kvm_amd kvm_pvm; do [ -e /sys/module/$m ] && backend=$m; done
		hosts="$(hostname), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs,"
		hosts="$hosts $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo), Linux $(uname -r), KVM backend $backend"
	elif [ "$(printf '%s\n' "$hosts" | wc -l)" -gt 1 ]; then
		echo "plot.sh: warning: the files come from different hosts; the title names the first" >&2
		hosts=$(printf '%s\n' "$hosts" | head -1)
	fi
	TITLE="VM density: host resources vs live VMs -- $hosts"
fi

# gnuplot's single-quoted strings escape a quote by doubling it.
gq() { printf "'%s'" "${1//\'/\'\'}"; }

# Same VMM, same colour; same guest, same dash and point shape.
color() {
	case $1 in
	kvmlite) echo '#1f5fbf' ;;
	qemu) echo '#c8341e' ;;
	*) printf '%s\n' '#2a9d3a' '#8e44ad' '#d08a00' '#555555' | sed -n "$(($2 % 4 + 1))p" ;;
	esac
}
style() {
	case $1 in
	mvm) echo 'dt 1 pt 7' ;;
	tick) echo 'dt 2 pt 5' ;;
	*) echo "dt $(($2 % 3 + 3)) pt $(($2 % 4 * 2 + 9))" ;;
	esac
}
label() {
	case $2 in
	mvm) echo "$1, mvm (PIT off)" ;;
	tick) echo "$1, tick (PIT 18.2 Hz)" ;;
	*) echo "$1, $2" ;;
	esac
}

# plots COL_MEAN COL_SD: the plot command's list, one entry per configuration.
plots() {
	local sep=
	while read -r n vmm guest; do
		# on a log x axis count 0 has no place: NaN leaves the point out
		printf '%s%s using ($1 > 0 || !%s ? $1 : NaN):%s:%s with yerrorlines lw 2 ps 1.2 lc rgb %s %s title %s' \
			"$sep" "$(gq "$WORK/cfg.$n")" "$LOGX" "$1" "$2" "$(gq "$(color "$vmm" "$n")")" "$(style "$guest" "$n")" \
			"$(gq "$(label "$vmm" "$guest")")"
		sep=', \
	'
	done <"$WORK/configs"
}

# pngcairo draws smooth lines; gnuplot without cairo still has the libgd png terminal.
if gnuplot -e 'set terminal pngcairo' >/dev/null 2>&1; then
	TERM_LINE='set terminal pngcairo size 1600,720 font "Sans,12" noenhanced'
else
	TERM_LINE='set terminal png size 1600,720 font "Sans,12" noenhanced'
fi
mkdir -p "$(dirname "$OUT")"
cat >"$WORK/plot.gp" <<EOF
$TERM_LINE
set output $(gq "$OUT")
set multiplot layout 1,2 title $(gq "$TITLE") font ",13"
set grid
set key below horizontal box
set bmargin 8
$XSET
set xlabel '$XLABEL'
set format y '%g%%'
set print '-'
set title 'Host CPU in use (all CPUs), mean ± sd'
set ylabel 'CPU in use, % of the host'
set yrange $CPURANGE
plot $(plots 2 3)
print sprintf('cpu: x %g %g%s, y %g %g', GPVAL_X_MIN, GPVAL_X_MAX, $LOGX ? ' log' : '', GPVAL_Y_MIN, GPVAL_Y_MAX)
set title 'Host memory in use ((MemTotal - MemAvailable) / MemTotal), mean ± sd'
set ylabel 'memory in use, % of MemTotal'
set yrange $MEMRANGE
plot $(plots 4 5)
print sprintf('mem: x %g %g%s, y %g %g', GPVAL_X_MIN, GPVAL_X_MAX, $LOGX ? ' log' : '', GPVAL_Y_MIN, GPVAL_Y_MAX)
unset multiplot
EOF
gnuplot "$WORK/plot.gp" >"$WORK/ranges"
[ -z "$VERBOSE" ] || cat "$WORK/ranges" >&2
echo "$OUT"
