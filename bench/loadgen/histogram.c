/* Log-linear latency histogram; the bucket layout is described in histogram.h. */
#include "histogram.h"

#include <string.h>
#include <sys/resource.h>
#include <time.h>

static int bucket_of(uint64_t v) {
  if (v < 128) return (int)v;
  int msb = 63 - __builtin_clzll(v); /* >= 7 */
  int shift = msb - 6;               /* keeps the top 7 bits: 64..127 */
  uint64_t top = v >> shift;
  return 128 + (shift - 1) * 64 + (int)(top - 64);
}

/* The middle of the bucket's range, so the error is at most half a sub-bucket. */
static uint64_t value_of(int idx) {
  if (idx < 128) return (uint64_t)idx;
  int shift = (idx - 128) / 64 + 1;
  uint64_t top = (uint64_t)((idx - 128) % 64) + 64;
  return (top << shift) + ((1ULL << shift) >> 1);
}

void hist_init(hist_t *h) {
  memset(h, 0, sizeof(*h));
  h->min_ns = UINT64_MAX;
}

void hist_record(hist_t *h, uint64_t ns) {
  h->counts[bucket_of(ns)]++;
  h->n++;
  h->sum_ns += (double)ns;
  if (ns < h->min_ns) h->min_ns = ns;
  if (ns > h->max_ns) h->max_ns = ns;
}

void hist_merge(hist_t *into, const hist_t *from) {
  for (int i = 0; i < HIST_BUCKETS; i++) into->counts[i] += from->counts[i];
  into->n += from->n;
  into->sum_ns += from->sum_ns;
  if (from->min_ns < into->min_ns) into->min_ns = from->min_ns;
  if (from->max_ns > into->max_ns) into->max_ns = from->max_ns;
}

uint64_t hist_quantile(const hist_t *h, double q) {
  if (h->n == 0) return 0;
  /* The rank of the sample at quantile q, 1-based, as in "the p99 is the 99th of 100". */
  uint64_t rank = (uint64_t)(q * (double)h->n + 0.5);
  if (rank < 1) rank = 1;
  if (rank > h->n) rank = h->n;
  uint64_t seen = 0;
  for (int i = 0; i < HIST_BUCKETS; i++) {
    seen += h->counts[i];
    if (seen >= rank) {
      uint64_t v = value_of(i);
      /* The bucket midpoint can lie outside what was really observed. */
      if (v > h->max_ns) v = h->max_ns;
      if (v < h->min_ns) v = h->min_ns;
      return v;
    }
  }
  return h->max_ns;
}

void hist_print_json_us(FILE *out, const hist_t *h) {
  double mean = h->n ? h->sum_ns / (double)h->n / 1e3 : 0;
  fprintf(out, "{\"n\":%llu,\"p50\":%.1f,\"p99\":%.1f,\"p999\":%.1f,\"max\":%.1f,\"mean\":%.1f}",
          (unsigned long long)h->n, hist_quantile(h, 0.50) / 1e3, hist_quantile(h, 0.99) / 1e3,
          hist_quantile(h, 0.999) / 1e3, h->max_ns / 1e3, mean);
}

uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

double cpu_seconds(void) {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
  return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
         ru.ru_stime.tv_usec / 1e6;
}
