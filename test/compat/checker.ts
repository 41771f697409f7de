/**
 * The write checker of the fault tests: it records every record a client sends and every
 * acknowledgement the broker gives, then reads each partition back from the broker and
 * checks Kafka's produce contract.
 *
 * What a record looks like: every record carries a unique id, and its key, value and
 * headers are all derived from that id and the seeded RNG, so a record read back can be
 * matched to exactly one send and compared byte for byte:
 *
 *   key     = "k-<id>"
 *   value   = "v-<id>-<filler of 0..maxFiller random letters>"
 *   headers = [ "id" -> <id>, "n" -> <sequence mod 7> ]
 *
 * Checks, per partition, on what the broker returns from offset 0 up to its high watermark:
 *  - offsets are contiguous from the log start offset (0: these tests delete nothing) to
 *    the high watermark, and every batch passes its CRC;
 *  - every record read was sent to that partition and is intact (same key, value, headers);
 *  - every acknowledged record is present at the offset the broker acknowledged;
 *  - a record appears at most `maxCopies` times (1 for a client that never resends; a
 *    client that retries without idempotence may legitimately write an unacknowledged
 *    record again, so it declares Infinity);
 *  - what an earlier verification read is still there, at the same offsets (after kill -9
 *    the page cache survives, so nothing a consumer could read may vanish).
 * Unacknowledged records may or may not be present.
 */
import assert from 'node:assert/strict';
import { decodeBatchSync, type DecodedRecord } from '@tributary/protocol';
import type { RawClient } from '../../packages/broker/test/helpers/raw-client.js';

/** mulberry32: small, fast, seedable; good enough to pick fuzz inputs and fillers. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed from TRIBUTARY_SEED, else a fresh one; print it so a failure can be replayed. */
export function testSeed(): number {
  const fromEnv = process.env['TRIBUTARY_SEED'];
  if (fromEnv !== undefined && fromEnv !== '') return Number(fromEnv) >>> 0;
  return (Math.random() * 2 ** 32) >>> 0;
}

export interface TestRecord {
  readonly id: string;
  readonly key: string;
  readonly value: string;
  readonly headers: readonly { key: string; value: string }[];
}

interface SentRecord extends TestRecord {
  readonly topic: string;
  readonly partition: number;
  readonly maxCopies: number;
}

/** One record as read back from the broker. */
export interface ReadRecord {
  offset: number;
  key: string | null;
  value: string | null;
  headers: { key: string; value: string | null }[];
}

export interface VerifyReport {
  partitions: number;
  recordsRead: number;
  acknowledgedChecked: number;
  unacknowledgedPresent: number;
  /** Records present more than once (only possible for clients that retry). */
  duplicates: number;
}

const LETTERS = 'abcdefghijklmnopqrstuvwxyz';

export class WriteChecker {
  private readonly sent = new Map<string, SentRecord>();
  /** id -> acknowledged "topic/partition/offset". */
  private readonly acked = new Map<string, string>();
  /** "topic/partition" -> ids in offset order, as the last verification read them. */
  private readonly observed = new Map<string, string[]>();
  private readonly partitions = new Set<string>();
  private nextSequence = 0;
  acknowledgedCount = 0;

  constructor(private readonly random: () => number, private readonly maxFiller = 300) {}

  /** Distinct records acknowledged so far. */
  get acknowledgedIds(): number {
    return this.acked.size;
  }

  /** Declares a partition the checker must read back (even if nothing is ever acknowledged). */
  track(topic: string, partition: number): void {
    this.partitions.add(`${topic}/${partition}`);
  }

  /** Builds a new unique record for `topic`/`partition` and remembers it as sent. */
  newRecord(clientTag: string, topic: string, partition: number, maxCopies = 1): TestRecord {
    const seq = this.nextSequence++;
    const id = `${clientTag}-${seq}`;
    let filler = '';
    const n = Math.floor(this.random() * (this.maxFiller + 1));
    for (let i = 0; i < n; i++) filler += LETTERS[Math.floor(this.random() * LETTERS.length)];
    const record: SentRecord = {
      id, topic, partition, maxCopies,
      key: `k-${id}`,
      value: `v-${id}-${filler}`,
      headers: [{ key: 'id', value: id }, { key: 'n', value: String(seq % 7) }],
    };
    this.sent.set(id, record);
    this.track(topic, partition);
    return record;
  }

  /** The broker acknowledged `records` (in order) at `baseOffset` of topic/partition. */
  acknowledge(topic: string, partition: number, baseOffset: number, records: readonly TestRecord[]): void {
    assert.ok(Number.isSafeInteger(baseOffset) && baseOffset >= 0, `acknowledged base offset ${baseOffset} of ${topic}-${partition} is not an offset`);
    for (let i = 0; i < records.length; i++) {
      const id = records[i]!.id;
      // A retrying client can be acknowledged twice for one record: the later ack wins
      // only if it names the same place; two different acknowledged places is a
      // duplicate the checker reports through maxCopies when it reads back.
      this.acked.set(id, `${topic}/${partition}/${baseOffset + i}`);
    }
    this.acknowledgedCount += records.length;
  }

  /**
   * Reads every tracked partition back and checks the contract (see the header).
   * Acknowledgements that arrive while it runs are not checked (they are next time).
   */
  async verify(client: RawClient, context: string): Promise<VerifyReport> {
    const ackedSnapshot = new Map(this.acked);
    const report: VerifyReport = { partitions: 0, recordsRead: 0, acknowledgedChecked: 0, unacknowledgedPresent: 0, duplicates: 0 };
    const where = new Map<string, number[]>();
    const readBack = new Map<string, ReadRecord[]>();
    for (const tp of [...this.partitions].sort()) {
      const slash = tp.lastIndexOf('/');
      const topic = tp.slice(0, slash);
      const partition = Number(tp.slice(slash + 1));
      const records = await readPartition(client, topic, partition);
      readBack.set(tp, records);
      report.partitions++;
      report.recordsRead += records.length;
      for (let i = 0; i < records.length; i++) {
        const r = records[i]!;
        assert.equal(r.offset, i, `${context}: ${topic}-${partition}: offsets are not contiguous from 0: record ${i} has offset ${r.offset}`);
        const id = r.headers.find((h) => h.key === 'id')?.value ?? null;
        const sent = id === null ? undefined : this.sent.get(id);
        if (sent === undefined) assert.fail(`${context}: ${topic}-${partition} offset ${r.offset}: a record nobody sent (key ${r.key}, headers ${JSON.stringify(r.headers)})`);
        assert.ok(sent.topic === topic && sent.partition === partition, `${context}: record ${id} was sent to ${sent.topic}-${sent.partition} but is in ${topic}-${partition} at ${r.offset}`);
        assert.equal(r.key, sent.key, `${context}: ${topic}-${partition} offset ${r.offset}: key damaged`);
        assert.equal(r.value, sent.value, `${context}: ${topic}-${partition} offset ${r.offset}: value damaged`);
        assert.deepEqual(r.headers, sent.headers, `${context}: ${topic}-${partition} offset ${r.offset}: headers damaged`);
        const list = where.get(id!);
        if (list === undefined) where.set(id!, [r.offset]);
        else {
          list.push(r.offset);
          report.duplicates++;
          assert.ok(list.length <= sent.maxCopies, `${context}: record ${id} (never resent by its client) appears at offsets ${list.join(', ')} of ${topic}-${partition}`);
        }
        if (!ackedSnapshot.has(id!)) report.unacknowledgedPresent++;
      }
      // What the previous verification read must still be there, unchanged.
      const before = this.observed.get(tp) ?? [];
      assert.ok(records.length >= before.length, `${context}: ${topic}-${partition} shrank from ${before.length} to ${records.length} records`);
      for (let i = 0; i < before.length; i++) {
        const id = records[i]!.headers.find((h) => h.key === 'id')?.value;
        if (id !== before[i]) assert.fail(`${context}: ${topic}-${partition} offset ${i} held ${before[i]} at the previous check and now holds ${id}`);
      }
    }
    for (const [id, place] of ackedSnapshot) {
      const sent = this.sent.get(id)!;
      const parts = place.split('/');
      const offset = Number(parts[parts.length - 1]);
      const records = readBack.get(`${sent.topic}/${sent.partition}`)!;
      const r = records[offset];
      if (r === undefined) assert.fail(`${context}: acknowledged record ${id} at ${sent.topic}-${sent.partition} offset ${offset} is missing (the partition has ${records.length} records)`);
      const there = r.headers.find((h) => h.key === 'id')?.value;
      if (there !== id) assert.fail(`${context}: acknowledged record ${id} at ${sent.topic}-${sent.partition} offset ${offset} is not there; found ${there}`);
      report.acknowledgedChecked++;
    }
    for (const [tp, records] of readBack) {
      this.observed.set(tp, records.map((r) => r.headers.find((h) => h.key === 'id')!.value!));
    }
    return report;
  }
}

/** Fetch version used to read back: the newest that still names topics (v13+ use ids). */
const READ_FETCH_VERSION = 12;
const READ_MAX_BYTES = 8 * 1024 * 1024;

/**
 * Every record of one partition from offset 0 up to the high watermark seen by the first
 * fetch (appends that race with the read are left for the next verification).
 */
export async function readPartition(client: RawClient, topic: string, partition: number): Promise<ReadRecord[]> {
  const out: ReadRecord[] = [];
  let fetchOffset = 0;
  let highWatermark = -1;
  for (;;) {
    const response = await client.request('Fetch', READ_FETCH_VERSION, {
      replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: READ_MAX_BYTES, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
      topics: [{ topic, partitions: [{ partition, currentLeaderEpoch: -1, fetchOffset, lastFetchedEpoch: -1, logStartOffset: -1, partitionMaxBytes: READ_MAX_BYTES }] }],
      forgottenTopicsData: [], rackId: '',
    }, { timeoutMs: 15_000 });
    assert.equal(response.errorCode ?? 0, 0, `Fetch of ${topic}-${partition} failed with ${response.errorCode}`);
    const data = response.responses[0]!.partitions[0]!;
    assert.equal(data.errorCode, 0, `Fetch of ${topic}-${partition} at ${fetchOffset} failed with error ${data.errorCode}`);
    if (highWatermark < 0) highWatermark = data.highWatermark;
    if (fetchOffset >= highWatermark) return out;
    const records = data.records ?? Buffer.alloc(0);
    let pos = 0;
    let progressed = false;
    // A fetch may end with a partial batch (Kafka allows it); stop at it and fetch again.
    while (pos + 12 <= records.length) {
      const size = 12 + records.readInt32BE(pos + 8);
      if (pos + size > records.length) break;
      const batch = decodeBatchSync(records, pos);
      for (const r of batch.records) {
        if (r.offset >= highWatermark) return out;
        if (r.offset < fetchOffset) continue;
        out.push(toReadRecord(r));
        fetchOffset = r.offset + 1;
        progressed = true;
      }
      // An empty batch (all records compacted away) still moves the fetch offset on.
      const lastOffset = batch.header.baseOffset + batch.header.lastOffsetDelta;
      if (lastOffset + 1 > fetchOffset) {
        fetchOffset = lastOffset + 1;
        progressed = true;
      }
      pos += size;
    }
    assert.ok(progressed, `Fetch of ${topic}-${partition} at ${fetchOffset} (high watermark ${highWatermark}) returned no whole batch`);
  }
}

function toReadRecord(r: DecodedRecord): ReadRecord {
  return {
    offset: r.offset,
    key: r.key === null ? null : r.key.toString(),
    value: r.value === null ? null : r.value.toString(),
    headers: r.headers.map((h) => ({ key: h.key, value: h.value === null ? null : h.value.toString() })),
  };
}
