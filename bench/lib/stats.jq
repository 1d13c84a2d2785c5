# SPDX-License-Identifier: Apache-2.0
# Statistics and number formatting for bench/ (jq -L bench/lib 'include "stats"; ...').

# Median of an array of numbers (the mean of the middle two for an even count).
def median:
	sort | if length == 0 then null
	elif length % 2 == 1 then .[length / 2 | floor]
	else (.[length / 2 - 1] + .[length / 2]) / 2 end;

# Repeated measurements of one quantity: median and range.
def summary: {median: median, min: min, max: max, n: length};

# a / b, or null when either is missing or b is zero.
def ratio(a; b): if a == null or b == null or b == 0 then null else a / b end;

# A number rounded to about three significant digits, for tables.
def sig:
	if . == null then "–"
	elif (. | fabs) >= 100 then round
	elif (. | fabs) >= 10 then (. * 10 | round) / 10
	elif (. | fabs) >= 1 then (. * 100 | round) / 100
	else (. * 1000 | round) / 1000 end | tostring;

# A summary as "median (min–max)"; just the median for a single run.
def cell:
	if . == null then "–"
	elif .n > 1 then "\(.median | sig) (\(.min | sig)–\(.max | sig))"
	else .median | sig end;

# A ratio as "0.93x".
def times: if . == null then "–" else "\(. * 100 | round / 100)x" end;

# A markdown table row from an array of cells.
def row: "| " + join(" | ") + " |";

# An integer with thousands separators: 10000 -> "10,000".
def commas: tostring | if length > 3 and test("^[0-9]+$") then (.[:-3] | commas) + "," + .[-3:] else . end;
