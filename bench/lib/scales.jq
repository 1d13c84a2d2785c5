# SPDX-License-Identifier: Apache-2.0
# Runs of setups at several scales (number of services, of rules), compared in one run:
# jq -L bench/lib 'include "scales"; ...' on an array of runs, each {setup, scale, METRIC...}.
include "stats";

# {setup: {"scale": {metric: summary}}} of the runs, for every setup, scale and metric.
def scale_summary($setups; $metrics):
	. as $runs
	| ([$runs[].scale] | unique) as $scales
	| $setups | map(. as $s | {($s): ($scales | map(. as $n | {($n | tostring): ($metrics
		| map(. as $m | {($m): ([$runs[] | select(.setup == $s and .scale == $n) | .[$m]]
			| summary)}) | add)}) | add)}) | add;

# {"scale": {metric: ratio}}: setup a's medians over setup b's.
def scale_ratios($summary; $a; $b):
	$summary[$a] | with_entries(.key as $n | .value |= with_entries(.key as $m
		| .value = ratio(.value.median; $summary[$b][$n][$m].median)));

# Targets {what, ratio, op, limit, overlap}: met, and whether noise alone could flip it (the
# ratio within 20% of the limit, or, for a limit of 1, the two setups' ranges overlap).
def verdicts:
	map(.met = (if .ratio == null then null
		    elif .op == ">=" then .ratio >= .limit
		    elif .op == "<=" then .ratio <= .limit else .ratio < .limit end)
	| .within_noise = (.ratio != null and ((.limit == 1 and .overlap)
		or (.ratio / .limit > 0.8 and .ratio / .limit < 1.25)))
	| del(.overlap));

# Whether two summaries' ranges overlap.
def overlap($x; $y): $x != null and $y != null and $x.min <= $y.max and $y.min <= $x.max;

# --- report --------------------------------------------------------------------------------------

# A section's results: "N: a / b; ..." over its scales, each cell f of {setup, scale} for the
# setups in order.
def per_scale_line($setups; f):
	.scales | map(. as $n | "\($n | commas): "
		+ ($setups | map({setup: ., scale: $n} | f) | join(" / "))) | join("; ");

# A section's results: the median of metric m of {setup, scale}.
def median_of($s; m): $s.summary[.setup][.scale | tostring][m].median | sig;

# A section's results: the time it took to program {setup, scale}.
def load_time_of($s): . as $x | $s.setup_times[] | select(.setup == $x.setup and .scale == $x.scale)
	| "\(.load_s | sig) s";

# A section's results: the line of what edgewire's datapath counted.
def datapath_counted:
	"edgewire's datapath counted during this section (packets by verdict reason; no other reason moved): " +
	(.edgewire_datapath.packets_by_reason | to_entries | map(select(.value != 0) | "\(.key) \(.value)")
	 | if length == 0 then "nothing" else join(", ") end) + ".";

# A section's results: its targets as a table of ratios and verdicts, and what noise means.
def targets_table:
	(["target", "ratio", "verdict"] | row), "|---|---:|---|",
	(.targets[] | [.what, (.ratio | times),
		(if .met == null then "not measured" elif .met then "met" else "**missed**" end)
		+ (if .within_noise then " (within noise)" else "" end)] | row),
	"",
	"*Within noise*: the ratio is within 20% of the target, or the two setups' ranges overlap.";
