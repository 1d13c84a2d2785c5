// SPDX-License-Identifier: Apache-2.0
/*
 * ew-bench-verifier: what the verifier spends on each program of some BPF
 * objects. Every program is loaded on its own (the object's other programs
 * with autoload off) with BPF_LOG_STATS (log level 4), so the log holds only
 * the verifier's summary:
 *
 *   processed 123 insns (limit 1000000) max_states_per_insn 1 total_states 9
 *   peak_states 9 mark_read 4
 *   verification time 58 usec
 *
 * The load is repeated and timed around bpf_object__load(), which also
 * creates the object's maps (their pin paths are cleared first: nothing is
 * pinned, nothing shared with a running agent).
 *
 * Output: one JSON object on stdout; exit status 1 (and a message on stderr)
 * when any program fails to load.
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/libbpf.h>

#define DEFAULT_REPEAT 5
#define MAX_REPEAT     100
#define LOG_SIZE       (64 * 1024)
#define LOG_STATS      4 /* BPF_LOG_STATS */

struct verifier_stats {
	long insns; /* instructions in the program as compiled */
	long processed;
	long max_states_per_insn;
	long total_states;
	long peak_states;
	long verification_us;
	double load_ms[MAX_REPEAT];
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: ew-bench-verifier [--repeat N] OBJECT.bpf.o...\n"
		"\n"
		"Verifier cost of every program in the objects: processed instructions,\n"
		"states and verification time from the verifier's statistics (log level 4),\n"
		"and the wall time of loading it alone, N times (default %d).\n"
		"Prints JSON on stdout. Needs root (or CAP_BPF and CAP_NET_ADMIN).\n",
		DEFAULT_REPEAT);
}

/* libbpf's warnings only; its debug output would bury ours. */
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, args);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* The value after `key ` in the log, or -1 when the log does not say. */
static long log_field(const char *log, const char *key)
{
	const char *at = strstr(log, key);

	if (!at)
		return -1;
	return strtol(at + strlen(key), NULL, 10);
}

static struct bpf_object *open_object(const char *path)
{
	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	struct bpf_map *map;

	if (!obj) {
		fprintf(stderr, "ew-bench-verifier: cannot open %s: %s\n", path,
			strerror(errno));
		return NULL;
	}
	bpf_object__for_each_map(map, obj) {
		if (bpf_map__set_pin_path(map, NULL)) {
			fprintf(stderr, "ew-bench-verifier: %s: cannot clear the pin path of %s\n",
				path, bpf_map__name(map));
			bpf_object__close(obj);
			return NULL;
		}
	}
	return obj;
}

/* Loads program `name` of the object at path, alone, once. */
static int load_one(const char *path, const char *name, struct verifier_stats *st,
		    int rep)
{
	static char log[LOG_SIZE];
	struct bpf_object *obj = open_object(path);
	struct bpf_program *prog, *target = NULL;
	double start;
	int err;

	if (!obj)
		return -1;
	bpf_object__for_each_program(prog, obj) {
		bool this = strcmp(bpf_program__name(prog), name) == 0;

		bpf_program__set_autoload(prog, this);
		if (this)
			target = prog;
	}
	if (!target) {
		fprintf(stderr, "ew-bench-verifier: %s has no program %s\n", path, name);
		bpf_object__close(obj);
		return -1;
	}
	log[0] = '\0';
	bpf_program__set_log_buf(target, log, sizeof(log));
	bpf_program__set_log_level(target, LOG_STATS);
	st->insns = (long)bpf_program__insn_cnt(target);

	start = now_ms();
	err = bpf_object__load(obj);
	st->load_ms[rep] = now_ms() - start;
	if (err) {
		fprintf(stderr, "ew-bench-verifier: %s: loading %s failed: %s (run as root)\n%s",
			path, name, strerror(-err), log);
		bpf_object__close(obj);
		return -1;
	}
	st->processed = log_field(log, "processed ");
	st->max_states_per_insn = log_field(log, "max_states_per_insn ");
	st->total_states = log_field(log, "total_states ");
	st->peak_states = log_field(log, "peak_states ");
	st->verification_us = log_field(log, "verification time ");
	bpf_object__close(obj);
	if (st->processed < 0) {
		fprintf(stderr, "ew-bench-verifier: %s: %s: no statistics in the verifier "
				"log:\n%s\n",
			path, name, log);
		return -1;
	}
	return 0;
}

static void print_program(const char *path, const char *name, const char *section,
			  const struct verifier_stats *st, int repeat, bool first)
{
	char copy[4096];
	int i;

	snprintf(copy, sizeof(copy), "%s", path);
	printf("%s{\"object\":\"%s\",\"program\":\"%s\",\"section\":\"%s\","
	       "\"insns\":%ld,\"processed\":%ld,\"max_states_per_insn\":%ld,"
	       "\"total_states\":%ld,\"peak_states\":%ld,\"verification_us\":%ld,"
	       "\"load_ms\":[",
	       first ? "" : ",", basename(copy), name, section, st->insns, st->processed,
	       st->max_states_per_insn, st->total_states, st->peak_states,
	       st->verification_us);
	for (i = 0; i < repeat; i++)
		printf("%s%.3f", i ? "," : "", st->load_ms[i]);
	printf("]}");
}

/* Every program of one object, each loaded repeat times. */
static int measure_object(const char *path, int repeat, bool *first)
{
	struct bpf_object *obj = open_object(path);
	struct bpf_program *prog;
	int ret = 0, rep;

	if (!obj)
		return -1;
	bpf_object__for_each_program(prog, obj) {
		struct verifier_stats st = { 0 };
		const char *name = bpf_program__name(prog);

		for (rep = 0; rep < repeat && !ret; rep++)
			ret = load_one(path, name, &st, rep);
		if (ret)
			break;
		print_program(path, name, bpf_program__section_name(prog), &st, repeat,
			      *first);
		*first = false;
	}
	bpf_object__close(obj);
	return ret;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "repeat", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int repeat = DEFAULT_REPEAT, opt, i;
	bool first = true;
	char *end;

	while ((opt = getopt_long(argc, argv, "r:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'r':
			repeat = (int)strtol(optarg, &end, 10);
			if (*end || repeat < 1 || repeat > MAX_REPEAT) {
				fprintf(stderr, "ew-bench-verifier: --repeat '%s': expected 1 to %d\n",
					optarg, MAX_REPEAT);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind == argc) {
		usage(stderr);
		return 2;
	}
	libbpf_set_print(libbpf_print);

	printf("{\"repeat\":%d,\"programs\":[", repeat);
	for (i = optind; i < argc; i++) {
		if (measure_object(argv[i], repeat, &first))
			return 1;
	}
	printf("]}\n");
	return 0;
}
