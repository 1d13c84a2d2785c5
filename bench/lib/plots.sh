# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# PNG plots of the scaling curves (#8) for bench/report: the cost of a new connection vs
# the number of services (section 3) and of policy rules (section 4), and the per-packet
# cost vs both (section 5), drawn with gnuplot from a results file. plots_for SECTION
# draws that section's plot into PLOTS_DIR and prints the markdown that embeds it, or a
# line saying why there is none. Sourced by bench/report after lib/common.sh.

PLOTS_DIR=  # where the PNGs go; none drawn when empty
PLOTS_LINK= # PLOTS_DIR as the markdown links it (relative to docs/benchmarks.md)
GNUPLOT=${EW_BENCH_GNUPLOT:-gnuplot}

# One panel's data: a row per scale, "label median min max" per setup (or case) in order.
# SOURCE is a jq expression yielding {label, cells: [{median, min, max}]} per scale.
plot_data() { # RESULTS FILE JQ_SOURCE
	jq -r -L "$BENCH/lib" "include \"stats\"; $3 | [.label] + (.cells | map(
		if . == null then \"NaN NaN NaN\" else \"\(.median) \(.min) \(.max)\" end)) | join(\" \")" \
		"$1" >"$2"
}

# A gnuplot panel of DATA: one line with error bars (the range) per title, on x = the rows
# (scales, evenly spaced, labelled).
plot_panel() { # DATA TITLE YLABEL XLABEL SERIES_TITLE...
	local data=$1 i col xtic parts=()
	printf 'set title "%s"\nset ylabel "%s"\nset xlabel "%s"\n' "$2" "$3" "$4"
	shift 4
	local titles=("$@") n=$#
	for ((i = 0; i < n; i++)); do
		col=$((2 + 3 * i))
		xtic=
		((i)) || xtic=":xtic(1)"
		# each series a little to the side of the others, so error bars do not hide each other
		parts+=("'$data' using (\$0 + ($i - ($n - 1) / 2.0) * 0.04):$col:$((col + 1)):$((col + 2))$xtic with yerrorlines linestyle $((i + 1)) title '${titles[i]}'")
	done
	local IFS=,
	echo "plot ${parts[*]}"
}

plot_render() { # PNG GNUPLOT_SCRIPT: 0 when the PNG was drawn
	"$GNUPLOT" <<EOF 2>"$WORK/gnuplot.err"
set terminal pngcairo size 1100,460 font "sans,10"
set output '$1'
set grid ytics
set key tmargin center horizontal
set termoption noenhanced
set yrange [0:*]
set offsets 0.3, 0.3, 0, 0
set style line 1 linecolor rgb "#1f77b4" linewidth 2 pointtype 7
set style line 2 linecolor rgb "#d62728" linewidth 2 pointtype 5
set style line 3 linecolor rgb "#2ca02c" linewidth 2 pointtype 9
set style line 4 linecolor rgb "#9467bd" linewidth 2 pointtype 11
set style line 5 linecolor rgb "#ff7f0e" linewidth 2 pointtype 13
set style line 6 linecolor rgb "#8c564b" linewidth 2 pointtype 3
set multiplot layout 1,2
$2
unset multiplot
EOF
}

# The connection-rate sections (services, policy): connections/s and CPU per connection
# against the scale, per setup.
plot_scales() { # RESULTS SECTION XLABEL SETUP...
	local results=$1 section=$2 xlabel=$3 m script=""
	shift 3
	local setups
	setups=$(printf '%s\n' "$@" | jq -R . | jq -s -c .)
	for m in per_s cpu_us_per_conn; do
		plot_data "$results" "$WORK/plot-$section-$m.dat" \
			".sections.$section as \$s | \$s.scales[] | tostring as \$n
			 | {label: (\$n | commas), cells: ($setups | map(\$s.summary[.][\$n].$m))}"
	done
	script+=$(plot_panel "$WORK/plot-$section-per_s.dat" "new connections per second" "connections/s" "$xlabel" "$@")$'\n'
	script+=$(plot_panel "$WORK/plot-$section-cpu_us_per_conn.dat" "busy CPU time per connection (whole machine)" "µs per connection" "$xlabel" "$@")
	plot_render "$PLOTS_DIR/$section.png" "$script"
}

# Per packet: kernel ns per run of the service and policy cases, established and new,
# against the number of services and of rules; the trivial program, the pod forward and
# the VXLAN encap and decap (which no scale changes) for reference.
plot_per_packet() { # RESULTS
	local results=$1 by flows xlabel script=""
	for by in services rules; do
		flows=$([[ $by == services ]] && echo flows || echo policy_flows)
		plot_data "$results" "$WORK/plot-pkt-$by.dat" \
			".sections.per_packet as \$p | \$p.$flows as \$f | select(\$f.established.$by != null)
			 | range(\$f.established.$by | length) as \$i
			 | {label: (\$f.established.${by}[\$i] | commas),
			    cells: [\$p.cases[\$f.established.cases[\$i]].kernel_ns, \$p.cases[\$f.new.cases[\$i]].kernel_ns,
				    \$p.cases.pod_forward.kernel_ns, \$p.cases.trivial.kernel_ns,
				    \$p.cases.encap.kernel_ns, \$p.cases.decap.kernel_ns]}"
		[[ -s $WORK/plot-pkt-$by.dat ]] || return 1
	done
	script+=$(plot_panel "$WORK/plot-pkt-services.dat" "pod to ClusterIP, per packet (BPF_PROG_TEST_RUN)" "kernel ns per run" "other services" \
		"established flow" "new flow" "pod forward (no service)" "trivial program" \
		"encap (to another node)" "decap (from another node)")$'\n'
	script+=$(plot_panel "$WORK/plot-pkt-rules.dat" "pod to policy-isolated pod, per packet" "kernel ns per run" "policy rules" \
		"tracked connection" "new connection" "pod forward (no policy)" "trivial program" \
		"encap (to another node)" "decap (from another node)")
	plot_render "$PLOTS_DIR/per_packet.png" "$script"
}

plots_for() { # RESULTS SECTION
	local results=$1 section=$2 what
	case $section in
	services) what="connections/s and CPU per connection vs the number of other services" ;;
	policy) what="connections/s and CPU per connection vs the number of rules" ;;
	per_packet) what="per-packet cost vs the number of services and of rules" ;;
	*) return 0 ;;
	esac
	[[ -n $PLOTS_DIR ]] || return 0
	if ! command -v "$GNUPLOT" >/dev/null; then
		printf 'Plot of %s: not drawn, gnuplot is not installed (scripts/deps.sh installs gnuplot-nox).\n\n' "$what"
		return 0
	fi
	mkdir -p "$PLOTS_DIR"
	case $section in
	services) plot_scales "$results" services "other services" edgewire iptables nftables ;;
	policy) plot_scales "$results" policy "rules that do not match the flow" edgewire iptables ;;
	per_packet) plot_per_packet "$results" ;;
	esac || {
		printf 'Plot of %s: not drawn, gnuplot failed: %s\n\n' "$what" "$(tr '\n' ' ' <"$WORK/gnuplot.err")"
		return 0
	}
	printf '![%s](%s/%s.png)\n\n*Median and range of each point, from the tables above.*\n\n' \
		"$what" "$PLOTS_LINK" "$section"
}
