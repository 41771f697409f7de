/*
 * diskwrite: the sequential-write ceiling the broker's log is compared against.
 *
 *   diskwrite FILE TOTAL_MIB SYNC_EVERY_MIB
 *
 * Writes TOTAL_MIB of 1 MiB chunks to FILE (created, truncated, removed at the end) and
 * calls fdatasync every SYNC_EVERY_MIB (0 = never: page-cache speed), plus once at the end
 * when syncing at all. Prints one JSON line: {"mb_per_s":..,"seconds":..,...}, MB = 10^6
 * bytes. The chunk is filled with non-zero bytes so no layer can special-case zeros.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CHUNK_BYTES (1 << 20)

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int fail(const char *what, const char *path) {
  perror(what);
  printf("{\"tool\":\"diskwrite\",\"error\":\"%s %s failed\"}\n", what, path);
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: diskwrite FILE TOTAL_MIB SYNC_EVERY_MIB\n");
    return 2;
  }
  const char *path = argv[1];
  long total = atol(argv[2]), every = atol(argv[3]);
  if (total < 1 || total > (1L << 20) || every < 0) {
    fprintf(stderr, "diskwrite: TOTAL_MIB must be 1..1048576 and SYNC_EVERY_MIB >= 0\n");
    return 2;
  }
  char *buf = malloc(CHUNK_BYTES);
  if (!buf) return fail("malloc", "");
  for (int i = 0; i < CHUNK_BYTES; i++) buf[i] = (char)('a' + i % 23);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return fail("open", path);
  double t0 = now_s();
  for (long i = 0; i < total; i++) {
    size_t off = 0;
    while (off < CHUNK_BYTES) {
      ssize_t n = write(fd, buf + off, CHUNK_BYTES - off);
      if (n <= 0) return fail("write", path);
      off += (size_t)n;
    }
    if (every > 0 && (i + 1) % every == 0 && fdatasync(fd) != 0) return fail("fdatasync", path);
  }
  if (every > 0 && fdatasync(fd) != 0) return fail("fdatasync", path);
  double seconds = now_s() - t0;
  close(fd);
  unlink(path);
  printf("{\"tool\":\"diskwrite\",\"total_mib\":%ld,\"sync_every_mib\":%ld,\"seconds\":%.3f,"
         "\"mb_per_s\":%.1f}\n",
         total, every, seconds, (double)total * CHUNK_BYTES / seconds / 1e6);
  free(buf);
  return 0;
}
