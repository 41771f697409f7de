// kafkajsload: the TLS bench's KafkaJS client (bench/macro/tls.mjs, TLS_BENCH_CLIENT=kafkajs).
// KafkaJS 2.2.4 from the workspace's node_modules. One mode per run, one JSON line on
// stdout like tribload's:
//
//   produce  -n records of -s bytes, null keys (KafkaJS's default partitioner spreads them
//            round-robin), acks=1 as tribload; KafkaJS has no linger or batch.size of its
//            own (every send() is one Produce request per broker), so the program calls
//            send() with --batch records and keeps --inflight sends outstanding.
//            Timed from the first send to the last ack.
//   consume  reads -n records with a group consumer (KafkaJS has no group-less consumer)
//            from the beginning, eachBatch; timed from the first record to the n-th, so
//            the group join (and the broker's initial rebalance delay) is not counted.
//
// The JSON line also has `requests`: the requests sent, by API name (from KafkaJS's
// instrumentation events), which shows how KafkaJS batched the run.
//
// Configuration: KafkaJS's defaults (maxBytesPerPartition 1 MiB, maxBytes 10 MiB, minBytes 1,
// maxWaitTimeInMs 5000) but the batching above; --tls-ca turns on ssl: {ca, servername}.
//
//   node bench/loadgen/kafkajsload.mjs produce|consume -b HOST:PORT -t TOPIC -n COUNT
//        [-s 1024] [--batch 1000] [--inflight 4] [--tls-ca FILE]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import kafkajs from 'kafkajs';

const { Kafka, logLevel } = kafkajs;
const mode = process.argv[2];
const { values: o } = parseArgs({
  args: process.argv.slice(3),
  options: {
    b: { type: 'string', default: '127.0.0.1:9092' },
    t: { type: 'string', default: 'bench' },
    n: { type: 'string', default: '100000' },
    s: { type: 'string', default: '1024' },
    batch: { type: 'string', default: '1000' },
    inflight: { type: 'string', default: '4' },
    'tls-ca': { type: 'string' },
  },
});
const n = Number(o.n);
const size = Number(o.s);
const fail = (message) => {
  console.error(`kafkajsload: ${message}`);
  console.log(JSON.stringify({ tool: 'kafkajsload', mode, error: message }));
  process.exit(1);
};
const ssl = o['tls-ca'] !== undefined ? { ca: [readFileSync(o['tls-ca'])], servername: 'localhost' } : undefined;
const kafka = new Kafka({ clientId: 'kafkajsload', brokers: [o.b], ssl, logLevel: logLevel.ERROR });
/** Requests sent, by API name (KafkaJS's instrumentation events): shows how the client batches. */
const requests = {};
const countRequests = (client) => client.on(client.events.REQUEST, (e) => { requests[e.payload.apiName] = (requests[e.payload.apiName] ?? 0) + 1; });
const report = (count, bytes, seconds) =>
  console.log(JSON.stringify({ tool: 'kafkajsload', mode, count, seconds, msgs_per_s: count / seconds, mb_per_s: bytes / seconds / 1e6, requests }));

if (mode === 'produce') {
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  countRequests(producer);
  await producer.connect();
  const value = Buffer.alloc(size, 'abcdefghijklmnopqrstuvwxyz'); // one shared value, as tribload
  const batch = Number(o.batch);
  let next = 0;
  const started = process.hrtime.bigint();
  const worker = async () => {
    while (next < n) {
      const count = Math.min(batch, n - next);
      next += count;
      const messages = new Array(count);
      for (let i = 0; i < count; i++) messages[i] = { value };
      await producer.send({ topic: o.t, acks: 1, messages });
    }
  };
  try {
    await Promise.all(Array.from({ length: Number(o.inflight) }, worker));
  } catch (err) {
    fail(`produce: ${err.message}`);
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  report(n, n * size, seconds);
  await producer.disconnect();
} else if (mode === 'consume') {
  const consumer = kafka.consumer({ groupId: `kafkajsload-${o.t}-${process.pid}` });
  countRequests(consumer);
  await consumer.connect();
  await consumer.subscribe({ topic: o.t, fromBeginning: true });
  let received = 0;
  let bytes = 0;
  let first = 0n;
  const done = new Promise((resolve) => {
    consumer.run({
      eachBatch: async ({ batch }) => {
        if (first === 0n) first = process.hrtime.bigint();
        for (const m of batch.messages) bytes += m.value?.length ?? 0;
        received += batch.messages.length;
        if (received >= n) resolve();
      },
    });
  });
  const timeout = setTimeout(() => fail(`timed out after ${received} of ${n} records`), 600_000);
  await done;
  clearTimeout(timeout);
  report(received, bytes, Number(process.hrtime.bigint() - first) / 1e9);
  await consumer.disconnect();
} else {
  fail(`unknown mode ${mode}: produce or consume`);
}
