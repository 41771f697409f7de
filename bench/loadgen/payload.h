/*
 * Message values shared by tribload and the peer clients, so every system is measured on
 * the same bytes. "text" is words from a small vocabulary with numbers mixed in (it
 * compresses about like log lines or JSON); "random" does not compress at all.
 */
#ifndef TRIB_PAYLOAD_H
#define TRIB_PAYLOAD_H

#include <stddef.h>

/* Large enough that consecutive messages differ (so compression is not measured on
 * identical messages), small enough to stay in the CPU caches' reach. */
#define PAYLOAD_BUF_BYTES (4u << 20)

/* Fills the shared buffer; returns 0, or -1 for an unknown kind or no memory. */
int payload_init(const char *kind);
/* `size` bytes of filler for message `seq`, valid for the life of the process.
 * Requires size <= PAYLOAD_BUF_BYTES / 2. */
const char *payload_for(long long seq, size_t size);

#endif
