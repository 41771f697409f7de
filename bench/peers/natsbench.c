/*
 * natsbench: the NATS JetStream peer for the macro benchmarks, in C on libnats.
 *
 *   publish  Creates stream --stream (file storage, --replicas copies, 1 by default) on
 *            subject --subject and publishes --count messages of --size bytes with
 *            js_PublishAsync, at most --max-pending unacknowledged at once (JetStream's
 *            equivalent of a producer's in-flight window). Publish-ack latency comes from
 *            the ack handler: each payload carries its send time (layout below).
 *            With --rate R --duration-s S [--warmup-s W] it publishes at a fixed R msgs/s
 *            instead (W seconds of warm-up first, sent but not measured), for latency at a
 *            given load; --count is then R x S. With --duration-s S [--warmup-s W] and no
 *            --rate it publishes as fast as the window allows for W + S seconds, measuring
 *            the last S.
 *            The result ends with the stream's state and placement after the run (its
 *            leader and each other replica's name, whether it is current, and its lag).
 *   create   Only creates the stream (as publish does) and prints its placement: with a
 *            cluster, which server leads it.
 *
 * In a JetStream cluster --replicas 3 makes a Raft-replicated stream: a publish is
 * acknowledged once a quorum (2 of 3) has stored it. --placement-tag T places the stream on
 * the servers tagged T (server_tags in their configuration).
 *   consume  Reads --count messages from the start of the stream through a pull consumer
 *            (AckNone, deliver all) in batches of --batch.
 *
 * Publish payload layout (host byte order; the ack handler runs on the same host):
 *   offset 0  u64  send time, CLOCK_MONOTONIC nanoseconds, taken just before js_PublishAsync
 *   offset 8  u8   1 while warming up (ack not timed or counted), else 0
 *   offset 9  ...  filler text up to --size
 *
 * One JSON line on stdout with the same field names as tribload (msgs_per_s, mb_per_s,
 * ack_latency_us), MB = 10^6 bytes of message payload.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <nats/nats.h>

#include "../loadgen/histogram.h"
#include "../loadgen/payload.h"

static struct {
  const char *mode;
  const char *url;
  const char *stream;
  const char *subject;
  long long count;
  int size;
  int max_pending;
  int batch;
  double timeout_s;
  double rate;
  double duration_s;
  double warmup_s;
  int replicas;
  const char *placement_tag;
} opt = {
    .url = "nats://127.0.0.1:4222",
    .stream = "bench",
    .subject = "bench.data",
    .count = 100000,
    .size = 1024,
    .max_pending = 1000,
    .batch = 1000,
    .timeout_s = 300,
    .replicas = 1,
};

/* The ack handler runs on libnats' delivery thread; the publisher reads the results only
 * after js_PublishAsyncComplete, but a mutex keeps that ordering explicit. */
#define PUB_HEADER_BYTES 9

static pthread_mutex_t ack_mu = PTHREAD_MUTEX_INITIALIZER;
static hist_t ack_hist;
static long long acked, acked_warm, ack_errors;
static char first_error[256];

static void fail(const char *what, natsStatus s, jsErrCode jerr) {
  const char *text = natsStatus_GetText(s);
  fprintf(stderr, "natsbench: %s: %s (jetstream error %d)\n", what, text, (int)jerr);
  printf("{\"tool\":\"natsbench\",\"mode\":\"%s\",\"error\":\"%s: %s\"}\n", opt.mode, what, text);
  exit(1);
}

static void on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure) {
  (void)js, (void)closure;
  uint64_t now = now_ns();
  pthread_mutex_lock(&ack_mu);
  if (pa != NULL && natsMsg_GetDataLength(msg) >= PUB_HEADER_BYTES) {
    uint64_t sent;
    memcpy(&sent, natsMsg_GetData(msg), 8);
    acked++;
    if (natsMsg_GetData(msg)[8]) acked_warm++;
    else hist_record(&ack_hist, now - sent);
  } else if (pae != NULL) {
    if (ack_errors++ == 0)
      snprintf(first_error, sizeof first_error, "%s", pae->ErrText ? pae->ErrText : natsStatus_GetText(pae->Err));
  }
  pthread_mutex_unlock(&ack_mu);
  natsMsg_Destroy(msg);
}

static void usage(void) {
  fprintf(stderr,
          "usage: natsbench publish|consume [--url nats://127.0.0.1:4222] [--stream S]\n"
          "       [--subject S] [-n COUNT] [-s SIZE] [--max-pending N] [--batch N] [--timeout-s S]\n"
          "       [--rate MSGS_PER_S --duration-s S [--warmup-s S]]   (publish at a fixed rate)\n"
          "       [--duration-s S [--warmup-s S]]   (publish as fast as possible for a time)\n"
          "       [--replicas N] [--placement-tag T]   (stream replicas; servers tagged T)\n"
          "usage: natsbench create [--url ...] [--stream S] [--subject S] [--replicas N] [--placement-tag T]\n");
  exit(2);
}

static void parse_args(int argc, char **argv) {
  static struct option longopts[] = {
      {"url", required_argument, 0, 'u'},         {"stream", required_argument, 0, 'S'},
      {"subject", required_argument, 0, 'j'},     {"count", required_argument, 0, 'n'},
      {"size", required_argument, 0, 's'},        {"max-pending", required_argument, 0, 'm'},
      {"batch", required_argument, 0, 'B'},       {"timeout-s", required_argument, 0, 'T'},
      {"rate", required_argument, 0, 'r'},        {"duration-s", required_argument, 0, 'D'},
      {"warmup-s", required_argument, 0, 'W'},    {"replicas", required_argument, 0, 'R'},
      {"placement-tag", required_argument, 0, 'P'}, {0, 0, 0, 0}};
  if (argc < 2) usage();
  opt.mode = argv[1];
  optind = 2;
  int c;
  while ((c = getopt_long(argc, argv, "n:s:", longopts, NULL)) != -1) {
    switch (c) {
      case 'u': opt.url = optarg; break;
      case 'S': opt.stream = optarg; break;
      case 'j': opt.subject = optarg; break;
      case 'n': opt.count = atoll(optarg); break;
      case 's': opt.size = atoi(optarg); break;
      case 'm': opt.max_pending = atoi(optarg); break;
      case 'B': opt.batch = atoi(optarg); break;
      case 'T': opt.timeout_s = atof(optarg); break;
      case 'r': opt.rate = atof(optarg); break;
      case 'D': opt.duration_s = atof(optarg); break;
      case 'W': opt.warmup_s = atof(optarg); break;
      case 'R': opt.replicas = atoi(optarg); break;
      case 'P': opt.placement_tag = optarg; break;
      default: usage();
    }
  }
  if (opt.size < PUB_HEADER_BYTES || opt.size > (int)(PAYLOAD_BUF_BYTES / 2)) {
    fprintf(stderr, "natsbench: --size must be 8..%u\n", PAYLOAD_BUF_BYTES / 2);
    exit(2);
  }
  if (opt.rate < 0 || opt.warmup_s < 0 || opt.duration_s < 0 || (opt.rate > 0 && opt.duration_s <= 0)) usage();
  if (opt.replicas < 1 || opt.replicas > 5) usage();
  if (opt.rate > 0) opt.count = (long long)(opt.rate * opt.duration_s);
  else if (opt.duration_s > 0) opt.count = LLONG_MAX / 2; /* bounded by time, not count */
  if (opt.count < 1 || opt.max_pending < 1 || opt.batch < 1 || opt.timeout_s <= 0) usage();
}

/* Creates the stream (file storage, --replicas, --placement-tag); an existing stream with
 * the same configuration is left as it is. */
static void add_stream(jsCtx *js) {
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  const char *subjects[] = {opt.subject};
  cfg.Name = opt.stream;
  cfg.Subjects = subjects;
  cfg.SubjectsLen = 1;
  cfg.Storage = js_FileStorage;
  cfg.Replicas = opt.replicas;
  jsPlacement placement;
  const char *tags[] = {opt.placement_tag};
  if (opt.placement_tag != NULL) {
    jsPlacement_Init(&placement);
    placement.Cluster = ""; /* libnats 3.4 marshals Cluster unconditionally: NULL crashes it */
    placement.Tags = tags;
    placement.TagsLen = 1;
    cfg.Placement = &placement;
  }
  jsErrCode jerr = 0;
  jsStreamInfo *si = NULL;
  natsStatus s = js_AddStream(&si, js, &cfg, NULL, &jerr);
  if (s != NATS_OK) fail("AddStream", s, jerr);
  jsStreamInfo_Destroy(si);
}

/* Prints ,"replicas":N,"stream_msgs":M,"stream_bytes":B,"leader":"..","peers":[...] for the
 * stream as the server reports it now (peers: the replicas other than the leader). */
static void print_stream_info(jsCtx *js) {
  jsStreamInfo *si = NULL;
  jsErrCode jerr = 0;
  natsStatus s = js_GetStreamInfo(&si, js, opt.stream, NULL, &jerr);
  if (s != NATS_OK || si == NULL) {
    printf(",\"stream_info_error\":\"%s\"", natsStatus_GetText(s));
    return;
  }
  printf(",\"replicas\":%d,\"stream_msgs\":%llu,\"stream_bytes\":%llu", (int)si->Config->Replicas,
         (unsigned long long)si->State.Msgs, (unsigned long long)si->State.Bytes);
  jsClusterInfo *ci = si->Cluster;
  printf(",\"leader\":\"%s\",\"peers\":[", ci != NULL && ci->Leader != NULL ? ci->Leader : "");
  for (int i = 0; ci != NULL && i < ci->ReplicasLen; i++) {
    jsPeerInfo *p = ci->Replicas[i];
    printf("%s{\"name\":\"%s\",\"current\":%s,\"offline\":%s,\"lag\":%llu}", i ? "," : "", p->Name ? p->Name : "",
           p->Current ? "true" : "false", p->Offline ? "true" : "false", (unsigned long long)p->Lag);
  }
  printf("]");
  jsStreamInfo_Destroy(si);
}

static int run_create(natsConnection *nc) {
  jsCtx *js = NULL;
  natsStatus s = natsConnection_JetStream(&js, nc, NULL);
  if (s != NATS_OK) fail("JetStream context", s, 0);
  add_stream(js);
  printf("{\"tool\":\"natsbench\",\"mode\":\"create\",\"stream\":\"%s\"", opt.stream);
  print_stream_info(js);
  printf("}\n");
  jsCtx_Destroy(js);
  return 0;
}

static int run_publish(natsConnection *nc) {
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.PublishAsync.MaxPending = opt.max_pending;
  jo.PublishAsync.AckHandler = on_ack;
  jsCtx *js = NULL;
  natsStatus s = natsConnection_JetStream(&js, nc, &jo);
  if (s != NATS_OK) fail("JetStream context", s, 0);
  add_stream(js);

  char *buf = malloc((size_t)opt.size);
  hist_t lag; /* how late each send was against the fixed-rate schedule */
  hist_init(&lag);
  double ns_per_msg = opt.rate > 0 ? 1e9 / opt.rate : 0;
  /* The warm-up messages come on top of --count, as in tribload. */
  long long total = opt.count + (opt.rate > 0 ? (long long)(opt.rate * opt.warmup_s) : 0);
  uint64_t t0 = now_ns();
  uint64_t deadline = t0 + (uint64_t)(opt.timeout_s * 1e9);
  uint64_t warmup_end = t0 + (uint64_t)(opt.warmup_s * 1e9);
  /* Time-bounded full speed (--duration-s without --rate): sending stops here. */
  uint64_t send_end = opt.rate == 0 && opt.duration_s > 0 ? warmup_end + (uint64_t)(opt.duration_s * 1e9) : UINT64_MAX;
  long long sent = 0;
  for (; sent < total && now_ns() < deadline && now_ns() < send_end; sent++) {
    if (ns_per_msg > 0) {
      uint64_t due = t0 + (uint64_t)((double)sent * ns_per_msg);
      uint64_t now = now_ns();
      /* Sleep in slices of at most 1 ms until this message is due. */
      while (now < due) {
        uint64_t gap = due - now;
        struct timespec ts = {0, (long)(gap > 1000000 ? 1000000 : gap)};
        nanosleep(&ts, NULL);
        now = now_ns();
      }
      hist_record(&lag, now - due);
    }
    memcpy(buf, payload_for(sent, (size_t)opt.size), (size_t)opt.size);
    uint64_t ts = now_ns();
    memcpy(buf, &ts, 8);
    buf[8] = (char)(ts < warmup_end);
    /* Blocks (StallWait) while max-pending acks are outstanding: that is the window. */
    s = js_PublishAsync(js, opt.subject, buf, opt.size, NULL);
    if (s == NATS_TIMEOUT) {
      sent--; /* stalled past StallWait: try the same message again */
      continue;
    }
    if (s != NATS_OK) fail("PublishAsync", s, 0);
  }
  jsPubOptions po;
  jsPubOptions_Init(&po);
  int64_t left_ms = (int64_t)((double)(deadline - now_ns()) / 1e6);
  po.MaxWait = left_ms > 1000 ? left_ms : 1000;
  natsStatus done = js_PublishAsyncComplete(js, &po);
  /* Like tribload: the measured window is everything after the warm-up, up to the last ack. */
  double seconds = (double)(now_ns() - t0) / 1e9 - opt.warmup_s;
  if (opt.count > LLONG_MAX / 4) total = sent; /* time-bounded: complete means every sent message acked */
  if (seconds <= 0) seconds = 1e-9;

  pthread_mutex_lock(&ack_mu);
  long long measured = acked - acked_warm;
  printf("{\"tool\":\"natsbench\",\"mode\":\"publish\",\"stream\":\"%s\",\"size\":%d,"
         "\"max_pending\":%d,\"rate_target\":%.0f,\"warmup_s\":%.3f,\"sent\":%lld,\"acked\":%lld,"
         "\"acked_warm\":%lld,\"errors\":%lld,\"first_error\":\"%s\",\"complete\":%s,"
         "\"seconds\":%.3f,\"msgs_per_s\":%.1f,\"mb_per_s\":%.2f,\"ack_latency_us\":",
         opt.stream, opt.size, opt.max_pending, opt.rate, opt.warmup_s, sent, acked, acked_warm,
         ack_errors, first_error, done == NATS_OK && acked == total ? "true" : "false", seconds,
         measured / seconds, measured * (double)opt.size / seconds / 1e6);
  hist_print_json_us(stdout, &ack_hist);
  if (opt.rate > 0) {
    printf(",\"schedule_lag_us\":");
    hist_print_json_us(stdout, &lag);
  }
  /* The client's own CPU over the whole run (warm-up included): is the load generator the limit? */
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double cpu_s = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  printf(",\"client_cpu_pct\":%.0f", 100 * cpu_s / ((double)(now_ns() - t0) / 1e9));
  print_stream_info(js);
  printf("}\n");
  pthread_mutex_unlock(&ack_mu);
  free(buf);
  jsCtx_Destroy(js);
  return 0;
}

static natsStatus pull_subscribe(natsSubscription **sub, jsCtx *js, jsAckPolicy policy, jsErrCode *jerr) {
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = opt.stream;
  so.Config.AckPolicy = policy;
  so.Config.DeliverPolicy = js_DeliverAll;
  so.Config.MaxAckPending = -1;
  /* A fresh durable per run: a reused one would resume where the last run stopped. */
  char durable[64];
  snprintf(durable, sizeof durable, "natsbench-%d", (int)getpid());
  return js_PullSubscribe(sub, js, opt.subject, durable, NULL, &so, jerr);
}

static int run_consume(natsConnection *nc) {
  jsCtx *js = NULL;
  natsStatus s = natsConnection_JetStream(&js, nc, NULL);
  if (s != NATS_OK) fail("JetStream context", s, 0);
  natsSubscription *sub = NULL;
  jsErrCode jerr = 0;
  /* AckNone is the cheapest way to stream a whole stream through a pull consumer; should
   * a server refuse it, AckAll acknowledging once per batch is the next cheapest. */
  int ack_each_batch = 0;
  s = pull_subscribe(&sub, js, js_AckNone, &jerr);
  if (s != NATS_OK) {
    ack_each_batch = 1;
    s = pull_subscribe(&sub, js, js_AckAll, &jerr);
  }
  if (s != NATS_OK) fail("PullSubscribe", s, jerr);

  uint64_t t0 = now_ns();
  uint64_t deadline = t0 + (uint64_t)(opt.timeout_s * 1e9);
  long long received = 0, bytes = 0;
  int timeouts = 0;
  while (received < opt.count && now_ns() < deadline && timeouts < 10) {
    natsMsgList list = {0};
    jsFetchRequest fr;
    jsFetchRequest_Init(&fr);
    fr.Batch = opt.batch;
    fr.Expires = 1000000000LL; /* 1 s */
    s = natsSubscription_FetchRequest(&list, sub, &fr);
    if (s == NATS_TIMEOUT) {
      timeouts++;
      continue;
    }
    if (s != NATS_OK && list.Count == 0) fail("Fetch", s, 0);
    timeouts = 0;
    for (int i = 0; i < list.Count; i++) bytes += natsMsg_GetDataLength(list.Msgs[i]);
    received += list.Count;
    if (ack_each_batch && list.Count > 0) natsMsg_Ack(list.Msgs[list.Count - 1], NULL);
    natsMsgList_Destroy(&list);
  }
  double seconds = (double)(now_ns() - t0) / 1e9;
  printf("{\"tool\":\"natsbench\",\"mode\":\"consume\",\"stream\":\"%s\",\"target\":%lld,"
         "\"received\":%lld,\"complete\":%s,\"ack_policy\":\"%s\",\"seconds\":%.3f,"
         "\"msgs_per_s\":%.1f,\"mb_per_s\":%.2f}\n",
         opt.stream, opt.count, received, received >= opt.count ? "true" : "false",
         ack_each_batch ? "all" : "none", seconds, received / seconds, bytes / seconds / 1e6);
  natsSubscription_Unsubscribe(sub); /* also deletes the durable the library created */
  natsSubscription_Destroy(sub);
  jsCtx_Destroy(js);
  return 0;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  parse_args(argc, argv);
  if (payload_init("text") != 0) {
    fprintf(stderr, "natsbench: no memory for payloads\n");
    return 1;
  }
  hist_init(&ack_hist);
  natsConnection *nc = NULL;
  natsStatus s = natsConnection_ConnectTo(&nc, opt.url);
  if (s != NATS_OK) fail("connect", s, 0);
  int rc;
  if (strcmp(opt.mode, "publish") == 0) rc = run_publish(nc);
  else if (strcmp(opt.mode, "consume") == 0) rc = run_consume(nc);
  else if (strcmp(opt.mode, "create") == 0) rc = run_create(nc);
  else usage(), rc = 2;
  natsConnection_Destroy(nc);
  nats_Close();
  return rc;
}
