#!/bin/bash
# plot_memory.sh - draws the memory one VM costs the host, per VMM and guest, as a bar chart on a log scale (gnuplot).
#
# Usage: bench/plot_memory.sh [-o OUT.png] [-t TITLE] [-v] COST.csv
#
# COST.csv is the cost experiment's table (bench/experiments.sh, docs/experiments.md):
# for each row (vmm, guest) two bars: the host memory one VM takes (MemAvailable's
# drop per VM, memavail_kib) and, of it, the VMM's own process memory (PSS per VM,
# vmm_pss_kib); the rest is the kernel's. The host-wide figure carries its noise
# (mem_noise_kib over the VMs measured) as an error bar; one within its noise (or
# below zero) is no figure, and is labelled "below noise" instead of drawn. The y axis is logarithmic:
# kvmlite's few hundred KiB and QEMU's ten-odd MiB side by side, each bar labelled
# with its value. Rows are ordered kvmlite, raw KVM, QEMU. -v prints the axis range
# and the bars on stderr. Default output: build/bench/memory.png.
set -eu

OUT=$(cd "$(dirname "$0")/.." && pwd)/build/bench/memory.png
TITLE=
VERBOSE=
usage() { sed -n '4,14p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while getopts o:t:vh opt; do
	case $opt in
	o) OUT=$OPTARG ;;
	t) TITLE=$OPTARG ;;
	v) VERBOSE=1 ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# = 1 ] || usage
command -v gnuplot >/dev/null || { echo "plot_memory.sh: gnuplot not found (Debian: apt-get install gnuplot-nox)" >&2; exit 1; }
[ -r "$1" ] || { echo "plot_memory.sh: $1: cannot read" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/plot.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# "label total pss noise", one row per VMM and guest, kvmlite first, then raw, then QEMU.
awk -F, '
	/^#/ { next }
	!head++ { for (i = 1; i <= NF; i++) col[$i] = i; next }
	$(col["memavail_kib"]) == "" { next }
	{
		rank = $1 == "kvmlite" ? 1 : $1 == "raw" ? 2 : $1 == "qemu" ? 3 : 4
		name = ($1 == "raw" ? "raw KVM" : $1 == "qemu" ? "QEMU" : $1) ", " $2
		n = $(col["guests"]) > 0 ? $(col["guests"]) : 1
		pss = $(col["vmm_pss_kib"]) == "" ? 0 : $(col["vmm_pss_kib"])
		total = $(col["memavail_kib"]); noise = $(col["mem_noise_kib"]) / n
		# a host-wide figure within its noise (or below zero) is not a figure: no bar, a label says so
		fig = total > noise && total > 0
		printf "%d %s|%s|%s|%s|%d\n", rank, name, fig ? total : 1e-9, pss, fig ? noise : 0, fig
	}' "$1" | sort -n -s -k1,1 | cut -d' ' -f2- | awk -F'|' '{ printf "\"%s\" %s %s %s %s\n", $1, $2, $3, $4, $5 }' >"$WORK/bars"
[ -s "$WORK/bars" ] || { echo "plot_memory.sh: no rows with memavail_kib in $1" >&2; exit 1; }
host=$(grep -h '^# host: ' "$1" | sed 's/^# host: //' | head -1)
[ -n "$TITLE" ] || TITLE="Host memory per VM, log scale${host:+ -- $host}"
# the y range: a power of ten below the smallest bar to one above the largest
read -r YMIN YMAX < <(awk '{ for (i = NF - 3; i <= NF - 2; i++) if ($i > 1e-6) { if (!lo || $i < lo) lo = $i; if ($i > hi) hi = $i } }
	END { print 10 ^ int(log(lo) / log(10) - (lo < 1)), 10 ^ (int(log(hi) / log(10)) + 1) }' "$WORK/bars")

gq() { printf "'%s'" "${1//\'/\'\'}"; }
if gnuplot -e 'set terminal pngcairo' >/dev/null 2>&1; then
	TERM_LINE='set terminal pngcairo size 1200,720 font "Sans,12" noenhanced'
else
	TERM_LINE='set terminal png size 1200,720 font "Sans,12" noenhanced'
fi
mkdir -p "$(dirname "$OUT")"
cat >"$WORK/plot.gp" <<GP
$TERM_LINE
set output $(gq "$OUT")
set title $(gq "$TITLE")
set logscale y
set yrange [$YMIN:$YMAX]
set ylabel 'KiB per VM (log scale)'
set format y '%g'
set grid ytics
set key top left box
set style data histograms
set style histogram errorbars gap 2 lw 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set xtics nomirror
set bars 2
set print '-'
plot $(gq "$WORK/bars") using 2:4:xtic(1) lc rgb '#c8341e' title 'host memory (MemAvailable drop), ± the host noise', \\
     '' using 3:(0):xtic(1) lc rgb '#1f5fbf' title 'of it the VMM process (PSS)', \\
     '' using (\$0 - 0.2):(int(\$5) ? \$2 * 1.15 : $YMIN * 1.6):(int(\$5) ? sprintf('%.0f', \$2) : "below\\nnoise") with labels notitle, \\
     '' using (\$0 + 0.2):(\$3 > 0 ? \$3 * 1.15 : NaN):(sprintf('%.0f', \$3)) with labels notitle
print sprintf('y %g %g log', GPVAL_Y_MIN, GPVAL_Y_MAX)
GP
gnuplot "$WORK/plot.gp" >"$WORK/ranges"
if [ -n "$VERBOSE" ]; then
	cat "$WORK/ranges" >&2
	awk '{ sub(/^"/, ""); sub(/"/, "|"); print "bar " $0 }' "$WORK/bars" >&2 # "bar NAME| total pss noise measured"
fi
echo "$OUT"
