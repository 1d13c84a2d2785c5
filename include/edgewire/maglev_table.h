/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Maglev tables in their chunked layout (abi.h: struct ew_maglev_chunk), for
 * user space: the agent writes them, bpfctl and the tests read them. Needs
 * libbpf.
 */
#ifndef EDGEWIRE_MAGLEV_TABLE_H
#define EDGEWIRE_MAGLEV_TABLE_H

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "abi.h"

/* A new table of size slots, slots[s] the backend id of slot s, filled in
 * one batch, to be put into ew_lb_maglev: its fd, or -errno. */
static inline int ew_maglev_table_create(const __u32 *slots, __u32 size)
{
	LIBBPF_OPTS(bpf_map_create_opts, create, .map_flags = BPF_F_INNER_MAP);
	LIBBPF_OPTS(bpf_map_batch_opts, batch);
	__u32 n = EW_MAGLEV_CHUNKS(size), count = n;
	struct ew_maglev_chunk *chunks = calloc(n, sizeof(*chunks));
	__u32 *keys = calloc(n, sizeof(*keys));
	int fd = -ENOMEM;

	if (chunks && keys) {
		for (__u32 s = 0; s < size; s++)
			chunks[s / EW_MAGLEV_CHUNK].ids[s % EW_MAGLEV_CHUNK] = slots[s];
		for (__u32 i = 0; i < n; i++)
			keys[i] = i;
		fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "ew_maglev_table", sizeof(__u32),
				    sizeof(*chunks), n, &create);
		if (fd < 0) {
			fd = -errno;
		} else if (bpf_map_update_batch(fd, keys, chunks, &count, &batch)) {
			int err = -errno;

			close(fd);
			fd = err;
		}
	}
	free(chunks);
	free(keys);
	return fd;
}

/* Reads the first size slots of table fd into slots: 0 or -errno. */
static inline int ew_maglev_table_read(int fd, __u32 *slots, __u32 size)
{
	struct ew_maglev_chunk chunk;

	for (__u32 i = 0; i < EW_MAGLEV_CHUNKS(size); i++) {
		if (bpf_map_lookup_elem(fd, &i, &chunk))
			return -errno;
		for (__u32 j = 0; j < EW_MAGLEV_CHUNK && i * EW_MAGLEV_CHUNK + j < size; j++)
			slots[i * EW_MAGLEV_CHUNK + j] = chunk.ids[j];
	}
	return 0;
}

#endif /* EDGEWIRE_MAGLEV_TABLE_H */
