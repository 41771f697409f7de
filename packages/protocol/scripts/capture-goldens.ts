/**
 * Captures golden request bytes from real Kafka clients, and our broker's answers to them.
 *
 * Run (from the repository root; needs kcat and Debian's python3-kafka and
 * python3-confluent-kafka):
 *   node --conditions=source --import tsx packages/protocol/scripts/capture-goldens.ts
 *
 * For each client in test/golden/session.ts, a fresh in-process broker is started on
 * 127.0.0.1 port 0 behind a loopback TCP proxy. The broker advertises the proxy's address
 * (advertised.listeners), so every connection the client opens after bootstrapping comes
 * back through the proxy too. The proxy forwards bytes both ways untouched and, on the
 * side, splits each direction into Kafka frames:
 *
 *   frame    = size:int32 (bytes that follow) | payload
 *   request  = api_key:int16 | api_version:int16 | correlation_id:int32 | ...
 *   response = correlation_id:int32 | ...
 *
 * The first request frame of each (api key, version) a client sends is written to
 * test/golden/<client>/<Api>-v<version>.bin and the response frame with the same
 * correlation id on the same connection to <Api>-v<version>-response.bin. Files hold
 * whole frames, size prefix included. The client's directory is replaced on every run.
 *
 * This script is for regenerating the committed fixtures; the tests never run it. It
 * imports @tributary/broker, which depends on this package, so it lives outside src/ and
 * outside the package's tsconfig on purpose.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { createLogger, startBroker } from '@tributary/broker';
import {
  Reader, apiSpecByKey, decodeProduceRequest, decodeRequestHeader, forEachBatch, readBatchHeader, requestHeaderVersion,
} from '@tributary/protocol';
import {
  CLIENT_VERSIONS, GOLDEN_CLIENTS, HEADER_KEY, HEADER_VALUE, RECORD_COUNT,
  goldenKey, goldenValue, sessionOf, type GoldenClient,
} from '../test/golden/session.js';

const GOLDEN_DIR = resolve(import.meta.dirname, '..', 'test', 'golden');
const DEBIAN_PYTHON = '/usr/bin/python3';
/** A client step that takes longer than this is stuck (a group join takes ~1 s here). */
const STEP_TIMEOUT_MS = 90_000;
/** A client whose first Produce request did not carry the whole session is run again. */
const SESSION_ATTEMPTS_MAX = 3;
/** Frames larger than this are not captured (the session's frames are a few KiB). */
const CAPTURE_FRAME_MAX = 16 * 1024 * 1024;

interface Capture {
  apiKey: number;
  apiVersion: number;
  request: Buffer;
  response?: Buffer;
}

/** Splits a byte stream into whole frames (size prefix included). */
class FrameSplitter {
  private pending: Buffer = Buffer.alloc(0);
  private broken = false;

  constructor(private readonly onFrame: (frame: Buffer) => void) {}

  push(data: Buffer): void {
    if (this.broken) return;
    this.pending = this.pending.length === 0 ? Buffer.from(data) : Buffer.concat([this.pending, data]);
    while (this.pending.length >= 4) {
      const size = this.pending.readInt32BE(0);
      if (size < 0 || size > CAPTURE_FRAME_MAX) {
        // Still forwarded by the proxy; only the capture gives up on this stream.
        console.warn(`capture: frame size ${size} out of range; not capturing this stream further`);
        this.broken = true;
        return;
      }
      if (this.pending.length < 4 + size) return;
      this.onFrame(this.pending.subarray(0, 4 + size));
      this.pending = this.pending.subarray(4 + size);
    }
  }
}

/** The loopback proxy: forwards both ways, records first frames per (api, version). */
class CapturingProxy {
  readonly captures = new Map<string, Capture>();
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private brokerPort = 0;

  constructor() {
    this.server = createServer((client) => this.accept(client));
  }

  async listen(): Promise<number> {
    await new Promise<void>((res, rej) => {
      this.server.once('error', rej);
      this.server.listen(0, '127.0.0.1', () => res());
    });
    const address = this.server.address();
    if (address === null || typeof address === 'string') throw new Error('proxy has no TCP address');
    return address.port;
  }

  forwardTo(brokerPort: number): void {
    this.brokerPort = brokerPort;
  }

  private accept(client: Socket): void {
    const upstream = createConnection({ host: '127.0.0.1', port: this.brokerPort });
    this.sockets.add(client);
    this.sockets.add(upstream);
    // Requests in flight on this connection whose response is to be captured.
    const awaiting = new Map<number, Capture>();
    const requests = new FrameSplitter((frame) => {
      if (frame.length < 12) return;
      const apiKey = frame.readInt16BE(4);
      const apiVersion = frame.readInt16BE(6);
      const correlationId = frame.readInt32BE(8);
      const name = `${apiSpecByKey(apiKey)?.name ?? `Api${apiKey}`}-v${apiVersion}`;
      if (this.captures.has(name)) return;
      const capture: Capture = { apiKey, apiVersion, request: Buffer.from(frame) };
      this.captures.set(name, capture);
      awaiting.set(correlationId, capture);
    });
    const responses = new FrameSplitter((frame) => {
      if (frame.length < 8) return;
      const capture = awaiting.get(frame.readInt32BE(4));
      if (capture === undefined) return;
      awaiting.delete(frame.readInt32BE(4));
      capture.response = Buffer.from(frame);
    });
    client.on('data', (d: Buffer) => {
      requests.push(d);
      upstream.write(d);
    });
    upstream.on('data', (d: Buffer) => {
      responses.push(d);
      client.write(d);
    });
    const closeBoth = () => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on('close', closeBoth);
    upstream.on('close', closeBoth);
    client.on('error', closeBoth);
    upstream.on('error', closeBoth);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((res) => this.server.close(() => res()));
  }
}

interface ProcessResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runProcess(command: string, args: string[], input = ''): Promise<ProcessResult> {
  return new Promise((res, rej) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      rej(new Error(`${command} ${args.join(' ')} timed out after ${STEP_TIMEOUT_MS} ms; stderr:\n${stderr.slice(-4000)}`));
    }, STEP_TIMEOUT_MS);
    child.once('error', (e) => {
      clearTimeout(timer);
      rej(e);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      res({ code, stdout, stderr });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(input);
  });
}

async function mustRun(command: string, args: string[], input = ''): Promise<string> {
  const r = await runProcess(command, args, input);
  if (r.code !== 0) throw new Error(`${command} exited with ${r.code}; stderr:\n${r.stderr.slice(-4000)}`);
  return r.stdout;
}

function indices(): number[] {
  return Array.from({ length: RECORD_COUNT }, (_, i) => i);
}

/** Checks what a client printed while consuming: `key\tvalue\theader` per record. */
function checkConsumed(client: GoldenClient, stdout: string): void {
  const expected = indices().map((i) => `${goldenKey(i)}\t${goldenValue(i)}\t${HEADER_VALUE}`);
  const got = stdout.split('\n').filter((l) => l !== '');
  if (JSON.stringify(got) !== JSON.stringify(expected)) {
    throw new Error(`${client} consumed ${JSON.stringify(got)}, expected ${JSON.stringify(expected)}`);
  }
}

/**
 * kcat has no admin commands: its topic is created by the broker when the producer's
 * Metadata request names it (auto.create.topics.enable, Kafka's default). Creating it
 * with another client would not work either: that client would come back through the
 * proxy and its frames would be recorded as kcat's.
 */
async function sessionKcat(bootstrap: string): Promise<void> {
  const { clientId, topic, groupId } = sessionOf('kcat');
  const input = indices().map((i) => `${goldenKey(i)}\t${goldenValue(i)}\n`).join('');
  await mustRun('kcat', ['-P', '-b', bootstrap, '-t', topic, '-K', '\t', '-H', `${HEADER_KEY}=${HEADER_VALUE}`,
    '-X', `client.id=${clientId}`, '-X', 'acks=all', '-X', 'linger.ms=100', '-X', 'compression.codec=none'], input);
  const out = await mustRun('kcat', ['-b', bootstrap, '-G', groupId, topic, '-X', `client.id=${clientId}`,
    '-X', 'auto.offset.reset=earliest', '-c', String(RECORD_COUNT), '-q', '-f', '%k\\t%s\\t%h\\n']);
  // kcat prints headers as key=value.
  checkConsumed('kcat', out.replaceAll(`${HEADER_KEY}=`, ''));
}

const KAFKA_PYTHON_SESSION = `
import sys
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
bootstrap, client_id, topic, group, count, hkey, hval = sys.argv[1:8]
count = int(count)
admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id=client_id)
admin.create_topics([NewTopic(name=topic, num_partitions=1, replication_factor=1)])
admin.close()
producer = KafkaProducer(bootstrap_servers=bootstrap, client_id=client_id, acks="all", linger_ms=100)
futures = [producer.send(topic, key=("key-%d" % i).encode(), value=("value-%d" % i).encode(), headers=[(hkey, hval.encode())]) for i in range(count)]
producer.flush(30)
for f in futures:
    f.get(timeout=30)
producer.close()
consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, client_id=client_id, group_id=group,
                         auto_offset_reset="earliest", enable_auto_commit=False, consumer_timeout_ms=30000)
seen = 0
for m in consumer:
    sys.stdout.write("%s\\t%s\\t%s\\n" % (m.key.decode(), m.value.decode(), dict(m.headers)[hkey].decode()))
    seen += 1
    if seen >= count:
        break
consumer.commit()
consumer.close()
`;

const CONFLUENT_SESSION = `
import sys
from confluent_kafka import Consumer, Producer, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic
bootstrap, client_id, topic, group, count, hkey, hval = sys.argv[1:8]
count = int(count)
admin = AdminClient({"bootstrap.servers": bootstrap, "client.id": client_id})
for t, f in admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)]).items():
    f.result(timeout=30)
errors = []
def on_delivery(err, msg):
    if err is not None:
        errors.append(str(err))
producer = Producer({"bootstrap.servers": bootstrap, "client.id": client_id, "acks": "all", "linger.ms": 100, "compression.codec": "none"})
# Learn the topic's partitions first: records produced before that wait in librdkafka's
# unassigned queue and may leave in separate requests.
producer.list_topics(topic, timeout=30)
for i in range(count):
    producer.produce(topic, key="key-%d" % i, value="value-%d" % i, headers=[(hkey, hval.encode())], on_delivery=on_delivery)
if producer.flush(30) or errors:
    sys.exit("produce failed: %s" % errors)
consumer = Consumer({"bootstrap.servers": bootstrap, "client.id": client_id, "group.id": group,
                     "auto.offset.reset": "earliest", "enable.auto.commit": False})
consumer.subscribe([topic])
seen = 0
idle = 0
while seen < count and idle < 300:
    m = consumer.poll(0.1)
    if m is None:
        idle += 1
        continue
    if m.error():
        raise KafkaException(m.error())
    sys.stdout.write("%s\\t%s\\t%s\\n" % (m.key().decode(), m.value().decode(), dict(m.headers())[hkey].decode()))
    seen += 1
consumer.commit(asynchronous=False)
consumer.close()
`;

async function sessionPython(client: 'kafka-python' | 'confluent-kafka-python', bootstrap: string): Promise<void> {
  const { clientId, topic, groupId } = sessionOf(client);
  const script = client === 'kafka-python' ? KAFKA_PYTHON_SESSION : CONFLUENT_SESSION;
  const out = await mustRun(DEBIAN_PYTHON, ['-c', script, bootstrap, clientId, topic, groupId, String(RECORD_COUNT), HEADER_KEY, HEADER_VALUE]);
  checkConsumed(client, out);
}

async function sessionKafkajs(bootstrap: string): Promise<void> {
  const { clientId, topic, groupId } = sessionOf('kafkajs');
  const kafka = new Kafka({ clientId, brokers: [bootstrap], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
  await admin.disconnect();
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({
    topic,
    acks: -1,
    messages: indices().map((i) => ({ key: goldenKey(i), value: goldenValue(i), headers: { [HEADER_KEY]: HEADER_VALUE } })),
  });
  await producer.disconnect();
  const consumer = kafka.consumer({ groupId, sessionTimeout: 10_000, rebalanceTimeout: 10_000 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const lines: string[] = [];
  await new Promise<void>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`kafkajs consumed only ${lines.length} records`)), STEP_TIMEOUT_MS);
    void consumer.run({
      autoCommit: false,
      eachMessage: async ({ message, partition }) => {
        lines.push(`${message.key}\t${message.value}\t${message.headers?.[HEADER_KEY]}`);
        if (lines.length === RECORD_COUNT) {
          await consumer.commitOffsets([{ topic, partition, offset: String(Number(message.offset) + 1) }]);
          clearTimeout(timer);
          res();
        }
      },
    });
  });
  await consumer.disconnect();
  checkConsumed('kafkajs', lines.join('\n'));
}

async function captureClient(client: GoldenClient): Promise<Map<string, Capture>> {
  const proxy = new CapturingProxy();
  const proxyPort = await proxy.listen();
  const dataDir = mkdtempSync(join(tmpdir(), 'tributary-goldens-'));
  const broker = await startBroker({
    dataDir,
    host: '127.0.0.1',
    port: 0,
    config: {
      'advertised.listeners': `PLAINTEXT://127.0.0.1:${proxyPort}`,
      'group.initial.rebalance.delay.ms': 0,
    },
    logger: createLogger({ level: 'warn' }),
  });
  proxy.forwardTo(broker.listeners[0]!.port);
  const bootstrap = `127.0.0.1:${proxyPort}`;
  try {
    if (client === 'kcat') await sessionKcat(bootstrap);
    else if (client === 'kafkajs') await sessionKafkajs(bootstrap);
    else await sessionPython(client, bootstrap);
  } finally {
    await proxy.close();
    await broker.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
  return proxy.captures;
}

function writeFixtures(client: GoldenClient, captures: Map<string, Capture>): void {
  const dir = join(GOLDEN_DIR, client);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const [name, capture] of [...captures].sort(([a], [b]) => a.localeCompare(b))) {
    writeFileSync(join(dir, `${name}.bin`), capture.request);
    if (capture.response !== undefined) writeFileSync(join(dir, `${name}-response.bin`), capture.response);
    console.log(`  ${client}/${name}: request ${capture.request.length} B, response ${capture.response?.length ?? '-'} B`);
  }
}

/**
 * Records in the first Produce request. The golden tests expect all RECORD_COUNT there,
 * but a client may send its first records alone (librdkafka does when the first record
 * arrives before the topic's metadata), so the capture checks and retries.
 */
function recordsInFirstProduce(captures: Map<string, Capture>): number {
  const produce = [...captures.values()].find((c) => c.apiKey === 0);
  if (produce === undefined) return 0;
  const r = new Reader(produce.request, 4);
  decodeRequestHeader(r, requestHeaderVersion(0, produce.apiVersion));
  let count = 0;
  for (const topic of decodeProduceRequest(r, produce.apiVersion).topicData) {
    for (const partition of topic.partitionData) {
      const data = partition.records;
      if (data !== null) forEachBatch(data, (offset) => (count += readBatchHeader(data, offset).recordCount));
    }
  }
  return count;
}

const only = process.argv.slice(2) as GoldenClient[];
for (const client of GOLDEN_CLIENTS) {
  if (only.length > 0 && !only.includes(client)) continue;
  console.log(`${client} (${CLIENT_VERSIONS[client]})`);
  for (let attempt = 1; ; attempt++) {
    const captures = await captureClient(client);
    const produced = recordsInFirstProduce(captures);
    if (produced === RECORD_COUNT) {
      writeFixtures(client, captures);
      break;
    }
    if (attempt === SESSION_ATTEMPTS_MAX) {
      throw new Error(`${client}: first Produce request carried ${produced} of ${RECORD_COUNT} records in ${attempt} attempts`);
    }
    console.log(`  first Produce request carried ${produced} of ${RECORD_COUNT} records; running the session again`);
  }
}
