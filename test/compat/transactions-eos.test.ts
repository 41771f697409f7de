/**
 * Exactly-once consume-transform-produce with real clients while the broker is SIGKILLed
 * (issue 17, first must-hold).
 *
 * The broker runs as a child process. An input topic of 3 partitions holds TOTAL numbered
 * records (value = key = the number, partition = number mod 3). Two transformers read it at
 * the same time, each in its own group with read_committed, and for every input write one
 * output record (same partition, key and value) to their own output topic inside a
 * transaction that also carries the group's offsets; a seeded random share of the
 * transactions is aborted on purpose, after which the transformer rewinds to the committed
 * offsets as exactly-once applications do:
 *   - confluent-kafka-python 1.7.0 (librdkafka), test/compat/py/eos_transformer.py,
 *     send_offsets_to_transaction with the consumer's group metadata;
 *   - KafkaJS 2.2.4 in this process: eachBatch, one transaction per batch, sendOffsets.
 * Meanwhile the broker is SIGKILLed KILLS times, each when the transformers' committed
 * progress passes the next share of the work, and restarted on the same data directory and
 * port. Transformers recover as their clients' documentation prescribes: retry what is
 * retriable, abort on an abortable error, a new producer (init fences the old one and
 * settles its transaction) on anything else, then rewind.
 *
 * The checker, for each output topic:
 *   - read_committed (confluent-kafka-python) sees every input exactly once, in input order
 *     per partition;
 *   - read_uncommitted sees every data record of the log, aborted ones included, and its
 *     offsets skip exactly the offsets of the control batches (one marker per batch);
 *   - the raw log (a Fetch through the test helpers) has COMMIT and ABORT markers, and the
 *     records its COMMIT markers close are exactly what read_committed returned; there
 *     were aborted records.
 *
 * Segments are small (2 KiB for the topics, 4 KiB for __consumer_offsets and
 * __transaction_state), so segments roll mid-transaction and the cleaner compacts the
 * internal topics during the run.
 *
 * A second test makes one failure the run can hit by chance certain: an aborted
 * transactional offset commit, compacted, must not wipe the group's committed offset.
 *
 * Default: 600 records and 5 kills. TRIBUTARY_LONG=1: 6,000 records and 10 kills.
 * TRIBUTARY_EOS_SEED picks another seed (aborts, kill delays).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel, type Consumer, type Producer } from 'kafkajs';
import { ControlRecordType, decodeBatchSync, decodeControlRecordKey, forEachBatch, readBatchHeader } from '@tributary/protocol';
import { RawClient } from '../../packages/broker/test/helpers/raw-client.js';
import { describeTxn } from './txn-helpers.js';
import { DEBIAN_PYTHON, REPO_ROOT, freePort, requirePythonModule, run, spawnBroker, waitFor, type BrokerProcess } from './kit.js';

const LONG = process.env['TRIBUTARY_LONG'] === '1';
const TOTAL = LONG ? 6000 : 600;
const KILLS = LONG ? 10 : 5;
const PARTITIONS = 3;
/** Share of transactions aborted on purpose. */
const ABORT_RATE = 0.2;
const SEED = Number(process.env['TRIBUTARY_EOS_SEED'] ?? 17);
const IN = 'eos-in';
const OUT_PY = 'eos-out-py';
const OUT_JS = 'eos-out-js';
/**
 * Small segments everywhere, so that segments roll in the middle of transactions (producer
 * state snapshots, .txnindex, the LSO across segments, all recovered after each SIGKILL) and
 * the cleaner compacts __consumer_offsets and __transaction_state, transactional offset
 * commits and their markers included, while the transformers run.
 */
const SEGMENT_BYTES = 2 * 1024;
const BROKER_OVERRIDES = {
  'offsets.topic.segment.bytes': 4 * 1024,
  'transaction.state.log.segment.bytes': 4 * 1024,
  'log.cleaner.backoff.ms': 200,
  'transaction.abort.timed.out.transaction.cleanup.interval.ms': 1000,
};
/** Records per transaction at most, in both transformers: small, so a run holds many transactions. */
const BATCH_RECORDS = 10;
/** How long a transformer may take to pass the next kill threshold (a restart included). */
const PROGRESS_TIMEOUT_MS = 90_000;

/** Waiters for a transformer's next commit. */
class CommitSignal {
  #waiters: Array<() => void> = [];
  next(): Promise<void> {
    return new Promise((r) => this.#waiters.push(r));
  }
  fire(): void {
    for (const r of this.#waiters.splice(0)) r();
  }
}

/** mulberry32: a small seeded generator, so a failing run can be replayed with its seed. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Transformer {
  progress(): number;
  /** Resolves as soon as the transformer's next commit has returned (its progress moved). */
  nextCommit(): Promise<void>;
  done: Promise<void>;
  stats: Record<string, number>;
  stop(): Promise<void>;
}

/**
 * The KafkaJS transformer: one transaction per batch (one partition), sendOffsets with the
 * batch's next offset. It keeps the next offset it expects per partition (the committed one
 * as far as it knows) and drops what a batch holds before it: KafkaJS's OffsetFetch does not
 * ask for stable offsets (KIP-447 require_stable), so a consumer that rejoins while a commit's
 * markers are in flight may restart from the previous committed offset.
 */
function kafkajsTransformer(bootstrap: string, seed: number, errors: string[]): Transformer {
  const rng = seeded(seed);
  const group = 'eos-js';
  const kafka = new Kafka({
    clientId: 'eos-js', brokers: [bootstrap], logLevel: logLevel.NOTHING,
    retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1000 },
  });
  const stats = { commits: 0, aborts: 0, errors: 0, reinits: 0, rewinds: 0, staleCommitted: 0, droppedBehind: 0, seeksAhead: 0 };
  const next = new Map<number, number>();
  const admin = kafka.admin();
  let producer: Producer;
  let consumer: Consumer;
  let finished = false;
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  const note = (what: string, e: unknown) => {
    stats.errors++;
    if (errors.length < 200) errors.push(`js ${what}: ${(e as Error).message}`);
  };
  const progress = () => [...next.values()].reduce((a, b) => a + b, 0);
  const committedSignal = new CommitSignal();

  async function newProducer(): Promise<Producer> {
    for (;;) {
      const p = kafka.producer({ transactionalId: 'eos-js-txn', idempotent: true, maxInFlightRequests: 1, transactionTimeout: 20_000 });
      try {
        await p.connect(); // InitProducerId: fences the previous instance, settles its transaction
        return p;
      } catch (e) {
        note('init', e);
        await p.disconnect().catch(() => undefined);
        await sleep(200);
      }
    }
  }

  async function committedOffset(partition: number): Promise<number> {
    for (;;) {
      try {
        const topics = await admin.fetchOffsets({ groupId: group, topics: [IN] });
        const offset = Number(topics[0]!.partitions.find((x) => x.partition === partition)!.offset);
        return offset < 0 ? 0 : offset;
      } catch (e) {
        note('fetchOffsets', e);
        await sleep(200);
      }
    }
  }

  async function rewind(partition: number): Promise<void> {
    stats.rewinds++;
    const offset = await committedOffset(partition);
    if (offset !== next.get(partition)) stats.staleCommitted++;
    next.set(partition, offset);
    consumer.seek({ topic: IN, partition, offset: String(offset) });
  }

  const start = async () => {
    await admin.connect();
    producer = await newProducer();
    consumer = kafka.consumer({ groupId: group, readUncommitted: false, sessionTimeout: 10_000, heartbeatInterval: 500, maxWaitTimeInMs: 100 });
    consumer.on(consumer.events.CRASH, (e) => note('consumer crash', e.payload.error));
    await consumer.connect();
    await consumer.subscribe({ topic: IN, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset, isStale, isRunning }) => {
        if (finished || !isRunning() || isStale()) return;
        const partition = batch.partition;
        let expected = next.get(partition);
        if (expected === undefined) {
          expected = await committedOffset(partition);
          next.set(partition, expected);
        }
        // At most BATCH_RECORDS per transaction (KafkaJS hands over whole fetches): the rest
        // comes again in the next fetch, from the resolved offset.
        const fresh = batch.messages.filter((m) => Number(m.offset) >= expected);
        stats.droppedBehind += batch.messages.length - fresh.length;
        const messages = fresh.slice(0, BATCH_RECORDS);
        if (messages.length === 0) return;
        if (Number(messages[0]!.offset) !== expected) {
          // A batch fetched before a rewind's seek took effect: fetch again from the expected offset.
          stats.seeksAhead++;
          consumer.seek({ topic: IN, partition, offset: String(expected) });
          return;
        }
        const end = Number(messages.at(-1)!.offset) + 1;
        try {
          const txn = await producer.transaction();
          try {
            await txn.send({ topic: OUT_JS, messages: messages.map((m) => ({ partition, key: m.key, value: m.value })) });
            await txn.sendOffsets({ consumerGroupId: group, topics: [{ topic: IN, partitions: [{ partition, offset: String(end) }] }] });
            if (rng() < ABORT_RATE) {
              await txn.abort();
              stats.aborts++;
              await rewind(partition);
              return;
            }
            await txn.commit();
          } catch (e) {
            // KafkaJS leaves a failed transaction in a state only a new producer gets out of.
            note('transaction', e);
            stats.reinits++;
            await producer.disconnect().catch(() => undefined);
            producer = await newProducer();
            await rewind(partition);
            return;
          }
        } catch (e) {
          note('begin', e);
          return;
        }
        stats.commits++;
        next.set(partition, end);
        resolveOffset(messages.at(-1)!.offset);
        committedSignal.fire();
        if (next.size === PARTITIONS && progress() >= TOTAL) {
          finished = true;
          resolveDone();
        }
      },
    });
  };
  const started = start().catch((e) => {
    note('start', e);
    throw e;
  });
  return {
    progress,
    nextCommit: () => committedSignal.next(),
    done: Promise.all([started, done]).then(() => undefined),
    stats,
    async stop() {
      finished = true;
      await consumer?.disconnect().catch(() => undefined);
      await producer?.disconnect().catch(() => undefined);
      await admin.disconnect().catch(() => undefined);
    },
  };
}

/** The confluent-kafka-python transformer, a child process. */
function pythonTransformer(t: { after(fn: () => void): void }, bootstrap: string, seed: number, errors: string[]): Transformer & { exit: Promise<number | null> } {
  const child = spawn(DEBIAN_PYTHON, [
    join(REPO_ROOT, 'test/compat/py/eos_transformer.py'),
    bootstrap, IN, OUT_PY, 'eos-py', 'eos-py-txn', String(TOTAL), String(seed), String(ABORT_RATE), String(BATCH_RECORDS),
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => child.kill('SIGKILL'));
  let progress = 0;
  const committedSignal = new CommitSignal();
  let out = '';
  const stats: Record<string, number> = {};
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    const lines = out.split('\n');
    out = lines.pop()!;
    for (const line of lines) {
      if (line.startsWith('PROGRESS ')) {
        progress = Number(line.slice(9));
        committedSignal.fire();
      }
      else if (line.startsWith('{')) Object.assign(stats, JSON.parse(line));
    }
  });
  child.stderr.on('data', (d: Buffer) => {
    for (const line of d.toString().split('\n')) if (line && errors.length < 400) errors.push(`py ${line}`);
  });
  const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return {
    progress: () => progress,
    nextCommit: () => committedSignal.next(),
    exit,
    done: exit.then((code) => {
      if (code !== 0) throw new Error(`the Python transformer exited with ${code}`);
    }),
    stats,
    async stop() {
      child.kill('SIGKILL');
      await exit;
    },
  };
}

/** Reads a whole topic with confluent-kafka-python at an isolation level: [offset, value] per partition. */
async function readAll(bootstrap: string, topic: string, isolation: 'read_committed' | 'read_uncommitted'): Promise<Array<Array<[number, string]>>> {
  const r = await run(DEBIAN_PYTHON, [join(REPO_ROOT, 'test/compat/py/eos_read.py'), bootstrap, topic, String(PARTITIONS), isolation], { timeoutMs: 90_000 });
  assert.equal(r.code, 0, `eos_read.py ${topic} ${isolation}: ${r.stderr}`);
  return JSON.parse(r.stdout.toString()) as Array<Array<[number, string]>>;
}

interface LogEntry { offset: number; control: number | null; value: string | null; producerId: number }

/**
 * Every record of a partition, markers included, with its offset: raw Fetches from offset 0
 * to the high watermark (a Fetch answers from one segment at a time, and the output topics
 * roll small segments).
 */
async function readLog(port: number, topic: string, partition: number): Promise<LogEntry[]> {
  const client = await RawClient.open(port);
  try {
    const out: LogEntry[] = [];
    for (let fetchOffset = 0; ;) {
      const r = await client.request('Fetch', 12, {
        replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 8 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
        topics: [{ topic, partitions: [{ partition, currentLeaderEpoch: -1, fetchOffset, lastFetchedEpoch: -1, logStartOffset: -1, partitionMaxBytes: 8 << 20 }] }],
        forgottenTopicsData: [], rackId: '',
      });
      const p = r.responses[0]!.partitions[0]!;
      assert.equal(p.errorCode, 0, `Fetch ${topic}-${partition} at ${fetchOffset}`);
      if (fetchOffset >= p.highWatermark) return out;
      const records = p.records;
      assert.ok(records !== null && records.length > 0, `Fetch ${topic}-${partition} at ${fetchOffset} below the high watermark ${p.highWatermark} returned nothing`);
      forEachBatch(records, (at, size) => {
        const h = readBatchHeader(records, at);
        if (h.lastOffset < fetchOffset) return;
        const { records: rs } = decodeBatchSync(records.subarray(at, at + size));
        for (const x of rs) {
          const offset = h.baseOffset + x.offsetDelta;
          if (h.isControl) out.push({ offset, control: decodeControlRecordKey(x.key).type, value: null, producerId: h.producerId });
          else out.push({ offset, control: null, value: x.value?.toString() ?? null, producerId: h.producerId });
        }
        fetchOffset = h.lastOffset + 1;
      });
    }
  } finally {
    client.close();
  }
}

/** Missing and duplicated numbers in `values` against 0..TOTAL-1, for a readable failure. */
function exactlyOnceReport(values: number[]): string {
  const count = new Map<number, number>();
  for (const v of values) count.set(v, (count.get(v) ?? 0) + 1);
  const missing: number[] = [];
  const duplicated: number[] = [];
  for (let i = 0; i < TOTAL; i++) {
    const c = count.get(i) ?? 0;
    if (c === 0) missing.push(i);
    if (c > 1) duplicated.push(i);
  }
  const extra = [...count.keys()].filter((v) => !(v >= 0 && v < TOTAL));
  return `missing ${missing.length} [${missing.slice(0, 20).join(' ')}], duplicated ${duplicated.length} [${duplicated.slice(0, 20).join(' ')}], unexpected [${extra.slice(0, 20).join(' ')}]`;
}

async function checkOutput(port: number, bootstrap: string, topic: string): Promise<{ aborted: number; markers: number }> {
  const committed = await readAll(bootstrap, topic, 'read_committed');
  const uncommitted = await readAll(bootstrap, topic, 'read_uncommitted');
  const all = committed.flat().map(([, v]) => Number(v));
  const report = exactlyOnceReport(all);
  assert.ok(all.length === TOTAL && report.startsWith('missing 0 [], duplicated 0 []'), `${topic} read_committed: ${all.length} records of ${TOTAL}; ${report}`);
  let aborted = 0;
  let markers = 0;
  for (let p = 0; p < PARTITIONS; p++) {
    const values = committed[p]!.map(([, v]) => Number(v));
    assert.ok(values.every((v) => v % PARTITIONS === p), `${topic}-${p}: every record comes from input partition ${p}`);
    assert.ok(values.every((v, i) => i === 0 || v > values[i - 1]!), `${topic}-${p}: input order holds`);
    const log = await readLog(port, topic, p);
    const dataAt: Array<[number, string]> = [];
    const pending = new Map<number, string[]>();
    const closedByCommit: string[] = [];
    const partitionMarkers = { [ControlRecordType.COMMIT]: 0, [ControlRecordType.ABORT]: 0 } as Record<number, number>;
    log.forEach((e, i) => {
      // Every offset holds a record: data or a control batch's marker (one record each).
      assert.equal(e.offset, i, `${topic}-${p}: offsets are dense, markers included`);
      if (e.control === null) {
        dataAt.push([e.offset, e.value!]);
        pending.set(e.producerId, [...(pending.get(e.producerId) ?? []), e.value!]);
        return;
      }
      partitionMarkers[e.control] = (partitionMarkers[e.control] ?? 0) + 1;
      const records = pending.get(e.producerId) ?? [];
      pending.delete(e.producerId);
      if (e.control === ControlRecordType.COMMIT) closedByCommit.push(...records);
      else aborted += records.length;
    });
    markers += log.length - dataAt.length;
    assert.equal(pending.size, 0, `${topic}-${p}: every transaction is closed by a marker`);
    assert.deepEqual(committed[p]!.map(([, v]) => v), closedByCommit, `${topic}-${p}: read_committed returns exactly the records COMMIT markers close`);
    assert.deepEqual(uncommitted[p], dataAt, `${topic}-${p}: read_uncommitted returns every data record, its offsets skipping the markers'`);
    assert.ok(partitionMarkers[ControlRecordType.COMMIT]! > 0, `${topic}-${p}: COMMIT markers`);
  }
  assert.ok(aborted > 0, `${topic}: aborted records in the log, seen by read_uncommitted only`);
  return { aborted, markers };
}

test(`exactly-once consume-transform-produce (confluent-kafka-python and KafkaJS) over ${PARTITIONS} partitions with random aborts and ${KILLS} broker SIGKILLs`, { timeout: LONG ? 1_200_000 : 300_000 }, async (t) => {
  requirePythonModule('confluent_kafka');
  // The broker is killed before its directory goes (after-hooks run in registration order,
  // and a live broker's cleaner may be writing there).
  const dataDir = mkdtempSync(join(tmpdir(), 'tributary-eos-'));
  let broker: BrokerProcess | undefined;
  t.after(async () => {
    await broker?.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });
  const port = await freePort();
  const start = () => spawnBroker(t, { dataDir, port, overrides: BROKER_OVERRIDES });
  broker = await start();
  const bootstrap = broker.bootstrap;

  const kafka = new Kafka({ clientId: 'eos-setup', brokers: [bootstrap], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    topics: [IN, OUT_PY, OUT_JS].map((topic) => ({ topic, numPartitions: PARTITIONS, configEntries: [{ name: 'segment.bytes', value: String(SEGMENT_BYTES) }] })),
    waitForLeaders: true,
  });
  await admin.disconnect();
  const filler = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await filler.connect();
  for (let from = 0; from < TOTAL; from += 500) {
    const messages = [];
    for (let i = from; i < Math.min(TOTAL, from + 500); i++) messages.push({ partition: i % PARTITIONS, key: String(i), value: String(i) });
    await filler.send({ topic: IN, acks: -1, messages });
  }
  await filler.disconnect();

  const errors: string[] = [];
  const py = pythonTransformer(t, bootstrap, SEED, errors);
  const js = kafkajsTransformer(bootstrap, SEED + 1, errors);
  t.after(() => js.stop());
  let jsFailed: unknown;
  js.done.catch((e) => (jsFailed = e));
  const rng = seeded(SEED + 2);
  const progress = () => py.progress() + js.progress();
  const state = () => `python ${py.progress()}/${TOTAL}, KafkaJS ${js.progress()}/${TOTAL}; errors: ${errors.slice(-10).join(' | ')}`;

  let killsDone = 0;
  for (let k = 1; k <= KILLS; k++) {
    const threshold = Math.floor((k * 2 * TOTAL) / (KILLS + 1));
    await waitFor(`progress ${threshold} of ${2 * TOTAL} before kill ${k}`, PROGRESS_TIMEOUT_MS, () => (progress() >= threshold || jsFailed !== undefined ? true : undefined), state);
    if (jsFailed !== undefined) throw jsFailed;
    // Kills land at different points of a transaction: in turn, right after a Python commit
    // returned, right after a KafkaJS one did (the coordinator has written PrepareCommit and
    // its markers may be in flight: the restarted broker must complete the commit), and at
    // a random moment.
    const mode = k % 3;
    if (mode === 2) {
      await sleep(Math.floor(rng() * 400));
    } else {
      const who = mode === 0 ? py : js;
      if (who.progress() < TOTAL) {
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no commit before kill ${k} within ${PROGRESS_TIMEOUT_MS} ms; ${state()}`)), PROGRESS_TIMEOUT_MS)));
        await Promise.race([who.nextCommit(), late]).finally(() => clearTimeout(timer));
      }
    }
    await broker.kill('SIGKILL');
    broker = await start();
    killsDone++;
  }

  await waitFor('both transformers to finish', PROGRESS_TIMEOUT_MS * 2, () => (py.progress() >= TOTAL && js.progress() >= TOTAL ? true : undefined), state);
  await js.done;
  await js.stop();
  assert.equal(await py.exit, 0, `the Python transformer failed: ${errors.filter((e) => e.startsWith('py')).slice(-20).join('\n')}`);
  for (const id of ['eos-py-txn', 'eos-js-txn']) {
    await waitFor(`${id}'s last transaction to complete`, 30_000, async () => (/^Complete|^Empty/.test((await describeTxn(port, id)).transactionState) ? true : undefined));
  }

  // The offsets went with the records: each group's committed offset is every partition's end.
  const check = kafka.admin();
  await check.connect();
  for (const groupId of ['eos-py', 'eos-js']) {
    const offsets = (await check.fetchOffsets({ groupId, topics: [IN] }))[0]!.partitions.map((x) => [x.partition, Number(x.offset)]).sort((a, b) => a[0]! - b[0]!);
    assert.deepEqual(offsets, [0, 1, 2].map((p) => [p, TOTAL / PARTITIONS]), `${groupId}'s committed offsets`);
  }
  await check.disconnect();
  t.diagnostic(`kills ${killsDone}; python ${JSON.stringify(py.stats)}; KafkaJS ${JSON.stringify(js.stats)}; client errors ${errors.length}`);
  t.diagnostic(`distinct client errors: ${[...new Set(errors)].slice(0, 30).join(' | ')}`);
  const pyOut = await checkOutput(port, bootstrap, OUT_PY);
  const jsOut = await checkOutput(port, bootstrap, OUT_JS);
  const segments = (dir: string) => readdirSync(join(dataDir, dir)).filter((f) => f.endsWith('.log')).length;
  const partitionDirs = readdirSync(dataDir);
  const internal = (prefix: string) => partitionDirs.filter((d) => d.startsWith(prefix)).map((d) => `${d}:${segments(d)}`).filter((x) => !x.endsWith(':1')).join(' ');
  t.diagnostic(`segments: ${[OUT_PY, OUT_JS].map((topic) => [0, 1, 2].map((p) => `${topic}-${p}:${segments(`${topic}-${p}`)}`).join(' ')).join(' ')}; internal partitions with more than one: ${internal('__consumer_offsets')} ${internal('__transaction_state')}; cleaned: ${existsSync(join(dataDir, 'cleaner-offset-checkpoint')) ? readFileSync(join(dataDir, 'cleaner-offset-checkpoint'), 'utf8').split('\n').slice(2).join(', ') : 'nothing'}`);
  for (const topic of [OUT_PY, OUT_JS]) for (const p of [0, 1, 2]) assert.ok(segments(`${topic}-${p}`) > 1, `${topic}-${p} rolled segments during the run`);
  t.diagnostic(`python: aborted records ${pyOut.aborted}, markers ${pyOut.markers}; KafkaJS: aborted records ${jsOut.aborted}, markers ${jsOut.markers}`);
  assert.ok(Number(py.stats['aborts']) > 0 && js.stats['aborts']! > 0, 'both transformers aborted transactions on purpose');
});

/**
 * The bug the run above can hit when a kill lands at the wrong moment, made certain: a
 * transactional offset commit that is aborted must not wipe the group's committed offset
 * when the cleaner compacts __consumer_offsets (the cleaner used to keep the aborted record
 * as the key's latest and drop the committed one; the group coordinator, reloading after a
 * restart, then ignored the aborted record and the group had no offset at all).
 */
test('an aborted transactional offset commit survives compaction of __consumer_offsets and a SIGKILL: the committed offset stays', { timeout: 180_000 }, async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tributary-eos-shadow-'));
  let broker: BrokerProcess | undefined;
  t.after(async () => {
    await broker?.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });
  const port = await freePort();
  broker = await spawnBroker(t, { dataDir, port, overrides: BROKER_OVERRIDES });
  const kafka = new Kafka({ clientId: 'eos-shadow', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 20, initialRetryTime: 100 } });
  const admin = kafka.admin();
  await admin.connect();
  t.after(() => admin.disconnect());
  await admin.createTopics({ topics: ['shadow-in', 'shadow-out', 'shadow-filler'].map((topic) => ({ topic, numPartitions: 1 })), waitForLeaders: true });
  const producer = kafka.producer({ transactionalId: 'eos-shadow-txn', idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  t.after(() => producer.disconnect());
  const offsets = { consumerGroupId: 'shadow', topics: [{ topic: 'shadow-in', partitions: [{ partition: 0, offset: '42' }] }] };
  const committed = await producer.transaction();
  await committed.send({ topic: 'shadow-out', messages: [{ value: 'committed' }] });
  await committed.sendOffsets(offsets);
  await committed.commit();
  const aborted = await producer.transaction();
  await aborted.send({ topic: 'shadow-out', messages: [{ value: 'aborted' }] });
  await aborted.sendOffsets({ ...offsets, topics: [{ topic: 'shadow-in', partitions: [{ partition: 0, offset: '99' }] }] });
  await aborted.abort();
  await waitFor('the abort to complete', 10_000, async () => ((await describeTxn(port, 'eos-shadow-txn')).transactionState === 'CompleteAbort' ? true : undefined));
  // Plain commits of another key of the same group roll __consumer_offsets' segments (4 KiB)
  // so the cleaner compacts the ones holding both transactional commits.
  const raw = await RawClient.open(port);
  try {
    for (let i = 0; i < 150; i++) {
      const r = await raw.request('OffsetCommit', 8, {
        groupId: 'shadow', generationIdOrMemberEpoch: -1, memberId: '', groupInstanceId: null,
        topics: [{ name: 'shadow-filler', partitions: [{ partitionIndex: 0, committedOffset: i, committedLeaderEpoch: -1, committedMetadata: null }] }],
      });
      assert.equal(r.topics[0]!.partitions[0]!.errorCode, 0, `filler commit ${i}`);
    }
  } finally {
    raw.close();
  }
  const checkpoint = join(dataDir, 'cleaner-offset-checkpoint');
  const cleanedTo = () => {
    if (!existsSync(checkpoint)) return 0;
    const line = readFileSync(checkpoint, 'utf8').split('\n').find((l) => l.startsWith('__consumer_offsets '));
    return line === undefined ? 0 : Number(line.split(' ')[2]);
  };
  await waitFor('the cleaner to compact past the transactional commits', 60_000, () => (cleanedTo() > 50 ? true : undefined), () => `checkpoint at ${cleanedTo()}`);
  assert.equal((await admin.fetchOffsets({ groupId: 'shadow', topics: ['shadow-in'] }))[0]!.partitions[0]!.offset, '42', 'before the restart');

  await broker.kill('SIGKILL');
  broker = await spawnBroker(t, { dataDir, port, overrides: BROKER_OVERRIDES });
  const after = await waitFor('the group coordinator to load', 30_000, async () => {
    try {
      return (await admin.fetchOffsets({ groupId: 'shadow', topics: ['shadow-in'] }))[0]!.partitions[0]!.offset;
    } catch {
      return undefined;
    }
  });
  assert.equal(after, '42', 'the committed offset after compaction and a restart');
});
