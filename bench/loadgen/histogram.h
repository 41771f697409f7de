/*
 * Latency histogram shared by the load generator and the peer clients.
 *
 * Log-linear buckets over nanoseconds: values below 128 ns are exact; above, each power of
 * two is split into 64 equal sub-buckets, so a reported percentile is within 1/64 (1.6 %)
 * of the true sample. Memory is fixed (HIST_BUCKETS counters) whatever the sample count,
 * which keeps a long run bounded. One histogram per thread; merge them at the end.
 */
#ifndef TRIB_HISTOGRAM_H
#define TRIB_HISTOGRAM_H

#include <stdint.h>
#include <stdio.h>

/* 128 exact buckets + 57 powers of two x 64 sub-buckets covers every uint64_t value. */
#define HIST_BUCKETS (128 + 57 * 64)

typedef struct {
  uint64_t counts[HIST_BUCKETS];
  uint64_t n;
  uint64_t min_ns;
  uint64_t max_ns;
  double sum_ns;
} hist_t;

void hist_init(hist_t *h);
void hist_record(hist_t *h, uint64_t ns);
void hist_merge(hist_t *into, const hist_t *from);
/* The value at quantile q (0 < q <= 1), in nanoseconds; 0 when the histogram is empty. */
uint64_t hist_quantile(const hist_t *h, double q);
/* Writes {"n":..,"p50":..,"p99":..,"p999":..,"max":..,"mean":..} in microseconds. */
void hist_print_json_us(FILE *out, const hist_t *h);

/* CLOCK_MONOTONIC in nanoseconds: comparable across processes on the same host. */
uint64_t now_ns(void);
/* User + system CPU seconds of this whole process, every thread included. */
double cpu_seconds(void);

#endif
