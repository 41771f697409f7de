// The cost of serving old fetchers: the same stored data read with Fetch v11 (v2 batches as
// stored, no conversion), Fetch v3 (down-converted to magic 1) and Fetch v1 (magic 0), from
// a broker in this process over loopback, for an uncompressed and a gzip topic; plus the
// conversion function alone on one 1 MiB batch. MB/s counts the v2 bytes stored (the same
// data in every row), so the rows compare directly.
// Run: node --conditions=source --import tsx bench/micro/down-conversion.ts
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type Socket } from 'node:net';
import {
  ApiKey, CompressionType, ErrorCode, Reader, Writer, apiSpecByKey, decodeResponseHeader, downConvertBatches, encodeBatch, encodeRequestHeader,
  requestHeaderVersion, responseHeaderVersion, type FetchResponse,
} from '../../packages/protocol/src/index.js';
import { createLogger, startBroker } from '../../packages/broker/src/index.js';
import { RawClient } from '../../packages/broker/test/helpers/raw-client.js';
import { measure, row } from './measure.js';

/**
 * One request at a time over one socket, collecting a response's chunks and joining them
 * once (the test kit's RawClient joins on every chunk, which for 1 MiB responses costs more
 * than the broker's work and would hide the difference measured here).
 */
class LeanClient {
  private chunks: Buffer[] = [];
  private received = 0;
  private waiting: (() => void) | null = null;
  private correlationId = 0;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.received += chunk.length;
      this.waiting?.();
    });
  }

  static open(port: number): Promise<LeanClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port }, () => resolve(new LeanClient(socket)));
      socket.once('error', reject);
    });
  }

  async request(apiKey: number, version: number, body: unknown): Promise<unknown> {
    const spec = apiSpecByKey(apiKey)!;
    const w = new Writer();
    const slot = w.reserveInt32();
    const correlationId = ++this.correlationId;
    encodeRequestHeader(w, requestHeaderVersion(apiKey, version), { requestApiKey: apiKey, requestApiVersion: version, correlationId, clientId: 'bench' });
    spec.encodeRequest(w, version, body);
    w.endSizePrefix(slot);
    this.socket.write(w.finish());
    while (this.received < 4 || this.received < 4 + Buffer.concat(this.chunks.slice(0, 4)).readInt32BE(0)) {
      await new Promise<void>((resolve) => (this.waiting = resolve));
    }
    const frame = Buffer.concat(this.chunks, this.received).subarray(4);
    this.chunks = [];
    this.received = 0;
    const r = new Reader(frame);
    const header = decodeResponseHeader(r, responseHeaderVersion(apiKey, version));
    if (header.correlationId !== correlationId) throw new Error(`correlation id ${header.correlationId}, expected ${correlationId}`);
    return spec.decodeResponse(r, version);
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Stored per topic; large enough that a pass takes well over the timer's resolution. */
const TOPIC_BYTES = 64 * 1024 * 1024;
const RECORDS_PER_BATCH = 512;
const PARTITION_MAX_BYTES = 1024 * 1024;
const PASSES = 3;

/** Values of ~1 KiB that gzip shrinks about as much as real JSON or text (to ~75%, base64 of random bytes), not 50x. */
const VALUE_POOL = Array.from({ length: 256 }, () => Buffer.from(randomBytes(700 + Math.floor(Math.random() * 100)).toString('base64')));
const value = (i: number) => VALUE_POOL[i % VALUE_POOL.length]!;
const batchOf = (from: number, compression: CompressionType) =>
  encodeBatch({ compression, timestamp: 1_700_000_000_000, records: Array.from({ length: RECORDS_PER_BATCH }, (_, j) => ({ key: Buffer.from(`key-${from + j}`), value: value(from + j) })) });

console.log(`node ${process.version}; ${RECORDS_PER_BATCH} records of ~1 KiB per batch, ${TOPIC_BYTES >> 20} MiB stored per topic, fetches of ${PARTITION_MAX_BYTES} bytes per partition`);

for (const [name, compression] of [['none', CompressionType.NONE], ['gzip', CompressionType.GZIP]] as const) {
  const batch = await batchOf(0, compression);
  const plain = await measure(batch.length, async () => {
    const r = await downConvertBatches(batch, 1, 0);
    if (!r.ok) throw new Error(r.message);
  });
  row(`downConvertBatches to magic 1, ${name}, 1 batch`, plain, `${batch.length} bytes stored, MB/s of stored bytes`);
}

const dir = mkdtempSync(join(tmpdir(), 'tributary-bench-downconv-'));
const broker = await startBroker({ dataDir: dir, port: 0, logger: createLogger({ level: 'warn' }) });
const client = await RawClient.open(broker.port);
const lean = await LeanClient.open(broker.port);
try {
  for (const [name, compression] of [['none', CompressionType.NONE], ['gzip', CompressionType.GZIP]] as const) {
    const topic = `downconv-${name}`;
    const created = await client.request('CreateTopics', 7, { topics: [{ name: topic, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 5000, validateOnly: false });
    if (created.topics[0]!.errorCode !== ErrorCode.NONE) throw new Error(`CreateTopics ${topic}: ${created.topics[0]!.errorCode}`);
    let stored = 0;
    let records = 0;
    while (stored < TOPIC_BYTES) {
      const batch = await batchOf(records, compression);
      const r = await client.request('Produce', 9, { transactionalId: null, acks: 1, timeoutMs: 5000, topicData: [{ name: topic, partitionData: [{ index: 0, records: batch }] }] });
      const code = r.responses[0]!.partitionResponses[0]!.errorCode;
      if (code !== ErrorCode.NONE) throw new Error(`Produce of a ${batch.length}-byte batch failed with error ${code}`);
      stored += batch.length;
      records += RECORDS_PER_BATCH;
    }
    for (const version of [11, 3, 1]) {
      let best = 0;
      let sent = 0;
      for (let pass = 0; pass < PASSES; pass++) {
        let offset = 0;
        sent = 0;
        const start = performance.now();
        while (offset < records) {
          const r = (await lean.request(ApiKey.Fetch, version, {
            replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 64 * 1024 * 1024, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
            topics: [{ topic, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: offset, lastFetchedEpoch: -1, logStartOffset: -1, partitionMaxBytes: PARTITION_MAX_BYTES }] }],
            forgottenTopicsData: [], rackId: '',
          })) as FetchResponse;
          const p = r.responses[0]!.partitions[0]!;
          if (p.errorCode !== ErrorCode.NONE) throw new Error(`Fetch v${version}: error ${p.errorCode}`);
          sent += p.records!.length;
          offset = nextOffset(p.records!, version, offset);
        }
        const seconds = (performance.now() - start) / 1000;
        best = Math.max(best, stored / seconds / 1e6);
      }
      row(`Fetch v${version} (${version >= 4 ? 'v2, as stored' : `magic ${version <= 1 ? 0 : 1}`}), ${name}`, best, `${(sent / 1e6).toFixed(1)} MB sent for ${(stored / 1e6).toFixed(1)} MB stored, best of ${PASSES}`);
    }
  }
} finally {
  client.close();
  lean.close();
  await broker.close();
  rmSync(dir, { recursive: true, force: true });
}

/** The offset after the last complete entry: a v2 batch's last offset, or a legacy message's (a wrapper's is its last inner offset). */
function nextOffset(records: Buffer, version: number, current: number): number {
  let next = current;
  let at = 0;
  while (at + 12 <= records.length) {
    const size = records.readInt32BE(at + 8);
    if (at + 12 + size > records.length) break;
    const base = Number(records.readBigInt64BE(at));
    next = version >= 4 ? base + records.readInt32BE(at + 23) + 1 : base + 1;
    at += 12 + size;
  }
  if (next === current) throw new Error(`Fetch v${version} at offset ${current} returned no complete entry`);
  return next;
}

