/*
 * tribload: a Kafka load generator in C on librdkafka, built to not be the bottleneck when
 * measuring a broker on the same 2-core machine. Payloads are never copied in `produce`
 * mode (they are slices of one shared buffer), delivery reports and sends run on one
 * application thread, and every result goes out as one JSON line on stdout (diagnostics on
 * stderr), so bench/macro/run.mjs can parse it.
 *
 * Modes:
 *   create      CreateTopics with --partitions (already existing is fine).
 *   delete      DeleteTopics (already gone is fine).
 *   produce     --count messages of --size bytes, at max rate or --rate msgs/s, over
 *               --producers instances (each with its own connections). Reports msgs/s, MB/s
 *               and produce-ack latency percentiles from delivery reports.
 *   consume     Reads --count messages from the start of every partition, as fast as possible.
 *   e2e         Producer at a fixed --rate plus a consumer in this process; each payload
 *               carries its send time (CLOCK_MONOTONIC), giving produce-to-consume latency
 *               next to the produce-ack latency.
 *   mock-serve  Runs librdkafka's in-process mock cluster and prints "listening on HOST:PORT";
 *               stdin lines "create TOPIC PARTITIONS" create topics. Only for testing the
 *               harness itself when no broker is at hand.
 *
 * e2e payload layout (host byte order; the consumer runs on the same host):
 *   offset 0  u64  send time, CLOCK_MONOTONIC nanoseconds
 *   offset 8  u64  sequence number
 *   offset 16 u8   1 while warming up (latency not recorded), else 0
 *   offset 17 ...  filler text up to --size
 *
 * MB means 10^6 bytes of message values (keys and protocol overhead not counted).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "histogram.h"
#include "payload.h"

#define E2E_HEADER_BYTES 17
/* Limits that keep one run bounded whatever the arguments. */
#define MAX_PRODUCERS 2000
#define MAX_EXTRA_PROPS 64
#define CONSUME_BATCH 1000

typedef struct {
  const char *mode;
  const char *brokers;
  const char *topic;
  long long count;
  int size;
  int partitions;
  int keys;
  double rate;
  double duration_s;
  double warmup_s;
  double timeout_s;
  double idle_s;
  const char *acks;
  const char *compression;
  int linger_ms; /* -1: the mode's default */
  long batch_bytes;
  int producers;
  int spread;
  int burst;
  const char *payload_kind;
  const char *topic_configs;
  const char *extra[MAX_EXTRA_PROPS];
  int extra_n;
} options_t;

static options_t opt = {
    .brokers = "127.0.0.1:9092",
    .topic = "bench",
    .count = 0,
    .size = 1024,
    .partitions = 6,
    .acks = "1",
    .compression = "none",
    .linger_ms = -1,
    .batch_bytes = 1000000,
    .producers = 1,
    .burst = 1,
    .payload_kind = "text",
    .timeout_s = 600,
    .idle_s = 10,
};

static volatile sig_atomic_t stop_requested;

/* Produce-side state; touched only by the thread that calls rd_kafka_poll on producers. */
static struct {
  hist_t ack;
  hist_t lag; /* how late each send was against the fixed-rate schedule */
  long long acked, acked_warm, errors;
  char first_error[256];
} prod;

static void on_signal(int sig) {
  (void)sig;
  stop_requested = 1;
}

static void die(const char *fmt, ...) {
  va_list ap;
  char msg[512];
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  fprintf(stderr, "tribload: %s\n", msg);
  /* Still one JSON line, so the orchestrator records why instead of a parse failure. */
  printf("{\"tool\":\"tribload\",\"mode\":\"%s\",\"error\":\"", opt.mode ? opt.mode : "?");
  for (const char *p = msg; *p; p++) {
    if (*p == '"' || *p == '\\') putchar('\\');
    putchar((unsigned char)*p >= 0x20 ? *p : ' ');
  }
  printf("\"}\n");
  exit(1);
}

static void usage(void) {
  fprintf(stderr,
          "usage: tribload create|delete|produce|consume|e2e|mock-serve [options]\n"
          "  -b, --brokers HOST:PORT   bootstrap servers (default 127.0.0.1:9092)\n"
          "  -t, --topic NAME          topic (default bench)\n"
          "  -n, --count N             messages to produce / consume\n"
          "  -s, --size BYTES          value size (default 1024)\n"
          "  -p, --partitions P        create: partition count (default 6)\n"
          "      --keys K              keyed messages over K distinct keys (default: no key)\n"
          "      --rate R              msgs/s over all producers (default: as fast as possible)\n"
          "      --duration-s S        stop producing after S seconds\n"
          "      --warmup-s S          first S seconds are sent but not measured\n"
          "      --acks 0|1|all        (default 1)\n"
          "      --compression none|gzip|snappy|lz4|zstd\n"
          "      --linger-ms MS        (default 5 for produce, 0 for e2e)\n"
          "      --batch-bytes B       (default 1000000)\n"
          "      --producers M         M producer instances, each with its own connections\n"
          "      --burst K             with --producers: K consecutive messages go to one\n"
          "                            instance before the next takes over (default 1)\n"
          "      --spread              round-robin every message over all partitions\n"
          "      --payload text|random (default text: compressible words)\n"
          "      --topic-configs k=v,..  configs for create\n"
          "      --timeout-s S         hard limit for the whole run (default 600)\n"
          "      --idle-s S            consume/e2e: give up after S seconds without data (default 10)\n"
          "  -X key=value              extra librdkafka property (repeatable)\n");
  exit(2);
}

static void parse_args(int argc, char **argv) {
  enum {
    O_KEYS = 1000, O_RATE, O_DURATION, O_WARMUP, O_ACKS, O_COMPRESSION, O_LINGER, O_BATCH,
    O_PRODUCERS, O_SPREAD, O_PAYLOAD, O_TOPIC_CONFIGS, O_TIMEOUT, O_IDLE, O_BURST
  };
  static struct option longopts[] = {
      {"brokers", required_argument, 0, 'b'},  {"topic", required_argument, 0, 't'},
      {"count", required_argument, 0, 'n'},    {"size", required_argument, 0, 's'},
      {"partitions", required_argument, 0, 'p'}, {"keys", required_argument, 0, O_KEYS},
      {"rate", required_argument, 0, O_RATE},  {"duration-s", required_argument, 0, O_DURATION},
      {"warmup-s", required_argument, 0, O_WARMUP}, {"acks", required_argument, 0, O_ACKS},
      {"compression", required_argument, 0, O_COMPRESSION},
      {"linger-ms", required_argument, 0, O_LINGER}, {"batch-bytes", required_argument, 0, O_BATCH},
      {"producers", required_argument, 0, O_PRODUCERS}, {"spread", no_argument, 0, O_SPREAD},
      {"payload", required_argument, 0, O_PAYLOAD},
      {"topic-configs", required_argument, 0, O_TOPIC_CONFIGS},
      {"timeout-s", required_argument, 0, O_TIMEOUT}, {"idle-s", required_argument, 0, O_IDLE},
      {"burst", required_argument, 0, O_BURST},
      {0, 0, 0, 0}};
  if (argc < 2) usage();
  opt.mode = argv[1];
  optind = 2;
  int c;
  while ((c = getopt_long(argc, argv, "b:t:n:s:p:X:", longopts, NULL)) != -1) {
    switch (c) {
      case 'b': opt.brokers = optarg; break;
      case 't': opt.topic = optarg; break;
      case 'n': opt.count = atoll(optarg); break;
      case 's': opt.size = atoi(optarg); break;
      case 'p': opt.partitions = atoi(optarg); break;
      case 'X':
        if (opt.extra_n >= MAX_EXTRA_PROPS) die("more than %d -X properties", MAX_EXTRA_PROPS);
        opt.extra[opt.extra_n++] = optarg;
        break;
      case O_KEYS: opt.keys = atoi(optarg); break;
      case O_RATE: opt.rate = atof(optarg); break;
      case O_DURATION: opt.duration_s = atof(optarg); break;
      case O_WARMUP: opt.warmup_s = atof(optarg); break;
      case O_ACKS: opt.acks = optarg; break;
      case O_COMPRESSION: opt.compression = optarg; break;
      case O_LINGER: opt.linger_ms = atoi(optarg); break;
      case O_BATCH: opt.batch_bytes = atol(optarg); break;
      case O_PRODUCERS: opt.producers = atoi(optarg); break;
      case O_SPREAD: opt.spread = 1; break;
      case O_PAYLOAD: opt.payload_kind = optarg; break;
      case O_TOPIC_CONFIGS: opt.topic_configs = optarg; break;
      case O_TIMEOUT: opt.timeout_s = atof(optarg); break;
      case O_IDLE: opt.idle_s = atof(optarg); break;
      case O_BURST: opt.burst = atoi(optarg); break;
      default: usage();
    }
  }
  if (opt.size < 0 || opt.size > (int)(PAYLOAD_BUF_BYTES / 2)) die("--size %d out of range 0..%u", opt.size, PAYLOAD_BUF_BYTES / 2);
  if (opt.producers < 1 || opt.producers > MAX_PRODUCERS) die("--producers %d out of range 1..%d", opt.producers, MAX_PRODUCERS);
  if (opt.burst < 1) die("--burst %d must be at least 1", opt.burst);
  if (opt.partitions < 1) die("--partitions %d must be at least 1", opt.partitions);
  if (opt.rate < 0) die("--rate must not be negative");
  if (opt.timeout_s <= 0) die("--timeout-s must be positive");
}

static void set_conf(rd_kafka_conf_t *conf, const char *key, const char *value) {
  char err[512];
  if (rd_kafka_conf_set(conf, key, value, err, sizeof err) != RD_KAFKA_CONF_OK)
    die("librdkafka property %s=%s: %s", key, value, err);
}

static rd_kafka_conf_t *base_conf(void) {
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  set_conf(conf, "bootstrap.servers", opt.brokers);
  set_conf(conf, "client.id", "tribload");
  /* Kafka's Java client disables Nagle too; without it small requests wait up to 40 ms. */
  set_conf(conf, "socket.nagle.disable", "true");
  return conf;
}

static void apply_extra(rd_kafka_conf_t *conf) {
  for (int i = 0; i < opt.extra_n; i++) {
    char kv[512];
    snprintf(kv, sizeof kv, "%s", opt.extra[i]);
    char *eq = strchr(kv, '=');
    if (!eq) die("-X %s: expected key=value", opt.extra[i]);
    *eq = 0;
    set_conf(conf, kv, eq + 1);
  }
}

static rd_kafka_t *new_client(rd_kafka_type_t type, rd_kafka_conf_t *conf) {
  char err[512];
  rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof err);
  if (!rk) die("rd_kafka_new: %s", err);
  return rk;
}

static int topic_partition_count(rd_kafka_t *rk, const char *topic, int timeout_ms) {
  rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
  const struct rd_kafka_metadata *md = NULL;
  int n = -1;
  uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000ULL;
  /* A just-created topic may report no partitions or LEADER_NOT_AVAILABLE for a moment. */
  while (now_ns() < deadline && !stop_requested) {
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, 5000);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1 && md->topics[0].err == 0 &&
        md->topics[0].partition_cnt > 0) {
      n = md->topics[0].partition_cnt;
      rd_kafka_metadata_destroy(md);
      break;
    }
    if (md) rd_kafka_metadata_destroy(md);
    md = NULL;
    usleep(100000);
  }
  rd_kafka_topic_destroy(rkt);
  return n;
}

static double secs_since(uint64_t t0) { return (double)(now_ns() - t0) / 1e9; }

/* The load generator's own CPU use over the measured run, so the report can tell whether
 * the client rather than the broker was the limit (100 = one core busy all the time). */
static void print_cpu_fields(double cpu0, uint64_t t0) {
  double wall = secs_since(t0);
  double cpu = cpu_seconds() - cpu0;
  printf(",\"client_cpu_s\":%.3f,\"client_cpu_pct\":%.1f", cpu, wall > 0 ? cpu / wall * 100 : 0);
}

static void print_rate_fields(long long msgs, double seconds) {
  double s = seconds > 0 ? seconds : 1e-9;
  printf("\"seconds\":%.3f,\"msgs_per_s\":%.1f,\"mb_per_s\":%.2f", seconds, (double)msgs / s,
         (double)msgs * opt.size / s / 1e6);
}

/* ---------------------------------------------------------------- admin calls */

/* Admin options for one operation, with the operation and request timeouts both set. */
static rd_kafka_AdminOptions_t *admin_options(rd_kafka_t *rk, rd_kafka_admin_op_t op, int timeout_ms) {
  char err[512];
  rd_kafka_AdminOptions_t *ao = rd_kafka_AdminOptions_new(rk, op);
  rd_kafka_AdminOptions_set_operation_timeout(ao, timeout_ms, err, sizeof err);
  rd_kafka_AdminOptions_set_request_timeout(ao, timeout_ms, err, sizeof err);
  return ao;
}

/* The result event of an admin call on q; dies when there is none in time or it failed as a whole. */
static rd_kafka_event_t *admin_result(rd_kafka_queue_t *q, const char *what, int timeout_ms) {
  rd_kafka_event_t *ev = rd_kafka_queue_poll(q, timeout_ms + 5000);
  if (!ev) die("%s %s: no answer within %d ms", what, opt.topic, timeout_ms);
  if (rd_kafka_event_error(ev)) die("%s %s: %s", what, opt.topic, rd_kafka_event_error_string(ev));
  return ev;
}

/* ---------------------------------------------------------------- delete */

static int run_delete(void) {
  rd_kafka_conf_t *conf = base_conf();
  apply_extra(conf);
  rd_kafka_t *rk = new_client(RD_KAFKA_PRODUCER, conf);
  rd_kafka_DeleteTopic_t *dt = rd_kafka_DeleteTopic_new(opt.topic);
  rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
  int timeout_ms = (int)(opt.timeout_s * 1000);
  rd_kafka_AdminOptions_t *ao = admin_options(rk, RD_KAFKA_ADMIN_OP_DELETETOPICS, timeout_ms);
  uint64_t t0 = now_ns();
  rd_kafka_DeleteTopics(rk, &dt, 1, ao, q);
  rd_kafka_event_t *ev = admin_result(q, "DeleteTopics", timeout_ms);
  size_t n = 0;
  const rd_kafka_topic_result_t **tr = rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev), &n);
  int existed = 1;
  for (size_t i = 0; i < n; i++) {
    rd_kafka_resp_err_t e = rd_kafka_topic_result_error(tr[i]);
    if (e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) existed = 0;
    else if (e) die("DeleteTopics %s: %s", opt.topic, rd_kafka_err2str(e));
  }
  printf("{\"tool\":\"tribload\",\"mode\":\"delete\",\"topic\":\"%s\",\"existed\":%s,\"seconds\":%.3f}\n",
         opt.topic, existed ? "true" : "false", secs_since(t0));
  rd_kafka_event_destroy(ev);
  rd_kafka_AdminOptions_destroy(ao);
  rd_kafka_DeleteTopic_destroy(dt);
  rd_kafka_queue_destroy(q);
  rd_kafka_destroy(rk);
  return 0;
}

/* ---------------------------------------------------------------- create */

/* Kafka (KRaft) refuses one admin operation that would write more than 10,000 metadata
 * records ("Unable to perform excessively large batch operation"), and a topic costs one
 * record per partition plus one: so large topics are created in steps, as an operator
 * would, with CreateTopics and then CreatePartitions. */
#define CREATE_STEP_PARTITIONS 5000

static void add_partitions(rd_kafka_t *rk, int total, int timeout_ms) {
  char err[512];
  rd_kafka_NewPartitions_t *np = rd_kafka_NewPartitions_new(opt.topic, (size_t)total, err, sizeof err);
  if (!np) die("NewPartitions %s: %s", opt.topic, err);
  rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
  rd_kafka_AdminOptions_t *ao = admin_options(rk, RD_KAFKA_ADMIN_OP_CREATEPARTITIONS, timeout_ms);
  rd_kafka_CreatePartitions(rk, &np, 1, ao, q);
  rd_kafka_event_t *ev = admin_result(q, "CreatePartitions", timeout_ms);
  size_t n = 0;
  const rd_kafka_topic_result_t **tr = rd_kafka_CreatePartitions_result_topics(rd_kafka_event_CreatePartitions_result(ev), &n);
  for (size_t i = 0; i < n; i++) {
    rd_kafka_resp_err_t e = rd_kafka_topic_result_error(tr[i]);
    if (e) die("CreatePartitions %s to %d: %s", opt.topic, total, rd_kafka_err2str(e));
  }
  rd_kafka_event_destroy(ev);
  rd_kafka_AdminOptions_destroy(ao);
  rd_kafka_NewPartitions_destroy(np);
  rd_kafka_queue_destroy(q);
}

static int run_create(void) {
  rd_kafka_conf_t *conf = base_conf();
  apply_extra(conf);
  rd_kafka_t *rk = new_client(RD_KAFKA_PRODUCER, conf);
  char err[512];
  int first = opt.partitions > CREATE_STEP_PARTITIONS ? CREATE_STEP_PARTITIONS : opt.partitions;
  rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(opt.topic, first, 1, err, sizeof err);
  if (!nt) die("NewTopic %s: %s", opt.topic, err);
  if (opt.topic_configs) {
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", opt.topic_configs);
    for (char *save = NULL, *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
      char *eq = strchr(kv, '=');
      if (!eq) die("--topic-configs %s: expected k=v,...", opt.topic_configs);
      *eq = 0;
      rd_kafka_NewTopic_set_config(nt, kv, eq + 1);
    }
  }
  rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
  int timeout_ms = (int)(opt.timeout_s * 1000);
  rd_kafka_AdminOptions_t *ao = admin_options(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS, timeout_ms);
  uint64_t t0 = now_ns();
  rd_kafka_CreateTopics(rk, &nt, 1, ao, q);
  rd_kafka_event_t *ev = admin_result(q, "CreateTopics", timeout_ms);
  const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
  size_t n = 0;
  const rd_kafka_topic_result_t **tr = rd_kafka_CreateTopics_result_topics(res, &n);
  int existed = 0;
  for (size_t i = 0; i < n; i++) {
    rd_kafka_resp_err_t e = rd_kafka_topic_result_error(tr[i]);
    if (e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) existed = 1;
    else if (e) die("CreateTopics %s: %s", opt.topic, rd_kafka_topic_result_error_string(tr[i]) ? rd_kafka_topic_result_error_string(tr[i]) : rd_kafka_err2str(e));
  }
  rd_kafka_event_destroy(ev);
  if (!existed) {
    for (int total = first + CREATE_STEP_PARTITIONS; first < opt.partitions; total += CREATE_STEP_PARTITIONS) {
      first = total < opt.partitions ? total : opt.partitions;
      add_partitions(rk, first, timeout_ms);
    }
  }
  double create_s = secs_since(t0);
  /* Wait until metadata shows the partitions, so a following run does not race creation. */
  int seen = topic_partition_count(rk, opt.topic, timeout_ms);
  printf("{\"tool\":\"tribload\",\"mode\":\"create\",\"topic\":\"%s\",\"partitions\":%d,"
         "\"existed\":%s,\"partitions_seen\":%d,\"seconds\":%.3f,\"ready_seconds\":%.3f}\n",
         opt.topic, opt.partitions, existed ? "true" : "false", seen, create_s, secs_since(t0));
  rd_kafka_AdminOptions_destroy(ao);
  rd_kafka_NewTopic_destroy(nt);
  rd_kafka_queue_destroy(q);
  rd_kafka_destroy(rk);
  return seen > 0 ? 0 : 1;
}

/* ---------------------------------------------------------------- produce */

static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
  (void)rk, (void)opaque;
  uint64_t sent = (uint64_t)(uintptr_t)m->_private;
  if (m->err) {
    if (prod.errors++ == 0) snprintf(prod.first_error, sizeof prod.first_error, "%s", rd_kafka_err2str(m->err));
    return;
  }
  prod.acked++;
  /* Bit 0 of the opaque marks a warm-up message: neither counted nor timed. */
  if (sent & 1) prod.acked_warm++;
  else hist_record(&prod.ack, now_ns() - sent);
}

static rd_kafka_t *new_producer(int index, int linger_default) {
  rd_kafka_conf_t *conf = base_conf();
  char v[64];
  snprintf(v, sizeof v, "tribload-%d", index);
  set_conf(conf, "client.id", v);
  set_conf(conf, "acks", opt.acks);
  set_conf(conf, "compression.type", opt.compression);
  snprintf(v, sizeof v, "%d", opt.linger_ms >= 0 ? opt.linger_ms : linger_default);
  set_conf(conf, "linger.ms", v);
  snprintf(v, sizeof v, "%ld", opt.batch_bytes);
  set_conf(conf, "batch.size", v);
  /* 64 MiB of queued messages per producer, like the Java client's 32 MiB buffer.memory:
   * enough to keep the pipe full; a larger queue would only inflate ack latency. */
  set_conf(conf, "queue.buffering.max.kbytes", "65536");
  set_conf(conf, "queue.buffering.max.messages", "1000000");
  if (opt.keys > 0) set_conf(conf, "partitioner", "murmur2_random"); /* as the Java client */
  apply_extra(conf);
  rd_kafka_conf_set_dr_msg_cb(conf, dr_msg_cb);
  return new_client(RD_KAFKA_PRODUCER, conf);
}

typedef struct {
  rd_kafka_t **rk;
  rd_kafka_topic_t **rkt;
  int n;
  int partitions;
  long long sent;
  double send_seconds;
  int timed_out;
} producers_t;

static void producers_poll(producers_t *p, int timeout_ms) {
  for (int i = 0; i < p->n; i++) rd_kafka_poll(p->rk[i], i == 0 ? timeout_ms : 0);
}

static void producers_open(producers_t *p, int linger_default) {
  p->n = opt.producers;
  p->rk = calloc((size_t)p->n, sizeof *p->rk);
  p->rkt = calloc((size_t)p->n, sizeof *p->rkt);
  for (int i = 0; i < p->n; i++) {
    p->rk[i] = new_producer(i, linger_default);
    p->rkt[i] = rd_kafka_topic_new(p->rk[i], opt.topic, NULL);
  }
  /* Connect and learn the topic's leaders before the clock starts: connection set-up is
   * not what the throughput and latency figures are about. */
  p->partitions = -1;
  for (int i = 0; i < p->n && !stop_requested; i++) {
    int n = topic_partition_count(p->rk[i], opt.topic, 30000);
    if (n < 0) die("no metadata for topic %s from %s (producer %d)", opt.topic, opt.brokers, i);
    p->partitions = n;
  }
}

/* Sends --count messages (or --rate x --duration-s), at the fixed rate if one is given.
 * `e2e` switches to copied payloads that carry the e2e header. */
static void producers_run(producers_t *p, int e2e) {
  long long count = opt.count;
  if (count <= 0 && opt.rate > 0 && opt.duration_s > 0) count = (long long)(opt.rate * opt.duration_s);
  if (count <= 0) die("give --count, or --rate with --duration-s");
  if (e2e && opt.size < E2E_HEADER_BYTES) die("e2e needs --size >= %d", E2E_HEADER_BYTES);
  char *scratch = malloc((size_t)opt.size + 1);
  char key[32];
  uint64_t t0 = now_ns();
  uint64_t deadline = t0 + (uint64_t)(opt.timeout_s * 1e9);
  uint64_t warmup_end = t0 + (uint64_t)(opt.warmup_s * 1e9);
  uint64_t stop_at = opt.duration_s > 0 ? t0 + (uint64_t)((opt.duration_s + opt.warmup_s) * 1e9) : UINT64_MAX;
  double ns_per_msg = opt.rate > 0 ? 1e9 / opt.rate : 0;
  long long seq = 0;
  int since_poll = 0;
  /* With warm-up, the warm-up messages come on top of --count. */
  long long warm_msgs = opt.rate > 0 ? (long long)(opt.rate * opt.warmup_s) : 0;
  long long total = count + warm_msgs;
  while (seq < total && !stop_requested) {
    uint64_t now = now_ns();
    if (now >= deadline || now >= stop_at) {
      p->timed_out = now >= deadline;
      break;
    }
    if (ns_per_msg > 0) {
      uint64_t due = t0 + (uint64_t)((double)seq * ns_per_msg);
      if (now < due) {
        producers_poll(p, 0);
        uint64_t gap = due - now;
        if (gap > 1000000) gap = 1000000;
        struct timespec ts = {0, (long)gap};
        nanosleep(&ts, NULL);
        continue;
      }
      hist_record(&prod.lag, now - due);
    }
    int warm = now < warmup_end;
    /* Consecutive messages go to the same instance in bursts of --burst: each instance
     * then sees runs of messages, like an independent producer sending as fast as it
     * can, instead of every 500th message. */
    int idx = (int)((seq / opt.burst) % p->n);
    int partition = opt.spread ? (int)(seq % p->partitions) : RD_KAFKA_PARTITION_UA;
    const char *value = payload_for(seq, (size_t)opt.size);
    int flags = 0;
    if (e2e) {
      memcpy(scratch, value, (size_t)opt.size);
      uint64_t ts = now_ns(), s = (uint64_t)seq;
      memcpy(scratch, &ts, 8);
      memcpy(scratch + 8, &s, 8);
      scratch[16] = (char)warm;
      value = scratch;
      flags = RD_KAFKA_MSG_F_COPY;
    }
    size_t key_len = 0;
    if (opt.keys > 0) key_len = (size_t)snprintf(key, sizeof key, "key-%lld", seq % opt.keys);
    /* The send time rides in the per-message opaque (bit 0 = warm-up), so delivery reports
     * need no allocation or lookup. */
    uint64_t opaque = (now_ns() & ~1ULL) | (uint64_t)warm;
    rd_kafka_resp_err_t err = rd_kafka_producev(
        p->rk[idx], RD_KAFKA_V_RKT(p->rkt[idx]), RD_KAFKA_V_PARTITION(partition),
        RD_KAFKA_V_MSGFLAGS(flags), RD_KAFKA_V_VALUE((void *)value, (size_t)opt.size),
        RD_KAFKA_V_KEY(key_len ? key : NULL, key_len), RD_KAFKA_V_OPAQUE((void *)(uintptr_t)opaque),
        RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      rd_kafka_poll(p->rk[idx], 1);
      continue;
    }
    if (err) die("produce: %s", rd_kafka_err2str(err));
    seq++;
    if (++since_poll >= 256) {
      producers_poll(p, 0);
      since_poll = 0;
    }
  }
  p->sent = seq;
  p->send_seconds = secs_since(t0);
  free(scratch);
}

/* Waits for every outstanding delivery report; returns false if the time limit hit first. */
static int producers_flush(producers_t *p, uint64_t deadline) {
  for (int i = 0; i < p->n; i++) {
    while (rd_kafka_outq_len(p->rk[i]) > 0 && now_ns() < deadline && !stop_requested)
      rd_kafka_poll(p->rk[i], 50);
  }
  int left = 0;
  for (int i = 0; i < p->n; i++) left += rd_kafka_outq_len(p->rk[i]);
  return left == 0;
}

static void producers_close(producers_t *p) {
  for (int i = 0; i < p->n; i++) {
    rd_kafka_topic_destroy(p->rkt[i]);
    /* Undelivered messages are purged so destroy does not wait out message.timeout.ms. */
    rd_kafka_purge(p->rk[i], RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(p->rk[i], 0);
    rd_kafka_destroy(p->rk[i]);
  }
  free(p->rk);
  free(p->rkt);
}

static void print_produce_fields(producers_t *p, double seconds, int flushed) {
  printf("\"topic\":\"%s\",\"size\":%d,\"acks\":\"%s\",\"compression\":\"%s\",\"producers\":%d,\"burst\":%d,"
         "\"partitions\":%d,\"spread\":%s,\"keys\":%d,\"rate_target\":%.0f,\"sent\":%lld,"
         "\"acked\":%lld,\"errors\":%lld,\"first_error\":\"%s\",\"complete\":%s,"
         "\"send_seconds\":%.3f,\"send_rate\":%.1f,",
         opt.topic, opt.size, opt.acks, opt.compression, p->n, opt.burst, p->partitions,
         opt.spread ? "true" : "false", opt.keys, opt.rate, p->sent, prod.acked, prod.errors,
         prod.first_error, flushed && !p->timed_out ? "true" : "false", p->send_seconds,
         p->sent / (p->send_seconds > 0 ? p->send_seconds : 1e-9));
  print_rate_fields(prod.acked - prod.acked_warm, seconds);
  printf(",\"ack_latency_us\":");
  hist_print_json_us(stdout, &prod.ack);
  if (opt.rate > 0) {
    printf(",\"schedule_lag_us\":");
    hist_print_json_us(stdout, &prod.lag);
  }
}

static int run_produce(void) {
  producers_t p = {0};
  producers_open(&p, 5);
  double cpu0 = cpu_seconds();
  uint64_t t0 = now_ns();
  producers_run(&p, 0);
  int flushed = producers_flush(&p, t0 + (uint64_t)(opt.timeout_s * 1e9) + 30000000000ULL);
  double seconds = secs_since(t0) - opt.warmup_s;
  printf("{\"tool\":\"tribload\",\"mode\":\"produce\",");
  print_produce_fields(&p, seconds, flushed);
  print_cpu_fields(cpu0, t0);
  printf("}\n");
  fflush(stdout);
  producers_close(&p);
  return 0;
}

/* ---------------------------------------------------------------- consume */

typedef struct {
  rd_kafka_t *rk;
  rd_kafka_topic_t *rkt;
  rd_kafka_queue_t *q;
  int partitions;
  long long target;     /* stop after this many; may be raised while running (e2e) */
  _Atomic long long target_final; /* e2e: set once the producer knows how many it sent */
  long long received, bytes, foreign;
  hist_t e2e;
  int e2e_mode;
  int complete;
  double seconds;
  double first_msg_seconds;
} consumer_t;

static void consumer_open(consumer_t *c) {
  rd_kafka_conf_t *conf = base_conf();
  /* Prefetch deep enough that the broker, not the client's queue, limits throughput. */
  set_conf(conf, "queued.min.messages", "200000");
  set_conf(conf, "fetch.wait.max.ms", "100");
  /* Reading starts at offset 0 (see consumer_start); should the log start later, the
   * broker answers OFFSET_OUT_OF_RANGE and this sends the consumer to the earliest. */
  set_conf(conf, "auto.offset.reset", "earliest");
  apply_extra(conf);
  c->rk = new_client(RD_KAFKA_CONSUMER, conf);
  c->partitions = topic_partition_count(c->rk, opt.topic, 30000);
  if (c->partitions < 0) die("no metadata for topic %s from %s", opt.topic, opt.brokers);
  c->rkt = rd_kafka_topic_new(c->rk, opt.topic, NULL);
  c->q = rd_kafka_queue_new(c->rk);
  hist_init(&c->e2e);
}

/* Uses the simple (group-less) consumer: no coordinator is involved, so the figure is the
 * broker's Fetch path alone. Offset 0 rather than OFFSET_BEGINNING saves a ListOffsets
 * round trip per partition: the benchmark topics are fresh, so 0 is their beginning. */
static void consumer_start(consumer_t *c) {
  for (int i = 0; i < c->partitions; i++)
    if (rd_kafka_consume_start_queue(c->rkt, i, 0, c->q) == -1)
      die("consume_start %s/%d: %s", opt.topic, i, rd_kafka_err2str(rd_kafka_last_error()));
}

static void consumer_run(consumer_t *c) {
  rd_kafka_message_t *batch[CONSUME_BATCH];
  uint64_t t0 = now_ns();
  uint64_t deadline = t0 + (uint64_t)(opt.timeout_s * 1e9);
  uint64_t last_data = t0;
  for (;;) {
    long long target = c->e2e_mode ? atomic_load(&c->target_final) : c->target;
    if (target > 0 && c->received >= target) {
      c->complete = 1;
      break;
    }
    uint64_t now = now_ns();
    if (now >= deadline || stop_requested) break;
    /* In e2e the idle clock only runs once the producer has finished. */
    if ((!c->e2e_mode || target > 0) && now - last_data > (uint64_t)(opt.idle_s * 1e9)) break;
    /* consume_batch_queue waits until the batch is full or the timeout passes, which would
     * add up to the timeout to every end-to-end latency. So: wait for one message, then
     * take whatever else is already queued without waiting. */
    ssize_t n = 0;
    rd_kafka_message_t *first = rd_kafka_consume_queue(c->q, 100);
    if (first != NULL) {
      batch[0] = first;
      ssize_t more = rd_kafka_consume_batch_queue(c->q, 0, batch + 1, CONSUME_BATCH - 1);
      if (more < 0) die("consume: %s", rd_kafka_err2str(rd_kafka_last_error()));
      n = 1 + more;
    }
    uint64_t arrived = now_ns();
    for (ssize_t i = 0; i < n; i++) {
      rd_kafka_message_t *m = batch[i];
      if (m->err) {
        /* End of partition is information, not failure; anything else is reported. */
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
          fprintf(stderr, "tribload: consume %s [%d]: %s\n", opt.topic, m->partition, rd_kafka_message_errstr(m));
      } else {
        if (c->received == 0) c->first_msg_seconds = (double)(arrived - t0) / 1e9;
        c->received++;
        c->bytes += (long long)m->len;
        last_data = arrived;
        if (c->e2e_mode) {
          if (m->len >= E2E_HEADER_BYTES) {
            uint64_t sent;
            memcpy(&sent, m->payload, 8);
            if (!((const char *)m->payload)[16] && arrived >= sent) hist_record(&c->e2e, arrived - sent);
          } else {
            c->foreign++;
          }
        }
      }
      rd_kafka_message_destroy(m);
    }
  }
  c->seconds = secs_since(t0);
}

static void consumer_close(consumer_t *c) {
  for (int i = 0; i < c->partitions; i++) rd_kafka_consume_stop(c->rkt, i);
  rd_kafka_queue_destroy(c->q);
  rd_kafka_topic_destroy(c->rkt);
  rd_kafka_destroy(c->rk);
}

static int run_consume(void) {
  if (opt.count <= 0) die("consume needs --count");
  consumer_t c = {0};
  consumer_open(&c);
  c.target = opt.count;
  double cpu0 = cpu_seconds();
  uint64_t t0 = now_ns();
  consumer_start(&c);
  consumer_run(&c);
  double s = c.seconds > 0 ? c.seconds : 1e-9;
  printf("{\"tool\":\"tribload\",\"mode\":\"consume\",\"topic\":\"%s\",\"partitions\":%d,"
         "\"target\":%lld,\"received\":%lld,\"complete\":%s,\"first_msg_seconds\":%.3f,"
         "\"seconds\":%.3f,\"msgs_per_s\":%.1f,\"mb_per_s\":%.2f",
         opt.topic, c.partitions, opt.count, c.received, c.complete ? "true" : "false",
         c.first_msg_seconds, c.seconds, c.received / s, c.bytes / s / 1e6);
  print_cpu_fields(cpu0, t0);
  printf("}\n");
  consumer_close(&c);
  return 0;
}

/* ---------------------------------------------------------------- e2e */

static void *consumer_thread(void *arg) {
  consumer_run((consumer_t *)arg);
  return NULL;
}

static int run_e2e(void) {
  if (opt.rate <= 0) die("e2e needs a fixed --rate");
  consumer_t c = {0};
  c.e2e_mode = 1;
  consumer_open(&c);
  consumer_start(&c);
  producers_t p = {0};
  producers_open(&p, 0);
  pthread_t th;
  if (pthread_create(&th, NULL, consumer_thread, &c) != 0) die("pthread_create failed");
  double cpu0 = cpu_seconds();
  uint64_t t0 = now_ns();
  producers_run(&p, 1);
  int flushed = producers_flush(&p, t0 + (uint64_t)(opt.timeout_s * 1e9) + 30000000000ULL);
  double seconds = secs_since(t0) - opt.warmup_s;
  /* The consumer stops once it has seen everything that was acknowledged. */
  atomic_store(&c.target_final, prod.acked > 0 ? prod.acked : 1);
  pthread_join(th, NULL);
  printf("{\"tool\":\"tribload\",\"mode\":\"e2e\",");
  print_produce_fields(&p, seconds, flushed);
  printf(",\"received\":%lld,\"consume_complete\":%s,\"e2e_latency_us\":", c.received,
         c.complete ? "true" : "false");
  hist_print_json_us(stdout, &c.e2e);
  print_cpu_fields(cpu0, t0);
  printf("}\n");
  fflush(stdout);
  producers_close(&p);
  consumer_close(&c);
  return 0;
}

/* ---------------------------------------------------------------- mock-serve */

static int run_mock_serve(void) {
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  set_conf(conf, "log_level", "3");
  rd_kafka_t *rk = new_client(RD_KAFKA_PRODUCER, conf);
  rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, 1);
  if (!mc) die("cannot start the mock cluster");
  printf("mock cluster listening on %s\n", rd_kafka_mock_cluster_bootstraps(mc));
  fflush(stdout);
  char line[512];
  uint64_t deadline = now_ns() + (uint64_t)(opt.timeout_s * 1e9);
  while (!stop_requested && now_ns() < deadline && fgets(line, sizeof line, stdin)) {
    char topic[256];
    int parts;
    if (sscanf(line, "create %255s %d", topic, &parts) == 2 && parts > 0) {
      rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(mc, topic, parts, 1);
      printf("%s\n", err ? rd_kafka_err2str(err) : "ok");
    } else {
      printf("unknown command\n");
    }
    fflush(stdout);
  }
  rd_kafka_mock_cluster_destroy(mc);
  rd_kafka_destroy(rk);
  return 0;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  /* No SA_RESTART: a blocking read (mock-serve's stdin) must return on SIGTERM. */
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  parse_args(argc, argv);
  hist_init(&prod.ack);
  hist_init(&prod.lag);
  if (payload_init(opt.payload_kind) != 0) die("--payload must be text or random, got %s", opt.payload_kind);
  if (strcmp(opt.mode, "create") == 0) return run_create();
  if (strcmp(opt.mode, "delete") == 0) return run_delete();
  if (strcmp(opt.mode, "produce") == 0) return run_produce();
  if (strcmp(opt.mode, "consume") == 0) return run_consume();
  if (strcmp(opt.mode, "e2e") == 0) return run_e2e();
  if (strcmp(opt.mode, "mock-serve") == 0) return run_mock_serve();
  usage();
  return 2;
}
