/*
 * redisbench: the Redis Streams peer for the macro benchmarks, in C on hiredis.
 *
 *   xadd   Appends --count entries of one field "d" holding --size bytes to stream --key,
 *          pipelined in batches of --pipeline commands (send the batch, then read its
 *          replies). A reply is Redis' acknowledgement, so ack latency is the time from
 *          writing the batch to reading each entry's reply. The durability it stands for is
 *          the server's appendfsync setting (the harness runs everysec and always).
 *   xread  Reads --count entries from the start of the stream with XREAD COUNT --batch.
 *
 * One JSON line on stdout with the same field names as tribload (msgs_per_s, mb_per_s,
 * ack_latency_us), MB = 10^6 bytes of entry values.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "../loadgen/histogram.h"
#include "../loadgen/payload.h"

/* Longest entry id Redis prints: two 20-digit numbers and a dash. */
#define ENTRY_ID_MAX 48

static struct {
  const char *mode;
  const char *host;
  int port;
  const char *key;
  long long count;
  int size;
  int pipeline;
  int batch;
  double timeout_s;
} opt = {
    .host = "127.0.0.1",
    .port = 6379,
    .key = "bench",
    .count = 100000,
    .size = 1024,
    .pipeline = 100,
    .batch = 1000,
    .timeout_s = 300,
};

static void fail(const char *what, const char *detail) {
  fprintf(stderr, "redisbench: %s: %s\n", what, detail);
  printf("{\"tool\":\"redisbench\",\"mode\":\"%s\",\"error\":\"%s: ", opt.mode, what);
  for (const char *p = detail; *p; p++) {
    if (*p == '"' || *p == '\\') putchar('\\');
    putchar((unsigned char)*p >= 0x20 ? *p : ' ');
  }
  printf("\"}\n");
  exit(1);
}

static void usage(void) {
  fprintf(stderr,
          "usage: redisbench xadd|xread [--host H] [--port P] [--key K] [-n COUNT] [-s SIZE]\n"
          "       [--pipeline N] [--batch N] [--timeout-s S]\n");
  exit(2);
}

static void parse_args(int argc, char **argv) {
  static struct option longopts[] = {
      {"host", required_argument, 0, 'h'},     {"port", required_argument, 0, 'P'},
      {"key", required_argument, 0, 'k'},      {"count", required_argument, 0, 'n'},
      {"size", required_argument, 0, 's'},     {"pipeline", required_argument, 0, 'L'},
      {"batch", required_argument, 0, 'B'},    {"timeout-s", required_argument, 0, 'T'},
      {0, 0, 0, 0}};
  if (argc < 2) usage();
  opt.mode = argv[1];
  optind = 2;
  int c;
  while ((c = getopt_long(argc, argv, "n:s:", longopts, NULL)) != -1) {
    switch (c) {
      case 'h': opt.host = optarg; break;
      case 'P': opt.port = atoi(optarg); break;
      case 'k': opt.key = optarg; break;
      case 'n': opt.count = atoll(optarg); break;
      case 's': opt.size = atoi(optarg); break;
      case 'L': opt.pipeline = atoi(optarg); break;
      case 'B': opt.batch = atoi(optarg); break;
      case 'T': opt.timeout_s = atof(optarg); break;
      default: usage();
    }
  }
  if (opt.size < 1 || opt.size > (int)(PAYLOAD_BUF_BYTES / 2) || opt.count < 1 || opt.pipeline < 1 ||
      opt.batch < 1 || opt.timeout_s <= 0)
    usage();
}

static int run_xadd(redisContext *c) {
  hist_t ack;
  hist_init(&ack);
  uint64_t *sent_at = malloc(sizeof(uint64_t) * (size_t)opt.pipeline);
  uint64_t t0 = now_ns();
  uint64_t deadline = t0 + (uint64_t)(opt.timeout_s * 1e9);
  long long sent = 0, acked = 0, errors = 0;
  char first_error[256] = "";
  while (sent < opt.count && now_ns() < deadline) {
    int n = opt.count - sent < opt.pipeline ? (int)(opt.count - sent) : opt.pipeline;
    for (int i = 0; i < n; i++)
      redisAppendCommand(c, "XADD %s * d %b", opt.key, payload_for(sent + i, (size_t)opt.size), (size_t)opt.size);
    /* hiredis writes the whole pipeline on the first read: that instant is the send time. */
    uint64_t flushed = now_ns();
    for (int i = 0; i < n; i++) sent_at[i] = flushed;
    for (int i = 0; i < n; i++) {
      redisReply *r = NULL;
      if (redisGetReply(c, (void **)&r) != REDIS_OK) fail("XADD reply", c->errstr);
      uint64_t now = now_ns();
      if (r->type == REDIS_REPLY_ERROR) {
        if (errors++ == 0) snprintf(first_error, sizeof first_error, "%s", r->str);
      } else {
        acked++;
        hist_record(&ack, now - sent_at[i]);
      }
      freeReplyObject(r);
    }
    sent += n;
  }
  double seconds = (double)(now_ns() - t0) / 1e9;
  printf("{\"tool\":\"redisbench\",\"mode\":\"xadd\",\"key\":\"%s\",\"size\":%d,\"pipeline\":%d,"
         "\"sent\":%lld,\"acked\":%lld,\"errors\":%lld,\"first_error\":\"%s\",\"complete\":%s,"
         "\"seconds\":%.3f,\"msgs_per_s\":%.1f,\"mb_per_s\":%.2f,\"ack_latency_us\":",
         opt.key, opt.size, opt.pipeline, sent, acked, errors, first_error,
         acked == opt.count ? "true" : "false", seconds, acked / seconds,
         acked * (double)opt.size / seconds / 1e6);
  hist_print_json_us(stdout, &ack);
  printf("}\n");
  free(sent_at);
  return 0;
}

/* XREAD reply: [[key, [[id, [field, value, ...]], ...]]]. Shapes are checked, not
 * assumed, so an unexpected reply ends the run with a message rather than a crash. */
static int consume_reply(redisReply *r, char *last_id, long long *received, long long *bytes) {
  if (r->type == REDIS_REPLY_NIL) return 0;
  if (r->type != REDIS_REPLY_ARRAY || r->elements < 1) return -1;
  redisReply *stream = r->element[0];
  if (stream->type != REDIS_REPLY_ARRAY || stream->elements < 2) return -1;
  redisReply *entries = stream->element[1];
  if (entries->type != REDIS_REPLY_ARRAY) return -1;
  for (size_t i = 0; i < entries->elements; i++) {
    redisReply *e = entries->element[i];
    if (e->type != REDIS_REPLY_ARRAY || e->elements < 2 || e->element[0]->type != REDIS_REPLY_STRING) return -1;
    redisReply *fields = e->element[1];
    if (fields->type != REDIS_REPLY_ARRAY) return -1;
    for (size_t f = 1; f < fields->elements; f += 2) *bytes += (long long)fields->element[f]->len;
    snprintf(last_id, ENTRY_ID_MAX, "%s", e->element[0]->str);
    (*received)++;
  }
  return (int)entries->elements;
}

static int run_xread(redisContext *c) {
  char last_id[ENTRY_ID_MAX] = "0-0";
  long long received = 0, bytes = 0;
  uint64_t t0 = now_ns();
  uint64_t deadline = t0 + (uint64_t)(opt.timeout_s * 1e9);
  int empty = 0;
  while (received < opt.count && now_ns() < deadline && empty < 10) {
    redisReply *r = redisCommand(c, "XREAD COUNT %d BLOCK 1000 STREAMS %s %s", opt.batch, opt.key, last_id);
    if (!r) fail("XREAD", c->errstr);
    if (r->type == REDIS_REPLY_ERROR) fail("XREAD", r->str);
    int n = consume_reply(r, last_id, &received, &bytes);
    freeReplyObject(r);
    if (n < 0) fail("XREAD", "reply of an unexpected shape");
    empty = n == 0 ? empty + 1 : 0;
  }
  double seconds = (double)(now_ns() - t0) / 1e9;
  printf("{\"tool\":\"redisbench\",\"mode\":\"xread\",\"key\":\"%s\",\"target\":%lld,\"received\":%lld,"
         "\"complete\":%s,\"seconds\":%.3f,\"msgs_per_s\":%.1f,\"mb_per_s\":%.2f}\n",
         opt.key, opt.count, received, received >= opt.count ? "true" : "false", seconds,
         received / seconds, bytes / seconds / 1e6);
  return 0;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  parse_args(argc, argv);
  if (payload_init("text") != 0) fail("payload", "no memory");
  redisContext *c = redisConnect(opt.host, opt.port);
  if (!c || c->err) fail("connect", c ? c->errstr : "no memory");
  int rc;
  if (strcmp(opt.mode, "xadd") == 0) rc = run_xadd(c);
  else if (strcmp(opt.mode, "xread") == 0) rc = run_xread(c);
  else usage(), rc = 2;
  redisFree(c);
  return rc;
}
