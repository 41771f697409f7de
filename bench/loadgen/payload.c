/* Deterministic filler for message values; see payload.h. */
#include "payload.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *buf;

int payload_init(const char *kind) {
  static const char *words[] = {
      "order", "created", "user", "id", "amount", "currency", "EUR", "status", "shipped",
      "pending", "warehouse", "berlin", "paris", "timestamp", "event", "payment", "ok",
      "retry", "session", "click", "page", "view", "item", "cart", "price", "quantity",
      "region", "west", "east", "device", "mobile", "desktop"};
  int random_kind = strcmp(kind, "random") == 0;
  if (!random_kind && strcmp(kind, "text") != 0) return -1;
  buf = malloc(PAYLOAD_BUF_BYTES);
  if (!buf) return -1;
  uint64_t x = 0x9E3779B97F4A7C15ULL; /* fixed seed: every run sends the same bytes */
  size_t i = 0;
  while (i < PAYLOAD_BUF_BYTES) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    if (random_kind) {
      size_t n = PAYLOAD_BUF_BYTES - i < 8 ? PAYLOAD_BUF_BYTES - i : 8;
      memcpy(buf + i, &x, n);
      i += n;
      continue;
    }
    const char *w = words[x % (sizeof words / sizeof *words)];
    char num[24];
    int len = (x >> 32) % 4 == 0 ? snprintf(num, sizeof num, " %u", (unsigned)(x >> 40) % 100000) : 0;
    for (const char *p = w; *p && i < PAYLOAD_BUF_BYTES; p++) buf[i++] = *p;
    for (int k = 0; k < len && i < PAYLOAD_BUF_BYTES; k++) buf[i++] = num[k];
    if (i < PAYLOAD_BUF_BYTES) buf[i++] = ' ';
  }
  return 0;
}

const char *payload_for(long long seq, size_t size) {
  /* Stride by a prime so neighbouring messages overlap little; stays inside the buffer. */
  size_t span = PAYLOAD_BUF_BYTES - size;
  return buf + (size_t)((unsigned long long)seq * 7919ULL % (span ? span : 1));
}
