/*
 * rawload: a Kafka producer load generator that builds Produce requests itself, in one
 * thread, with non-blocking sockets and epoll. It exists for the rows where librdkafka is
 * the limit rather than the broker: one librdkafka producer spread over 10,000 partitions
 * sends ~35k msgs/s even to librdkafka's own mock cluster, and 500 librdkafka instances run
 * ~2,000 threads on 2 cores. Here a connection is a socket and a few buffers, and a request
 * is a writev of a small header plus one record batch shared by every partition.
 *
 * Single-broker target only: every request goes to the bootstrap address (no Metadata),
 * which must lead every partition of the topic. Tributary (one node) and
 * librdkafka's one-broker mock cluster do; a multi-broker Kafka cluster does not.
 *
 * What it sends, like the Java producer's sticky partitioner at full speed: full batches of
 * --batch-records records (default 16: Kafka's default batch.size 16384 with 1 KiB values),
 * one batch per partition, as many partitions per request as fit in --request-bytes
 * (max.request.size, default 1 MiB). Each connection takes the next partitions in turn from
 * one cursor over 0..P-1 shared by all connections, so partitions are used round-robin and
 * each request names a partition at most once. Up to --in-flight requests per connection
 * are outstanding (max.in.flight.requests.per.connection, default 5). The records are all
 * alike apart from their offsetDelta, so one encoded batch serves every partition; it is
 * re-encoded about once a second with fresh timestamps (and CRC), into a new buffer so that
 * requests still being written keep consistent bytes.
 *
 * Byte layouts (big-endian; Kafka's Produce v7, request header v1, RecordBatch v2):
 *
 *   Request (header v1 + Produce v7 body):
 *     int32  size                 bytes that follow
 *     int16  api_key = 0          Produce
 *     int16  api_version = 7      the last non-flexible version (Tributary serves 3-11)
 *     int32  correlation_id       this connection's request counter
 *     string client_id            int16 length + bytes ("rawload")
 *     string transactional_id     int16 -1 (null)
 *     int16  acks                 1, -1 or 0
 *     int32  timeout_ms           30000
 *     int32  topic count = 1
 *       string name
 *       int32  partition count = n
 *         int32  index            partition id
 *         int32  records length   bytes of the record batch that follows (nullable bytes)
 *         bytes  record batch     the shared batch below
 *
 *   RecordBatch v2 (61-byte header; CRC-32C covers attributes to the end):
 *     0  int64  baseOffset = 0           the broker assigns offsets
 *     8  int32  batchLength              bytes after this field
 *    12  int32  partitionLeaderEpoch = -1
 *    16  int8   magic = 2
 *    17  uint32 crc                      CRC-32C of bytes 21..end
 *    21  int16  attributes = 0           no compression, CreateTime, not transactional
 *    23  int32  lastOffsetDelta = B-1
 *    27  int64  baseTimestamp            wall clock ms at the last refresh
 *    35  int64  maxTimestamp             the same (every timestampDelta is 0)
 *    43  int64  producerId = -1          not idempotent
 *    51  int16  producerEpoch = -1
 *    53  int32  baseSequence = -1
 *    57  int32  records count = B
 *    61  records
 *
 *   Record (varints are zigzag, as in Kafka):
 *     varint length               bytes of the record after this field
 *     int8   attributes = 0
 *     varint timestampDelta = 0
 *     varint offsetDelta          0..B-1
 *     varint keyLength = -1       null key
 *     varint valueLength = S
 *     bytes  value                S bytes of the shared filler (payload.c)
 *     varint headers count = 0
 *
 *   Set-up, once per connection before the clock starts: ApiVersions v0 (api_key 18, empty
 *   body, correlation id 0), answered by int32 size, int32 correlation_id, int16 error_code,
 *   int32 count, per API: int16 api_key, int16 min_version, int16 max_version. It proves the
 *   broker accepted the connection (see CONNECT_WINDOW) and serves Produce v7.
 *
 *   Response (header v0 + Produce v7 body), read fully and checked:
 *     int32 size, int32 correlation_id,
 *     int32 topic count, per topic: string name, int32 partition count, per partition:
 *       int32 index, int16 error_code, int64 base_offset, int64 log_append_time_ms,
 *       int64 log_start_offset;
 *     int32 throttle_time_ms
 *
 * Output: one JSON line on stdout (tribload's field names where they mean the same),
 * diagnostics on stderr. Exits 1 on a connection failure, a malformed response or the
 * --timeout-s limit; per-partition errors are counted, not fatal. MB = 10^6 bytes of values.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "histogram.h"
#include "payload.h"

#define API_KEY_PRODUCE 0
#define PRODUCE_VERSION 7
#define CLIENT_ID "rawload"
/* The broker-side wait for acks=-1; as the Java producer's request.timeout.ms default. */
#define PRODUCE_TIMEOUT_MS 30000
#define BATCH_HEADER_BYTES 61
#define BATCH_CRC_OFFSET 17
#define BATCH_ATTRIBUTES_OFFSET 21
#define BATCH_BASE_TIMESTAMP_OFFSET 27
#define BATCH_MAX_TIMESTAMP_OFFSET 35
/* Limits that keep one run bounded whatever the arguments. */
#define MAX_CONNECTIONS 10000
#define MAX_IN_FLIGHT 1000
#define MAX_BATCH_RECORDS 100000
#define MAX_TOPIC_BYTES 249 /* Kafka's topic name limit */
/* A Produce v7 response is ~30 bytes per partition: anything near this is not one. */
#define MAX_RESPONSE_BYTES (64u << 20)
#define READ_CHUNK_BYTES 65536
/* Fresh timestamps about once a second: close enough to "now" for time-based retention
 * and timestamp checks, rare enough that re-encoding costs nothing. */
#define TIMESTAMP_REFRESH_NS 1000000000ULL
#define CONNECT_TIMEOUT_NS 30000000000ULL

typedef struct {
  const char *brokers;
  const char *topic;
  int partitions;
  int connections;
  int size;
  int batch_records;
  long request_bytes;
  int in_flight;
  int acks;
  long long count;
  double duration_s;
  double warmup_s;
  double rate;
  double timeout_s;
  const char *payload_kind;
} options_t;

static options_t opt = {
    .brokers = "127.0.0.1:9092",
    .topic = "bench",
    .partitions = 6,
    .connections = 1,
    .size = 1024,
    .batch_records = 16,
    .request_bytes = 1048576,
    .in_flight = 5,
    .acks = 1,
    .timeout_s = 600,
    .payload_kind = "text",
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig) {
  (void)sig;
  stop_requested = 1;
}

static void json_string(const char *s) {
  putchar('"');
  for (const char *p = s; *p; p++) {
    if (*p == '"' || *p == '\\') putchar('\\');
    putchar((unsigned char)*p >= 0x20 ? *p : ' ');
  }
  putchar('"');
}

static void die(const char *fmt, ...) {
  va_list ap;
  char msg[512];
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  fprintf(stderr, "rawload: %s\n", msg);
  /* Still one JSON line, so the orchestrator records why instead of a parse failure. */
  printf("{\"tool\":\"rawload\",\"mode\":\"produce\",\"error\":");
  json_string(msg);
  printf("}\n");
  exit(1);
}

static void usage(void) {
  fprintf(stderr,
          "usage: rawload [options]   (Produce v7 to one broker; see the header of rawload.c)\n"
          "  -b, --brokers HOST:PORT   the broker (default 127.0.0.1:9092); it must lead every partition\n"
          "  -t, --topic NAME          existing topic (default bench)\n"
          "  -p, --partitions P        write partitions 0..P-1, round-robin (default 6)\n"
          "  -c, --connections C       connections, all driven by one thread (default 1)\n"
          "  -s, --size BYTES          record value size (default 1024)\n"
          "      --batch-records B     records per partition batch (default 16)\n"
          "      --request-bytes R     max request size; as many batches as fit (default 1048576)\n"
          "      --in-flight K         outstanding requests per connection (default 5)\n"
          "      --acks 1|-1|all|0     (default 1; 0: no responses, sent = written)\n"
          "  -n, --count N             measured messages (rounded up to whole batches)\n"
          "      --duration-s S        or: send for S seconds after the warm-up\n"
          "      --warmup-s W          send for W seconds first, not counted\n"
          "      --rate M              total msgs/s, paced per connection (default: max)\n"
          "      --payload text|random (default text)\n"
          "      --timeout-s S         hard limit for the whole run (default 600)\n");
  exit(2);
}

static void parse_args(int argc, char **argv) {
  enum { O_BATCH = 1000, O_REQUEST, O_IN_FLIGHT, O_ACKS, O_DURATION, O_WARMUP, O_RATE, O_TIMEOUT, O_PAYLOAD };
  static struct option longopts[] = {
      {"brokers", required_argument, 0, 'b'},       {"topic", required_argument, 0, 't'},
      {"partitions", required_argument, 0, 'p'},    {"connections", required_argument, 0, 'c'},
      {"size", required_argument, 0, 's'},          {"count", required_argument, 0, 'n'},
      {"batch-records", required_argument, 0, O_BATCH}, {"request-bytes", required_argument, 0, O_REQUEST},
      {"in-flight", required_argument, 0, O_IN_FLIGHT}, {"acks", required_argument, 0, O_ACKS},
      {"duration-s", required_argument, 0, O_DURATION}, {"warmup-s", required_argument, 0, O_WARMUP},
      {"rate", required_argument, 0, O_RATE},       {"timeout-s", required_argument, 0, O_TIMEOUT},
      {"payload", required_argument, 0, O_PAYLOAD}, {"help", no_argument, 0, 'h'},
      {0, 0, 0, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "b:t:p:c:s:n:h", longopts, NULL)) != -1) {
    switch (c) {
      case 'b': opt.brokers = optarg; break;
      case 't': opt.topic = optarg; break;
      case 'p': opt.partitions = atoi(optarg); break;
      case 'c': opt.connections = atoi(optarg); break;
      case 's': opt.size = atoi(optarg); break;
      case 'n': opt.count = atoll(optarg); break;
      case O_BATCH: opt.batch_records = atoi(optarg); break;
      case O_REQUEST: opt.request_bytes = atol(optarg); break;
      case O_IN_FLIGHT: opt.in_flight = atoi(optarg); break;
      case O_ACKS:
        if (strcmp(optarg, "all") == 0 || strcmp(optarg, "-1") == 0) opt.acks = -1;
        else if (strcmp(optarg, "1") == 0) opt.acks = 1;
        else if (strcmp(optarg, "0") == 0) opt.acks = 0;
        else die("--acks must be 1, -1 (all) or 0, got %s", optarg);
        break;
      case O_DURATION: opt.duration_s = atof(optarg); break;
      case O_WARMUP: opt.warmup_s = atof(optarg); break;
      case O_RATE: opt.rate = atof(optarg); break;
      case O_TIMEOUT: opt.timeout_s = atof(optarg); break;
      case O_PAYLOAD: opt.payload_kind = optarg; break;
      default: usage();
    }
  }
  if (optind < argc) die("unexpected argument %s (rawload has no modes; see --help)", argv[optind]);
  if (strlen(opt.topic) < 1 || strlen(opt.topic) > MAX_TOPIC_BYTES) die("--topic must be 1..%d bytes", MAX_TOPIC_BYTES);
  if (opt.partitions < 1) die("--partitions %d must be at least 1", opt.partitions);
  if (opt.connections < 1 || opt.connections > MAX_CONNECTIONS) die("--connections %d out of range 1..%d", opt.connections, MAX_CONNECTIONS);
  if (opt.size < 0 || opt.size > (int)(PAYLOAD_BUF_BYTES / 2)) die("--size %d out of range 0..%u", opt.size, PAYLOAD_BUF_BYTES / 2);
  if (opt.batch_records < 1 || opt.batch_records > MAX_BATCH_RECORDS) die("--batch-records %d out of range 1..%d", opt.batch_records, MAX_BATCH_RECORDS);
  if (opt.in_flight < 1 || opt.in_flight > MAX_IN_FLIGHT) die("--in-flight %d out of range 1..%d", opt.in_flight, MAX_IN_FLIGHT);
  if (opt.request_bytes < 1) die("--request-bytes must be positive");
  if ((opt.count > 0) == (opt.duration_s > 0)) die("give exactly one of --count and --duration-s");
  if (opt.rate < 0 || opt.warmup_s < 0) die("--rate and --warmup-s must not be negative");
  if (opt.timeout_s <= 0) die("--timeout-s must be positive");
}

/* ---------------------------------------------------------------- CRC-32C */

/* Castagnoli, reflected polynomial; the table path is the fallback and the cross-check. */
static uint32_t crc_table[256];

static void crc_table_init(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    crc_table[i] = c;
  }
}

static uint32_t crc32c_table(const uint8_t *p, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  while (n--) c = crc_table[(c ^ *p++) & 0xFF] ^ (c >> 8);
  return ~c;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t crc32c_sse42(const uint8_t *p, size_t n) {
  uint64_t c = 0xFFFFFFFFu;
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t v;
    memcpy(&v, p, 8);
    c = __builtin_ia32_crc32di(c, v);
  }
  uint32_t c32 = (uint32_t)c;
  while (n--) c32 = __builtin_ia32_crc32qi(c32, *p++);
  return ~c32;
}
#endif

static uint32_t (*crc32c)(const uint8_t *, size_t) = crc32c_table;
static const char *crc32c_impl = "table";

static void crc32c_init(void) {
  crc_table_init();
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("sse4.2")) crc32c = crc32c_sse42, crc32c_impl = "sse4.2";
#endif
  /* The check value of CRC-32C (RFC 3720, B.4), and both paths agreeing on odd lengths. */
  static const uint8_t check[] = "123456789";
  if (crc32c_table(check, 9) != 0xE3069283u || crc32c(check, 9) != 0xE3069283u)
    die("CRC-32C self-check failed (%s): got %08x, expected e3069283", crc32c_impl, crc32c(check, 9));
  const uint8_t *filler = (const uint8_t *)payload_for(0, 1031);
  if (crc32c(filler, 1031) != crc32c_table(filler, 1031)) die("CRC-32C %s and table paths disagree", crc32c_impl);
}

/* ---------------------------------------------------------------- encoding */

static uint8_t *put16(uint8_t *p, int16_t v) {
  p[0] = (uint8_t)((uint16_t)v >> 8), p[1] = (uint8_t)v;
  return p + 2;
}
static uint8_t *put32(uint8_t *p, int32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)((uint32_t)v >> (24 - 8 * i));
  return p + 4;
}
static uint8_t *put64(uint8_t *p, int64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)((uint64_t)v >> (56 - 8 * i));
  return p + 8;
}
static uint8_t *put_varint(uint8_t *p, int32_t v) {
  uint32_t z = ((uint32_t)v << 1) ^ (uint32_t)(v >> 31);
  while (z >= 0x80) *p++ = (uint8_t)(z | 0x80), z >>= 7;
  *p++ = (uint8_t)z;
  return p;
}
static size_t varint_bytes(int32_t v) {
  uint8_t tmp[5];
  return (size_t)(put_varint(tmp, v) - tmp);
}

static uint64_t wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* One encoded record batch, shared by every partition and request until it is replaced;
 * freed once replaced and no request is still writing it. */
typedef struct {
  uint8_t *bytes;
  size_t len;
  int writers;
  int retired;
} batch_t;

static batch_t *current_batch;

static size_t batch_bytes_for(int records, int size) {
  size_t n = BATCH_HEADER_BYTES;
  for (int i = 0; i < records; i++) {
    size_t body = 1 + 1 + varint_bytes(i) + 1 + varint_bytes(size) + (size_t)size + 1;
    n += varint_bytes((int32_t)body) + body;
  }
  return n;
}

static void batch_stamp(batch_t *b) {
  int64_t ts = (int64_t)wall_ms();
  put64(b->bytes + BATCH_BASE_TIMESTAMP_OFFSET, ts);
  put64(b->bytes + BATCH_MAX_TIMESTAMP_OFFSET, ts);
  put32(b->bytes + BATCH_CRC_OFFSET, (int32_t)crc32c(b->bytes + BATCH_ATTRIBUTES_OFFSET, b->len - BATCH_ATTRIBUTES_OFFSET));
}

static batch_t *batch_encode(void) {
  batch_t *b = calloc(1, sizeof *b);
  b->len = batch_bytes_for(opt.batch_records, opt.size);
  b->bytes = malloc(b->len);
  if (!b->bytes) die("no memory for a %zu-byte batch", b->len);
  uint8_t *p = b->bytes;
  p = put64(p, 0);
  p = put32(p, (int32_t)(b->len - 12));
  p = put32(p, -1);
  *p++ = 2;
  p = put32(p, 0); /* CRC, set by batch_stamp */
  p = put16(p, 0);
  p = put32(p, opt.batch_records - 1);
  p = put64(p, 0); /* timestamps, set by batch_stamp */
  p = put64(p, 0);
  p = put64(p, -1);
  p = put16(p, -1);
  p = put32(p, -1);
  p = put32(p, opt.batch_records);
  for (int i = 0; i < opt.batch_records; i++) {
    int32_t body = (int32_t)(1 + 1 + varint_bytes(i) + 1 + varint_bytes(opt.size) + (size_t)opt.size + 1);
    p = put_varint(p, body);
    *p++ = 0;
    p = put_varint(p, 0);
    p = put_varint(p, i);
    p = put_varint(p, -1);
    p = put_varint(p, opt.size);
    memcpy(p, payload_for(i, (size_t)opt.size), (size_t)opt.size);
    p += opt.size;
    p = put_varint(p, 0);
  }
  if ((size_t)(p - b->bytes) != b->len) die("internal: encoded %zu batch bytes, sized %zu", (size_t)(p - b->bytes), b->len);
  batch_stamp(b);
  return b;
}

static void batch_release(batch_t *b) {
  if (--b->writers == 0 && b->retired) {
    free(b->bytes);
    free(b);
  }
}

/* A copy with fresh timestamps; the old bytes stay valid for requests still writing them. */
static void batch_refresh(void) {
  batch_t *old = current_batch;
  batch_t *b = calloc(1, sizeof *b);
  b->len = old->len;
  b->bytes = malloc(b->len);
  if (!b->bytes) die("no memory for a %zu-byte batch", b->len);
  memcpy(b->bytes, old->bytes, b->len);
  batch_stamp(b);
  current_batch = b;
  old->retired = 1;
  old->writers++;
  batch_release(old);
}

/* ---------------------------------------------------------------- connections */

/* Bounds-checked big-endian reads: a short or malformed response clears `ok`. */
typedef struct {
  const uint8_t *p, *end;
  int ok;
} reader_t;

static int64_t get(reader_t *r, int bytes) {
  if (!r->ok || r->end - r->p < bytes) {
    r->ok = 0;
    return 0;
  }
  uint64_t v = 0;
  for (int i = 0; i < bytes; i++) v = v << 8 | r->p[i];
  r->p += bytes;
  if (bytes == 2) return (int16_t)v;
  if (bytes == 4) return (int32_t)v;
  return (int64_t)v;
}


typedef struct {
  int32_t correlation_id;
  int first_partition;
  int partitions;
  int warm;
  uint64_t sent_ns;
  batch_t *batch;      /* NULL once every byte is written */
  uint8_t *head;       /* request header and body up to the first partition */
  uint8_t *prefixes;   /* 8 bytes per partition: index, records length */
  struct iovec *iov;
  int iov_n;
  int iov_at;          /* first iovec not completely written */
} request_t;

typedef struct {
  int fd;
  int index;
  request_t *ring;     /* --in-flight slots */
  /* Request sequence numbers, slot = number % in_flight: [head, unsent) are written and
   * await a response, [unsent, tail) are still being written. */
  long long head, unsent, tail;
  int32_t next_correlation_id;
  uint8_t *rbuf;
  size_t rcap, rlen;
  int want_out;
  int setup;           /* SETUP_*: connecting, then ApiVersions, then ready */
  int attempts;
  long long msgs_issued;
  long long measured_requests; /* answered, outside the warm-up: spread shows fairness */
} conn_t;

static struct {
  int ep;
  conn_t *conns;
  uint8_t head_template[64 + MAX_TOPIC_BYTES];
  size_t head_len;
  int parts_per_request;
  int partition_cursor;
  long long measured_issued; /* messages in measured requests issued so far */
  int issuing_stopped;
  long long outstanding;     /* requests issued and not yet complete */
  uint64_t t0, warmup_end, stop_at, deadline, measure_end, issue_end;
  /* Results. */
  hist_t ack;
  long long requests, warm_requests, sent, acked, acked_measured, errors, failed_msgs;
  int first_error_code;
  char first_error[160];
  long long *part_acked;     /* per partition: records acknowledged */
  int64_t *part_end;         /* per partition: highest base_offset + records acknowledged */
} run;

static const char *error_name(int code) {
  switch (code) {
    case -1: return "UNKNOWN_SERVER_ERROR";
    case 1: return "OFFSET_OUT_OF_RANGE";
    case 2: return "CORRUPT_MESSAGE";
    case 3: return "UNKNOWN_TOPIC_OR_PARTITION";
    case 5: return "LEADER_NOT_AVAILABLE";
    case 6: return "NOT_LEADER_OR_FOLLOWER";
    case 7: return "REQUEST_TIMED_OUT";
    case 10: return "MESSAGE_TOO_LARGE";
    case 17: return "INVALID_TOPIC_EXCEPTION";
    case 18: return "RECORD_LIST_TOO_LARGE";
    case 19: return "NOT_ENOUGH_REPLICAS";
    case 20: return "NOT_ENOUGH_REPLICAS_AFTER_APPEND";
    case 21: return "INVALID_REQUIRED_ACKS";
    case 32: return "INVALID_TIMESTAMP";
    case 35: return "UNSUPPORTED_VERSION";
    case 42: return "INVALID_REQUEST";
    case 56: return "KAFKA_STORAGE_ERROR";
    case 87: return "INVALID_RECORD";
    default: return "?";
  }
}

static void note_error(int code, const char *what) {
  if (run.errors++ == 0) {
    run.first_error_code = code;
    snprintf(run.first_error, sizeof run.first_error, "%s (%d)%s%s", error_name(code), code, what ? ": " : "", what ? what : "");
  }
}

static void parse_host_port(const char *s, char *host, size_t host_cap, char *port, size_t port_cap) {
  const char *colon = strrchr(s, ':');
  if (!colon || colon == s || !colon[1]) die("--brokers %s: expected HOST:PORT", s);
  size_t hl = (size_t)(colon - s);
  if (s[0] == '[' && hl >= 2 && s[hl - 1] == ']') s++, hl -= 2; /* [::1]:9092 */
  if (strchr(s, ',') != NULL) die("--brokers %s: rawload talks to one broker only", s);
  if (hl >= host_cap || strlen(colon + 1) >= port_cap) die("--brokers %s: too long", s);
  memcpy(host, s, hl);
  host[hl] = 0;
  snprintf(port, port_cap, "%s", colon + 1);
}

static void set_events(conn_t *c, int want_out) {
  if (c->want_out == want_out) return;
  struct epoll_event ev = {.events = EPOLLIN | (want_out ? EPOLLOUT : 0), .data.ptr = c};
  if (epoll_ctl(run.ep, EPOLL_CTL_MOD, c->fd, &ev) != 0) die("epoll_ctl: %s", strerror(errno));
  c->want_out = want_out;
}

/* At most this many connections are set up at once. librdkafka's mock cluster listens
 * with a backlog of 5: 500 simultaneous connects overflow it, and the kernel resets some
 * of those connections once data flows. A connection counts as set up only when it has
 * answered an ApiVersions request, which proves the broker accepted and serves it (and
 * checks that it serves Produce v7). 500 connections take well under a second this way. */
#define CONNECT_WINDOW 4
#define CONNECT_ATTEMPTS 3
#define API_KEY_API_VERSIONS 18

enum { SETUP_IDLE, SETUP_CONNECTING, SETUP_HANDSHAKE, SETUP_READY };

static void open_socket(conn_t *c, const struct addrinfo *ai) {
  c->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0) die("socket (connection %d): %s", c->index, strerror(errno));
  int one = 1;
  /* As Kafka's clients: without it small requests and responses wait for delayed ACKs. */
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS)
    die("connecting to %s (connection %d): %s", opt.brokers, c->index, strerror(errno));
  struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
  if (epoll_ctl(run.ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) die("epoll_ctl: %s", strerror(errno));
  c->want_out = 1;
  c->setup = SETUP_CONNECTING;
  c->attempts++;
  c->rlen = 0;
}

/* A set-up step failed: try again on a new socket, a few times. */
static void setup_failed(conn_t *c, const struct addrinfo *ai, const char *why) {
  if (c->attempts >= CONNECT_ATTEMPTS) die("connecting to %s (connection %d, %d attempts): %s", opt.brokers, c->index, c->attempts, why);
  fprintf(stderr, "rawload: connection %d to %s: %s; reconnecting\n", c->index, opt.brokers, why);
  close(c->fd);
  open_socket(c, ai);
}

/* Header v1, ApiVersions v0 (empty body), correlation id 0. */
static int send_api_versions(conn_t *c) {
  uint8_t req[32], *p = req + 4;
  p = put16(p, API_KEY_API_VERSIONS);
  p = put16(p, 0);
  p = put32(p, 0);
  p = put16(p, (int16_t)strlen(CLIENT_ID));
  memcpy(p, CLIENT_ID, strlen(CLIENT_ID)), p += strlen(CLIENT_ID);
  put32(req, (int32_t)(p - req - 4));
  return send(c->fd, req, (size_t)(p - req), MSG_NOSIGNAL) == p - req;
}

/* ApiVersions v0 response: int32 size, int32 correlation_id, int16 error_code,
 * int32 count, per API: int16 api_key, int16 min_version, int16 max_version.
 * Returns 1 when done (ready), 0 when more bytes are needed, -1 on a broken connection. */
static int read_api_versions(conn_t *c) {
  for (;;) {
    if (c->rlen == c->rcap) die("connection %d: ApiVersions response larger than %zu bytes", c->index, c->rcap);
    ssize_t n = read(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen);
    if (n == 0) return -1;
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
      if (errno == EINTR) continue;
      return -1;
    }
    c->rlen += (size_t)n;
    reader_t r = {c->rbuf, c->rbuf + c->rlen, 1};
    int32_t size = (int32_t)get(&r, 4);
    if (!r.ok || c->rlen - 4 < (size_t)size) continue;
    int32_t corr = (int32_t)get(&r, 4);
    int16_t code = (int16_t)get(&r, 2);
    int32_t apis = (int32_t)get(&r, 4);
    int produce_min = -1, produce_max = -1;
    for (int32_t i = 0; r.ok && i < apis; i++) {
      int16_t key = (int16_t)get(&r, 2), lo = (int16_t)get(&r, 2), hi = (int16_t)get(&r, 2);
      if (key == API_KEY_PRODUCE) produce_min = lo, produce_max = hi;
    }
    if (!r.ok || corr != 0) die("connection %d: malformed ApiVersions v0 response (%d bytes)", c->index, size);
    if (code != 0) die("connection %d: ApiVersions failed with %s (%d)", c->index, error_name(code), code);
    if (produce_min > PRODUCE_VERSION || produce_max < PRODUCE_VERSION)
      die("%s serves Produce versions %d..%d; rawload sends v%d", opt.brokers, produce_min, produce_max, PRODUCE_VERSION);
    c->rlen = 0;
    return 1;
  }
}

/* Opens every connection and waits until all are set up: connection set-up is not what
 * the throughput figures are about. */
static void connect_all(void) {
  char host[256], port[32];
  parse_host_port(opt.brokers, host, sizeof host, port, sizeof port);
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai;
  int rc = getaddrinfo(host, port, &hints, &ai);
  if (rc != 0) die("resolving %s: %s", opt.brokers, gai_strerror(rc));
  run.ep = epoll_create1(EPOLL_CLOEXEC);
  if (run.ep < 0) die("epoll_create1: %s", strerror(errno));
  run.conns = calloc((size_t)opt.connections, sizeof *run.conns);
  int n_iov = 1 + 2 * run.parts_per_request;
  for (int i = 0; i < opt.connections; i++) {
    conn_t *c = &run.conns[i];
    c->index = i;
    c->fd = -1;
    c->next_correlation_id = 1; /* 0 was the ApiVersions request */
    c->ring = calloc((size_t)opt.in_flight, sizeof *c->ring);
    for (int k = 0; k < opt.in_flight; k++) {
      request_t *r = &c->ring[k];
      r->head = malloc(sizeof run.head_template);
      r->prefixes = malloc((size_t)run.parts_per_request * 8);
      r->iov = malloc((size_t)n_iov * sizeof *r->iov);
      if (!r->head || !r->prefixes || !r->iov) die("no memory for connection %d", i);
    }
    c->rcap = READ_CHUNK_BYTES;
    c->rbuf = malloc(c->rcap);
    if (!c->ring || !c->rbuf) die("no memory for connection %d", i);
  }
  int next = 0, in_setup = 0, ready = 0;
  uint64_t deadline = now_ns() + CONNECT_TIMEOUT_NS;
  struct epoll_event evs[CONNECT_WINDOW];
  while (ready < opt.connections) {
    while (in_setup < CONNECT_WINDOW && next < opt.connections) open_socket(&run.conns[next++], ai), in_setup++;
    if (stop_requested) die("interrupted while connecting");
    if (now_ns() > deadline) die("%d of %d connections to %s not set up within %llu s", opt.connections - ready, opt.connections, opt.brokers, CONNECT_TIMEOUT_NS / 1000000000ULL);
    int n = epoll_wait(run.ep, evs, CONNECT_WINDOW, 100);
    if (n < 0 && errno != EINTR) die("epoll_wait: %s", strerror(errno));
    for (int i = 0; i < n; i++) {
      conn_t *c = evs[i].data.ptr;
      if (c->setup == SETUP_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) setup_failed(c, ai, strerror(err));
        else if (!send_api_versions(c)) setup_failed(c, ai, "could not send ApiVersions");
        else c->setup = SETUP_HANDSHAKE, set_events(c, 0);
      } else if (c->setup == SETUP_HANDSHAKE) {
        int done = read_api_versions(c);
        if (done < 0) setup_failed(c, ai, "closed before answering ApiVersions");
        else if (done > 0) c->setup = SETUP_READY, in_setup--, ready++;
      }
    }
  }
  freeaddrinfo(ai);
}

/* The request header and body up to the partitions; size, correlation id and partition
 * count are filled in per request. */
static void build_head_template(void) {
  uint8_t *p = run.head_template;
  p = put32(p, 0);                 /* size */
  p = put16(p, API_KEY_PRODUCE);
  p = put16(p, PRODUCE_VERSION);
  p = put32(p, 0);                 /* correlation id */
  p = put16(p, (int16_t)strlen(CLIENT_ID));
  memcpy(p, CLIENT_ID, strlen(CLIENT_ID)), p += strlen(CLIENT_ID);
  p = put16(p, -1);                /* transactional id: null */
  p = put16(p, (int16_t)opt.acks);
  p = put32(p, PRODUCE_TIMEOUT_MS);
  p = put32(p, 1);                 /* one topic */
  p = put16(p, (int16_t)strlen(opt.topic));
  memcpy(p, opt.topic, strlen(opt.topic)), p += strlen(opt.topic);
  p = put32(p, 0);                 /* partition count */
  run.head_len = (size_t)(p - run.head_template);
}

static int may_issue(conn_t *c, uint64_t now) {
  if (run.issuing_stopped) return 0;
  if (c->tail - c->head >= opt.in_flight) return 0;
  if (opt.rate > 0) {
    /* Paced per connection: its share of --rate since the start. A request goes once
     * its last message is due, so the schedule is never ahead of --rate. */
    double allowed = opt.rate / opt.connections * (double)(now - run.t0) / 1e9;
    if ((double)(c->msgs_issued + (long long)run.parts_per_request * opt.batch_records) > allowed) return 0;
  }
  return 1;
}

static void stop_issuing(uint64_t now) {
  if (run.issuing_stopped) return;
  run.issuing_stopped = 1;
  run.issue_end = now;
}

/* Fills the next ring slot with a request over the next partitions of the shared cursor. */
static void issue(conn_t *c, uint64_t now) {
  int warm = now < run.warmup_end;
  int n = run.parts_per_request;
  if (opt.count > 0 && !warm) {
    long long left_batches = (opt.count - run.measured_issued + opt.batch_records - 1) / opt.batch_records;
    if (left_batches < n) n = (int)left_batches;
  }
  request_t *r = &c->ring[c->tail % opt.in_flight];
  r->correlation_id = c->next_correlation_id++;
  r->first_partition = run.partition_cursor;
  r->partitions = n;
  r->warm = warm;
  r->batch = current_batch;
  current_batch->writers++;
  run.partition_cursor = (run.partition_cursor + n) % opt.partitions;
  memcpy(r->head, run.head_template, run.head_len);
  size_t total = run.head_len + (size_t)n * (8 + r->batch->len);
  put32(r->head, (int32_t)(total - 4));
  put32(r->head + 8, r->correlation_id);
  put32(r->head + run.head_len - 4, n);
  r->iov[0] = (struct iovec){r->head, run.head_len};
  for (int i = 0; i < n; i++) {
    uint8_t *pre = r->prefixes + 8 * i;
    put32(pre, (r->first_partition + i) % opt.partitions);
    put32(pre + 4, (int32_t)r->batch->len);
    r->iov[1 + 2 * i] = (struct iovec){pre, 8};
    r->iov[2 + 2 * i] = (struct iovec){r->batch->bytes, r->batch->len};
  }
  r->iov_n = 1 + 2 * n;
  r->iov_at = 0;
  r->sent_ns = now_ns();
  c->tail++;
  c->msgs_issued += (long long)n * opt.batch_records;
  run.outstanding++;
  run.sent += (long long)n * opt.batch_records;
  if (!warm) {
    run.measured_issued += (long long)n * opt.batch_records;
    if (opt.count > 0 && run.measured_issued >= opt.count) stop_issuing(now);
  }
}

/* Counts a finished request: `msgs` of its messages acknowledged; its ack latency is
 * recorded when it had a response (not with acks=0). */
static void count_completed(conn_t *c, const request_t *r, long long msgs, uint64_t now, int answered) {
  run.outstanding--;
  run.acked += msgs;
  if (r->warm) {
    run.warm_requests++;
  } else {
    run.requests++;
    c->measured_requests++;
    run.acked_measured += msgs;
    run.measure_end = now;
    if (answered) hist_record(&run.ack, now - r->sent_ns);
  }
}

/* acks=0: a written request is complete; the broker sends nothing back. */
static void complete_unacknowledged(conn_t *c, request_t *r, uint64_t now) {
  count_completed(c, r, (long long)r->partitions * opt.batch_records, now, 0);
}

/* Writes what the socket takes; returns with EPOLLOUT armed if it took less. */
static void flush(conn_t *c) {
  while (c->unsent < c->tail) {
    request_t *r = &c->ring[c->unsent % opt.in_flight];
    int n = r->iov_n - r->iov_at;
    if (n > IOV_MAX) n = IOV_MAX;
    struct msghdr mh = {.msg_iov = r->iov + r->iov_at, .msg_iovlen = (size_t)n};
    ssize_t w = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == EINTR) continue;
      die("writing to %s (connection %d): %s", opt.brokers, c->index, strerror(errno));
    }
    while (w > 0) {
      struct iovec *v = &r->iov[r->iov_at];
      if ((size_t)w >= v->iov_len) {
        w -= (ssize_t)v->iov_len;
        r->iov_at++;
      } else {
        v->iov_base = (uint8_t *)v->iov_base + w;
        v->iov_len -= (size_t)w;
        w = 0;
      }
    }
    if (r->iov_at < r->iov_n) continue; /* partly written: try again, EAGAIN ends it */
    batch_release(r->batch);
    r->batch = NULL;
    c->unsent++;
    if (opt.acks == 0) {
      complete_unacknowledged(c, r, now_ns());
      c->head++;
    }
  }
  set_events(c, c->unsent < c->tail);
}

/* Issues what the in-flight window and the pacing allow, then writes. */
static void pump(conn_t *c) {
  uint64_t now = now_ns();
  if (!run.issuing_stopped && (now >= run.stop_at || stop_requested)) stop_issuing(now);
  while (may_issue(c, now)) issue(c, now);
  flush(c);
}

/* ---------------------------------------------------------------- responses */

static void handle_response(conn_t *c, const uint8_t *frame, size_t len) {
  if (c->head >= c->unsent) die("connection %d: a response arrived with no request outstanding", c->index);
  request_t *req = &c->ring[c->head % opt.in_flight];
  reader_t r = {frame, frame + len, 1};
  int32_t corr = (int32_t)get(&r, 4);
  if (r.ok && corr != req->correlation_id)
    die("connection %d: response correlation id %d, expected %d (responses come in request order)", c->index, corr, req->correlation_id);
  uint64_t now = now_ns();
  int32_t topics = (int32_t)get(&r, 4);
  int seen = 0, ok_parts = 0;
  for (int32_t t = 0; r.ok && t < topics; t++) {
    int16_t name_len = (int16_t)get(&r, 2);
    if (!r.ok || name_len < 0 || r.end - r.p < name_len) {
      r.ok = 0;
      break;
    }
    int same_topic = (size_t)name_len == strlen(opt.topic) && memcmp(r.p, opt.topic, (size_t)name_len) == 0;
    r.p += name_len;
    int32_t parts = (int32_t)get(&r, 4);
    for (int32_t i = 0; r.ok && i < parts; i++) {
      int32_t index = (int32_t)get(&r, 4);
      int16_t code = (int16_t)get(&r, 2);
      int64_t base_offset = get(&r, 8);
      get(&r, 8); /* log_append_time_ms */
      get(&r, 8); /* log_start_offset */
      if (!r.ok) break;
      /* The partition must be one this request carried. */
      int in_range = index >= 0 && index < opt.partitions;
      int32_t rel = in_range ? (index - req->first_partition + opt.partitions) % opt.partitions : 0;
      if (!same_topic || !in_range || rel >= req->partitions) {
        char what[96];
        snprintf(what, sizeof what, "response names partition %d, not in the request", index);
        note_error(-1, what);
        continue;
      }
      seen++;
      if (code != 0) {
        note_error(code, NULL);
        continue;
      }
      ok_parts++;
      run.part_acked[index] += opt.batch_records;
      if (base_offset + opt.batch_records > run.part_end[index]) run.part_end[index] = base_offset + opt.batch_records;
    }
  }
  get(&r, 4); /* throttle_time_ms */
  if (!r.ok) die("connection %d: malformed Produce v7 response (%zu bytes, correlation id %d)", c->index, len, corr);
  if (r.p != r.end) die("connection %d: %zu unexpected bytes after a Produce v7 response", c->index, (size_t)(r.end - r.p));
  if (seen != req->partitions) {
    char what[96];
    snprintf(what, sizeof what, "response answered %d times for %d partitions", seen, req->partitions);
    note_error(-1, what);
  }
  /* A partition answered twice must not count twice. */
  if (ok_parts > req->partitions) ok_parts = req->partitions;
  long long ok_msgs = (long long)ok_parts * opt.batch_records;
  run.failed_msgs += (long long)(req->partitions - ok_parts) * opt.batch_records;
  count_completed(c, req, ok_msgs, now, 1);
  c->head++;
}

/* Reads what is there and handles every complete response frame. */
static void read_responses(conn_t *c) {
  for (;;) {
    if (c->rcap - c->rlen < READ_CHUNK_BYTES / 4) {
      size_t cap = c->rcap * 2;
      if (cap > MAX_RESPONSE_BYTES + 4) die("connection %d: response larger than %u bytes", c->index, MAX_RESPONSE_BYTES);
      c->rbuf = realloc(c->rbuf, cap);
      if (!c->rbuf) die("no memory for responses");
      c->rcap = cap;
    }
    ssize_t n = read(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen);
    if (n == 0)
      die("connection %d closed by %s (%lld requests outstanding on it; acked %lld msgs so far)", c->index, opt.brokers, c->tail - c->head, run.acked);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == EINTR) continue;
      die("reading from %s (connection %d): %s", opt.brokers, c->index, strerror(errno));
    }
    c->rlen += (size_t)n;
    size_t at = 0;
    while (c->rlen - at >= 4) {
      reader_t r = {c->rbuf + at, c->rbuf + c->rlen, 1};
      int32_t size = (int32_t)get(&r, 4);
      if (size < 4 || (uint32_t)size > MAX_RESPONSE_BYTES) die("connection %d: response size %d out of range", c->index, size);
      if (c->rlen - at - 4 < (size_t)size) break;
      if (opt.acks == 0) die("connection %d: a response arrived to acks=0 requests", c->index);
      handle_response(c, c->rbuf + at + 4, (size_t)size);
      at += 4 + (size_t)size;
    }
    memmove(c->rbuf, c->rbuf + at, c->rlen - at);
    c->rlen -= at;
  }
}

/* ---------------------------------------------------------------- main */

static int cmp_ll(const void *a, const void *b) {
  long long x = *(const long long *)a, y = *(const long long *)b;
  return (x > y) - (x < y);
}

static void print_result(double cpu0, int timed_out) {
  uint64_t end = now_ns();
  uint64_t start = run.warmup_end;
  uint64_t measured_end = run.measure_end > start ? run.measure_end : start;
  double seconds = (double)(measured_end - start) / 1e9;
  double s = seconds > 0 ? seconds : 1e-9;
  double wall = (double)(end - run.t0) / 1e9;
  double cpu = cpu_seconds() - cpu0;
  double send_seconds = run.issue_end > start ? (double)(run.issue_end - start) / 1e9 : 0;
  /* On a fresh topic every partition's acknowledged batches tile 0..end without gaps. */
  long long mismatched = 0;
  for (int p = 0; p < opt.partitions; p++)
    if (run.part_acked[p] != run.part_end[p]) mismatched++;
  /* Requests answered per connection in the measured window: a wide spread means the
   * broker served some connections far more often than others. */
  long long *per_conn = malloc((size_t)opt.connections * sizeof *per_conn);
  for (int i = 0; i < opt.connections; i++) per_conn[i] = run.conns[i].measured_requests;
  qsort(per_conn, (size_t)opt.connections, sizeof *per_conn, cmp_ll);
  const char *acks = opt.acks == -1 ? "all" : opt.acks == 0 ? "0" : "1";
  printf("{\"tool\":\"rawload\",\"mode\":\"produce\",\"topic\":");
  json_string(opt.topic);
  printf(",\"partitions\":%d,\"connections\":%d,\"size\":%d,\"batch_records\":%d,\"batch_bytes\":%zu,"
         "\"request_bytes\":%ld,\"partitions_per_request\":%d,\"in_flight\":%d,\"acks\":\"%s\","
         "\"rate_target\":%.0f,\"crc32c\":\"%s\",\"requests\":%lld,\"warmup_requests\":%lld,"
         "\"sent\":%lld,\"acked\":%lld,\"msgs\":%lld,\"errors\":%lld,\"failed_msgs\":%lld,\"first_error\":",
         opt.partitions, opt.connections, opt.size, opt.batch_records, current_batch->len, opt.request_bytes,
         run.parts_per_request, opt.in_flight, acks, opt.rate, crc32c_impl, run.requests, run.warm_requests,
         run.sent, run.acked, run.acked_measured, run.errors, run.failed_msgs);
  json_string(run.first_error);
  printf(",\"complete\":%s,\"offset_mismatch_partitions\":%lld,\"send_seconds\":%.3f,\"seconds\":%.3f,"
         "\"msgs_per_s\":%.1f,\"mb_per_s\":%.2f,\"ack_latency_us\":",
         !timed_out && run.outstanding == 0 ? "true" : "false", mismatched, send_seconds, seconds,
         (double)run.acked_measured / s, (double)run.acked_measured * opt.size / s / 1e6);
  hist_print_json_us(stdout, &run.ack);
  printf(",\"requests_per_connection\":{\"min\":%lld,\"p50\":%lld,\"max\":%lld}", per_conn[0],
         per_conn[opt.connections / 2], per_conn[opt.connections - 1]);
  free(per_conn);
  printf(",\"client_cpu_s\":%.3f,\"client_cpu_pct\":%.1f", cpu, wall > 0 ? cpu / wall * 100 : 0);
  if (timed_out) {
    char msg[160];
    snprintf(msg, sizeof msg, "timed out after %.0f s with %lld requests outstanding", opt.timeout_s, run.outstanding);
    fprintf(stderr, "rawload: %s\n", msg);
    printf(",\"error\":");
    json_string(msg);
  }
  printf("}\n");
  fflush(stdout);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  parse_args(argc, argv);
  if (payload_init(opt.payload_kind) != 0) die("--payload must be text or random, got %s", opt.payload_kind);
  crc32c_init();
  hist_init(&run.ack);
  current_batch = batch_encode();
  build_head_template();
  long per_partition = 8 + (long)current_batch->len;
  long fit = (opt.request_bytes - (long)run.head_len) / per_partition;
  if (fit < 1) die("one %zu-byte batch does not fit in --request-bytes %ld", current_batch->len, opt.request_bytes);
  run.parts_per_request = (int)(fit < opt.partitions ? fit : opt.partitions);
  run.part_acked = calloc((size_t)opt.partitions, sizeof *run.part_acked);
  run.part_end = calloc((size_t)opt.partitions, sizeof *run.part_end);
  if (!run.part_acked || !run.part_end) die("no memory for %d partitions", opt.partitions);

  connect_all();
  double cpu0 = cpu_seconds();
  run.t0 = now_ns();
  run.warmup_end = run.t0 + (uint64_t)(opt.warmup_s * 1e9);
  run.stop_at = opt.duration_s > 0 ? run.warmup_end + (uint64_t)(opt.duration_s * 1e9) : UINT64_MAX;
  run.deadline = run.t0 + (uint64_t)(opt.timeout_s * 1e9);
  uint64_t stamped = run.t0;
  for (int i = 0; i < opt.connections; i++) pump(&run.conns[i]);

  struct epoll_event evs[1024];
  int timed_out = 0;
  for (;;) {
    uint64_t now = now_ns();
    if (now >= run.deadline) {
      timed_out = 1;
      break;
    }
    if (now - stamped >= TIMESTAMP_REFRESH_NS) {
      batch_refresh();
      stamped = now;
    }
    if (!run.issuing_stopped && (now >= run.stop_at || stop_requested)) stop_issuing(now);
    if (run.issuing_stopped && run.outstanding == 0) break;
    /* Paced runs wake every millisecond to release what the schedule allows. */
    int n = epoll_wait(run.ep, evs, 1024, opt.rate > 0 ? 1 : 100);
    if (n < 0 && errno != EINTR) die("epoll_wait: %s", strerror(errno));
    for (int i = 0; i < n; i++) {
      conn_t *c = evs[i].data.ptr;
      if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) read_responses(c);
      pump(c);
    }
    if (opt.rate > 0 || n == 0)
      for (int i = 0; i < opt.connections; i++) pump(&run.conns[i]);
  }
  print_result(cpu0, timed_out);
  return timed_out ? 1 : 0;
}
