# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# Section 7 of #8: what the verifier spends on every datapath program (each object in
# build/bpf/, so new programs are measured as they land), and on the trivial program for
# scale: processed instructions and states from the BPF_LOG_STATS summary, load time.

bench_verifier() {
	local objs=("$BUILD"/bpf/*.bpf.o "$BUILD/bench/bpf_trivial.bpf.o") out
	log "verifier: ${#objs[@]} objects, each program loaded $VERIFIER_REPEAT times"
	out=$("$BUILD/bench/ew-bench-verifier" --repeat "$VERIFIER_REPEAT" "${objs[@]}") ||
		die "verifier: ew-bench-verifier failed (its message is above)"
	jq -c -L "$BENCH/lib" 'include "stats";
		{params: {repeat}, programs: (.programs | map(.load_ms |= summary))}' <<<"$out"
}

report_verifier() { # RESULTS_JSON
	jq -r -L "$BENCH/lib" 'include "stats";
	.sections.verifier as $s
	| "## 7. Verifier cost",
	"",
	"Each program loaded alone (the rest of its object with autoload off) with log level 4 (BPF_LOG_STATS), \($s.params.repeat) times. *insns* is the program'\''s size as compiled; *processed*, *states* (total / peak) and *verification µs* come from the verifier'\''s summary line; *load ms* is the wall time of `bpf_object__load()`, maps included.",
	"",
	(["object", "program", "insns", "processed", "states (total / peak)", "max states/insn", "verification µs", "load ms"] | row),
	"|---|---|---:|---:|---:|---:|---:|---:|",
	($s.programs[] | [.object, .program, (.insns | tostring), (.processed | tostring),
		"\(.total_states) / \(.peak_states)", (.max_states_per_insn | tostring),
		(.verification_us | tostring), (.load_ms | cell)] | row),
	""
	' "$1"
}
