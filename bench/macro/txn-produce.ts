// Transactional vs idempotent produce, in one run against one broker (issue #17's target:
// transactional throughput >= 70% of idempotent for 1 KiB records with 100 ms transactions).
//
//   node --conditions=source --import tsx bench/macro/txn-produce.ts [--seconds 5] [--rounds 3]
//
// The broker runs as its own process (packages/broker/src/main.ts from source, a fresh data
// directory, port chosen here), stopped by PID at the end. The client is a raw-protocol
// producer in this process with the same request shape in both modes: Produce v9, acks=all,
// one batch of 16 uncompressed 1 KiB records for each of 3 partitions per request, up to 5
// requests in flight (what an idempotent producer may have). The transactional mode adds
// what a Java producer does per transaction: AddPartitionsToTxn before the first send
// (retried after 20 ms on CONCURRENT_TRANSACTIONS, the Java client's backoff), sends for
// 100 ms, waits for them, then EndTxn(commit). Each round runs both modes, in alternating
// order, so drift of the shared machine hits both; the table reports each round and the
// medians.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  ApiKey, ErrorCode, Reader, Writer, apiSpecByKey, decodeResponseHeader, encodeBatchSync, encodeRequestHeader, requestHeaderVersion, responseHeaderVersion,
  type ApiMessages,
} from '@tributary/protocol';

const { values: args } = parseArgs({ options: { seconds: { type: 'string', default: '5' }, rounds: { type: 'string', default: '3' } } });
const SECONDS = Number(args.seconds);
const ROUNDS = Number(args.rounds);
const RECORD_BYTES = 1024;
const RECORDS_PER_BATCH = 16;
const PARTITIONS = 3;
const IN_FLIGHT = 5;
const TRANSACTION_MS = 100;
const CONCURRENT_RETRY_MS = 20;
const TOPIC = 'bench-txn';
const REPO_ROOT = resolve(import.meta.dirname, '..', '..');

type Api = keyof ApiMessages & keyof typeof ApiKey;

/** A pipelining client: requests go out at once, responses resolve by correlation id. */
class Client {
  private buffered = Buffer.alloc(0);
  private readonly pending = new Map<number, { api: Api; version: number; resolve: (r: unknown) => void }>();
  private nextId = 1;
  private constructor(private readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
      while (this.buffered.length >= 4 && this.buffered.length >= 4 + this.buffered.readInt32BE(0)) {
        const size = this.buffered.readInt32BE(0);
        const frame = this.buffered.subarray(4, 4 + size);
        this.buffered = this.buffered.subarray(4 + size);
        const r = new Reader(frame);
        const correlationId = frame.readInt32BE(0);
        const p = this.pending.get(correlationId)!;
        this.pending.delete(correlationId);
        decodeResponseHeader(r, responseHeaderVersion(ApiKey[p.api], p.version));
        p.resolve(apiSpecByKey(ApiKey[p.api])!.decodeResponse(r, p.version));
      }
    });
  }

  static open(port: number): Promise<Client> {
    return new Promise((res, rej) => {
      const s = connect({ host: '127.0.0.1', port }, () => res(new Client(s)));
      s.once('error', rej);
    });
  }

  request<K extends Api>(api: K, version: number, body: ApiMessages[K]['request']): Promise<ApiMessages[K]['response']> {
    const apiKey = ApiKey[api];
    const correlationId = this.nextId++;
    const w = new Writer();
    const slot = w.reserveInt32();
    encodeRequestHeader(w, requestHeaderVersion(apiKey, version), { requestApiKey: apiKey, requestApiVersion: version, correlationId, clientId: 'txn-bench' });
    apiSpecByKey(apiKey)!.encodeRequest(w, version, body);
    w.endSizePrefix(slot);
    return new Promise((resolve) => {
      this.pending.set(correlationId, { api, version, resolve: resolve as (r: unknown) => void });
      this.socket.write(w.finish());
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

async function freePort(): Promise<number> {
  return new Promise((res) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

const value = Buffer.alloc(RECORD_BYTES, 'v');
const records = Array.from({ length: RECORDS_PER_BATCH }, () => ({ key: null, value }));

interface Producer { producerId: number; producerEpoch: number; sequences: number[]; transactionalId: string | null }

function produceRequest(p: Producer): ApiMessages['Produce']['request'] {
  const partitionData = [];
  for (let partition = 0; partition < PARTITIONS; partition++) {
    const baseSequence = p.sequences[partition]!;
    p.sequences[partition] = baseSequence + RECORDS_PER_BATCH;
    partitionData.push({ index: partition, records: encodeBatchSync({ producerId: p.producerId, producerEpoch: p.producerEpoch, baseSequence, transactional: p.transactionalId !== null, records }) });
  }
  return { transactionalId: p.transactionalId, acks: -1, timeoutMs: 30_000, topicData: [{ name: TOPIC, partitionData }] };
}

function check(r: ApiMessages['Produce']['response']): number {
  let acked = 0;
  for (const t of r.responses) for (const p of t.partitionResponses) {
    if (p.errorCode !== ErrorCode.NONE) throw new Error(`produce failed: error ${p.errorCode} ${p.errorMessage ?? ''}`);
    acked += RECORDS_PER_BATCH;
  }
  return acked;
}

/** Sends with up to IN_FLIGHT requests outstanding until `until()`; resolves to records acknowledged. */
async function sendWhile(client: Client, p: Producer, until: () => boolean): Promise<number> {
  let acked = 0;
  const inflight = new Set<Promise<void>>();
  while (until()) {
    if (inflight.size >= IN_FLIGHT) {
      await Promise.race(inflight);
      continue;
    }
    const req = client.request('Produce', 9, produceRequest(p)).then((r) => { acked += check(r); }).finally(() => inflight.delete(req));
    inflight.add(req);
  }
  await Promise.all(inflight);
  return acked;
}

async function idempotent(client: Client, seconds: number): Promise<number> {
  const init = await client.request('InitProducerId', 4, { transactionalId: null, transactionTimeoutMs: 60_000, producerId: -1, producerEpoch: -1 });
  const p: Producer = { producerId: init.producerId, producerEpoch: init.producerEpoch, sequences: new Array(PARTITIONS).fill(0), transactionalId: null };
  const end = performance.now() + seconds * 1000;
  return sendWhile(client, p, () => performance.now() < end);
}

let txnCounter = 0;
async function transactional(client: Client, seconds: number): Promise<{ records: number; transactions: number; concurrentRetries: number; overheadMs: number }> {
  const transactionalId = `bench-txn-${txnCounter++}`;
  const found = await client.request('FindCoordinator', 3, { key: transactionalId, keyType: 1 });
  if (found.errorCode !== ErrorCode.NONE) throw new Error(`FindCoordinator: ${found.errorCode}`);
  const init = await client.request('InitProducerId', 4, { transactionalId, transactionTimeoutMs: 60_000, producerId: -1, producerEpoch: -1 });
  if (init.errorCode !== ErrorCode.NONE) throw new Error(`InitProducerId: ${init.errorCode}`);
  const p: Producer = { producerId: init.producerId, producerEpoch: init.producerEpoch, sequences: new Array(PARTITIONS).fill(0), transactionalId };
  const end = performance.now() + seconds * 1000;
  let total = 0;
  let transactions = 0;
  let concurrentRetries = 0;
  // Time outside the 100 ms of sending: AddPartitionsToTxn, draining, EndTxn.
  let overheadMs = 0;
  while (performance.now() < end) {
    const started = performance.now();
    for (;;) {
      const add = await client.request('AddPartitionsToTxn', 3, { v3AndBelowTransactionalId: transactionalId, v3AndBelowProducerId: p.producerId, v3AndBelowProducerEpoch: p.producerEpoch, v3AndBelowTopics: [{ name: TOPIC, partitions: Array.from({ length: PARTITIONS }, (_, i) => i) }] });
      const code = add.resultsByTopicV3AndBelow![0]!.resultsByPartition[0]!.partitionErrorCode;
      if (code === ErrorCode.NONE) break;
      if (code !== ErrorCode.CONCURRENT_TRANSACTIONS) throw new Error(`AddPartitionsToTxn: ${code}`);
      concurrentRetries++;
      await new Promise((r) => setTimeout(r, CONCURRENT_RETRY_MS));
    }
    const sendFrom = performance.now();
    const txnEnd = Math.min(end, sendFrom + TRANSACTION_MS);
    total += await sendWhile(client, p, () => performance.now() < txnEnd);
    const ended = await client.request('EndTxn', 3, { transactionalId, producerId: p.producerId, producerEpoch: p.producerEpoch, committed: true });
    if (ended.errorCode !== ErrorCode.NONE) throw new Error(`EndTxn: ${ended.errorCode}`);
    transactions++;
    overheadMs += performance.now() - started - (txnEnd - sendFrom);
  }
  return { records: total, transactions, concurrentRetries, overheadMs: overheadMs / Math.max(1, transactions) };
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'trib-txn-bench-'));
  const port = await freePort();
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', join(REPO_ROOT, 'packages/broker/src/main.ts'),
    '--override', `listeners=PLAINTEXT://127.0.0.1:${port}`, '--override', `log.dirs=${dataDir}`], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((res, rej) => {
      let out = '';
      child.stdout!.on('data', (d: Buffer) => { out += d.toString(); if (out.includes('listening on')) res(); });
      child.once('exit', (code) => rej(new Error(`broker exited with ${code}`)));
    });
    child.stdout!.resume();
    const client = await Client.open(port);
    const created = await client.request('CreateTopics', 7, { topics: [{ name: TOPIC, numPartitions: PARTITIONS, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 10_000, validateOnly: false });
    if (created.topics[0]!.errorCode !== ErrorCode.NONE) throw new Error(`CreateTopics: ${created.topics[0]!.errorCode}`);
    // Warm-up: both paths once, briefly (JIT, the first transaction creates __transaction_state).
    await idempotent(client, 1);
    await transactional(client, 1);
    const rows: { round: number; idem: number; txn: number; transactions: number; retries: number; overheadMs: number }[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      // Alternate which mode goes first, so that neither always follows the other.
      let idem = 0;
      if (round % 2 === 1) idem = (await idempotent(client, SECONDS)) / SECONDS;
      const t = await transactional(client, SECONDS);
      if (round % 2 === 0) idem = (await idempotent(client, SECONDS)) / SECONDS;
      rows.push({ round, idem, txn: t.records / SECONDS, transactions: t.transactions, retries: t.concurrentRetries, overheadMs: t.overheadMs });
    }
    client.close();
    const mib = (recordsPerSec: number) => ((recordsPerSec * RECORD_BYTES) / (1024 * 1024)).toFixed(1);
    console.log(`| round | idempotent rec/s (MiB/s) | transactional rec/s (MiB/s) | ratio | transactions | ms per transaction outside sending | CONCURRENT_TRANSACTIONS retries |`);
    console.log(`|---|---|---|---|---|---|---|`);
    for (const r of rows) console.log(`| ${r.round} | ${Math.round(r.idem)} (${mib(r.idem)}) | ${Math.round(r.txn)} (${mib(r.txn)}) | ${((100 * r.txn) / r.idem).toFixed(0)}% | ${r.transactions} | ${r.overheadMs.toFixed(1)} | ${r.retries} |`);
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const mi = median(rows.map((r) => r.idem));
    const mt = median(rows.map((r) => r.txn));
    console.log(`| median | ${Math.round(mi)} (${mib(mi)}) | ${Math.round(mt)} (${mib(mt)}) | ${((100 * mt) / mi).toFixed(0)}% | | | |`);
  } finally {
    child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
