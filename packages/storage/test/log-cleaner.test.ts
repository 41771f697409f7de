// The log cleaner's rules one by one: transaction markers, idempotent producers' last
// batches, the io throttle, several threads, compact,delete. No sockets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ControlRecordType, decodeBatchSync, encodeBatch, encodeControlBatch, readBatchHeader, splitBatches } from '@tributary/protocol';
import type { RecordBatchHeader } from '@tributary/protocol';
import { LogManager, fromProperties } from '@tributary/storage';
import type { Log, LogConfig } from '@tributary/storage';
import { FakeClock, quietLogger, tempDir } from './helpers.js';

const BASE = { 'cleanup.policy': 'compact', 'segment.bytes': '100000', 'file.delete.delay.ms': '0', 'delete.retention.ms': '1000', 'min.cleanable.dirty.ratio': '0' };

function batches(log: Log): Array<{ header: RecordBatchHeader; records: Array<[number, string | null, string | null]> }> {
  const r = log.read(log.logStartOffset, 1 << 30, { minOneBatch: true });
  assert.equal(r.kind, 'ok');
  const out = [];
  if (r.kind !== 'ok') return [];
  for (const buf of r.records) {
    for (const h of splitBatches(buf) as { position: number }[]) {
      const header = readBatchHeader(buf, h.position);
      const records = header.isControl ? [] : decodeBatchSync(buf, h.position).records.map((x) => [x.offset, x.key?.toString() ?? null, x.value?.toString() ?? null] as [number, string | null, string | null]);
      out.push({ header, records });
    }
  }
  return out;
}

async function open(t: { after(fn: () => unknown): void }, config: LogConfig, extra: Partial<Parameters<typeof LogManager.open>[0]> = {}) {
  const clock = new FakeClock();
  const manager = await LogManager.open({ dataDir: tempDir(t), clock, schedulers: false, logger: quietLogger, cleanerInline: true, ...extra });
  t.after(() => manager.close());
  return { manager, clock };
}

async function settle(log: Log): Promise<void> {
  log.roll();
  await log.flush();
  log.updateHighWatermark(log.logEndOffset);
}

test('a transaction marker stays until its delete horizon has passed, then goes once its data is cleaned away', async (t) => {
  const config = fromProperties(BASE);
  const { manager, clock } = await open(t, config);
  const log = manager.createLog('txn', 0, config);
  log.append(await encodeBatch({ producerId: 7, producerEpoch: 0, baseSequence: 0, transactional: true, records: [{ key: Buffer.from('k'), value: Buffer.from('in-txn') }] }), { leaderEpoch: 0 });
  log.append(encodeControlBatch({ type: ControlRecordType.COMMIT, producerId: 7, producerEpoch: 0, coordinatorEpoch: 0 }), { leaderEpoch: 0 });
  log.append(await encodeBatch({ records: [{ key: Buffer.from('k'), value: Buffer.from('later') }] }), { leaderEpoch: 0 });
  await settle(log);

  assert.ok((await manager.cleaner.cleanLogNow(log))?.swapped);
  let after = batches(log);
  assert.deepEqual(after.map((b) => [b.header.baseOffset, b.header.isControl]), [[1, true], [2, false]], 'the superseded transactional record went; its marker stays');
  assert.ok(after[0]!.header.hasDeleteHorizon, 'the marker got a delete horizon');
  assert.equal(after[0]!.header.baseTimestamp, clock.ms + 1000, 'horizon = clean time + delete.retention.ms');

  log.append(await encodeBatch({ records: [{ key: Buffer.from('other'), value: Buffer.from('x') }] }), { leaderEpoch: 0 });
  await settle(log);
  clock.ms += 999;
  await manager.cleaner.cleanLogNow(log);
  assert.ok(batches(log).some((b) => b.header.isControl), 'the marker stays before its horizon');
  log.append(await encodeBatch({ records: [{ key: Buffer.from('other'), value: Buffer.from('y') }] }), { leaderEpoch: 0 });
  await settle(log);
  clock.ms += 1;
  await manager.cleaner.cleanLogNow(log);
  after = batches(log);
  assert.ok(!after.some((b) => b.header.isControl), 'the marker went at its horizon');
  assert.deepEqual(after.flatMap((b) => b.records), [[2, 'k', 'later'], [4, 'other', 'y']]);
});

test('a marker stays while transactional data of its producer before it is kept', async (t) => {
  const config = fromProperties(BASE);
  const { manager, clock } = await open(t, config);
  const log = manager.createLog('txn2', 0, config);
  log.append(await encodeBatch({ producerId: 8, producerEpoch: 0, baseSequence: 0, transactional: true, records: [{ key: Buffer.from('live'), value: Buffer.from('v') }] }), { leaderEpoch: 0 });
  log.append(encodeControlBatch({ type: ControlRecordType.COMMIT, producerId: 8, producerEpoch: 0, coordinatorEpoch: 0 }), { leaderEpoch: 0 });
  await settle(log);
  await manager.cleaner.cleanLogNow(log);
  clock.ms += 5000;
  log.append(await encodeBatch({ records: [{ key: Buffer.from('x'), value: Buffer.from('x') }] }), { leaderEpoch: 0 });
  await settle(log);
  await manager.cleaner.cleanLogNow(log);
  assert.deepEqual(batches(log).map((b) => [b.header.baseOffset, b.header.isControl]), [[0, false], [1, true], [2, false]]);
});

test("an idempotent producer's last batch is kept, empty, when all its records are superseded", async (t) => {
  const config = fromProperties(BASE);
  const { manager } = await open(t, config);
  const log = manager.createLog('idem', 0, config);
  log.append(await encodeBatch({ producerId: 9, producerEpoch: 2, baseSequence: 0, records: [{ key: Buffer.from('a'), value: Buffer.from('1') }, { key: Buffer.from('a'), value: Buffer.from('2') }] }), { leaderEpoch: 0 });
  log.append(await encodeBatch({ producerId: 9, producerEpoch: 2, baseSequence: 2, records: [{ key: Buffer.from('a'), value: Buffer.from('3') }, { key: Buffer.from('b'), value: Buffer.from('4') }] }), { leaderEpoch: 0 });
  log.append(await encodeBatch({ records: [{ key: Buffer.from('a'), value: Buffer.from('5') }, { key: Buffer.from('b'), value: Buffer.from('6') }] }), { leaderEpoch: 0 });
  await settle(log);
  await manager.cleaner.cleanLogNow(log);
  const after = batches(log);
  assert.deepEqual(after.map((b) => [b.header.baseOffset, b.header.lastOffset, b.header.recordCount, b.header.producerId, b.header.baseSequence]), [
    [2, 3, 0, 9, 2],
    [4, 5, 2, -1, -1],
  ]);
});

test('log.cleaner.io.max.bytes.per.second throttles a clean', async (t) => {
  const config = fromProperties(BASE);
  const { manager } = await open(t, config, { cleaner: { ioMaxBytesPerSecond: 400_000 } });
  const log = manager.createLog('slow', 0, config);
  for (let i = 0; i < 40; i++) log.append(await encodeBatch({ records: [{ key: Buffer.from(`k${i % 4}`), value: Buffer.alloc(5000, i) }] }), { leaderEpoch: 0 });
  await settle(log);
  const started = performance.now();
  const stats = await manager.cleaner.cleanLogNow(log);
  const ms = performance.now() - started;
  assert.ok(stats?.swapped);
  // ~400 KB read and written at 400 KB/s: about a second (the first 30% of a second is free).
  assert.ok(ms >= 500, `the clean took ${ms.toFixed(0)} ms for ${stats!.bytesRead + stats!.bytesWritten} bytes at 400 KB/s`);
});

test('log.cleaner.threads: two worker threads clean two logs at once', async (t) => {
  const config = fromProperties(BASE);
  const { manager } = await open(t, config, { cleaner: { threads: 2 }, cleanerInline: false });
  for (const topic of ['p', 'q']) {
    const log = manager.createLog(topic, 0, config);
    for (let i = 0; i < 50; i++) log.append(await encodeBatch({ records: [{ key: Buffer.from(`k${i % 5}`), value: Buffer.from(`v${i}`) }] }), { leaderEpoch: 0 });
    await settle(log);
  }
  const [a, b, c] = await Promise.all([manager.cleaner.cleanFilthiest(), manager.cleaner.cleanFilthiest(), manager.cleaner.cleanFilthiest()]);
  assert.deepEqual([a?.topicPartition, b?.topicPartition].sort(), ['p-0', 'q-0'], 'each thread took one log');
  assert.equal(c, null, 'no third thread');
  assert.ok(a!.swapped && b!.swapped);
  assert.equal(manager.cleaner.counters.cleans, 2);
});

test('compact,delete: retention deletes old segments and the cleaner compacts the rest', async (t) => {
  const config = fromProperties({ ...BASE, 'cleanup.policy': 'compact,delete', 'retention.ms': '60000', 'segment.bytes': '300' });
  const { manager, clock } = await open(t, config);
  const log = manager.createLog('both', 0, config);
  for (let i = 0; i < 12; i++) {
    log.append(await encodeBatch({ timestamp: i < 6 ? clock.ms - 120_000 : clock.ms, records: [{ key: Buffer.from(`k${i % 3}`), value: Buffer.from(`value-${i}`) }] }), { leaderEpoch: 0 });
  }
  await settle(log);
  assert.ok(manager.runRetention() > 0, 'retention deleted the old segments');
  assert.ok(log.logStartOffset > 0 && log.logStartOffset <= 6);
  assert.ok((await manager.cleaner.cleanLogNow(log))?.swapped);
  assert.deepEqual(batches(log).flatMap((b) => b.records), [[9, 'k0', 'value-9'], [10, 'k1', 'value-10'], [11, 'k2', 'value-11']]);
});

test('an open transaction stops the clean at its first batch; once aborted, its data is removed and the committed value stays', async (t) => {
  const config = fromProperties(BASE);
  const { manager, clock } = await open(t, config);
  const log = manager.createLog('open', 0, config);
  log.append(await encodeBatch({ records: [{ key: Buffer.from('k'), value: Buffer.from('committed') }] }), { leaderEpoch: 0 });
  log.append(await encodeBatch({ producerId: 5, producerEpoch: 0, baseSequence: 0, transactional: true, records: [{ key: Buffer.from('k'), value: Buffer.from('pending') }] }), { leaderEpoch: 0 });
  log.append(await encodeBatch({ records: [{ key: Buffer.from('other'), value: Buffer.from('x') }, { key: Buffer.from('other'), value: Buffer.from('y') }] }), { leaderEpoch: 0 });
  await settle(log);
  await manager.cleaner.cleanLogNow(log);
  assert.deepEqual(batches(log).flatMap((b) => b.records), [[0, 'k', 'committed'], [1, 'k', 'pending'], [2, 'other', 'x'], [3, 'other', 'y']], 'nothing from the open transaction on is cleaned');

  log.append(encodeControlBatch({ type: ControlRecordType.ABORT, producerId: 5, producerEpoch: 0, coordinatorEpoch: 0 }), { leaderEpoch: 0 });
  await settle(log);
  await manager.cleaner.cleanLogNow(log);
  assert.deepEqual(batches(log).flatMap((b) => b.records), [[0, 'k', 'committed'], [3, 'other', 'y']], 'aborted data removed, not used to supersede');
  assert.ok(batches(log).some((b) => b.header.isControl), 'the abort marker stays until its horizon');
  clock.ms += 2000;
  log.append(await encodeBatch({ records: [{ key: Buffer.from('z'), value: Buffer.from('z') }] }), { leaderEpoch: 0 });
  await settle(log);
  await manager.cleaner.cleanLogNow(log);
  assert.ok(!batches(log).some((b) => b.header.isControl), 'the abort marker went after its horizon');
  assert.deepEqual(batches(log).flatMap((b) => b.records), [[0, 'k', 'committed'], [3, 'other', 'y'], [5, 'z', 'z']]);
});

test('min.cleanable.dirty.ratio, min.compaction.lag.ms and max.compaction.lag.ms choose what is cleanable', async (t) => {
  const { manager, clock } = await open(t, fromProperties(BASE));
  const fill = async (log: Log, timestamp: number): Promise<void> => {
    for (let i = 0; i < 20; i++) log.append(await encodeBatch({ timestamp, records: [{ key: Buffer.from(`k${i % 2}`), value: Buffer.from(`v${i}`) }] }), { leaderEpoch: 0 });
    await settle(log);
  };
  // A dirty ratio must exceed min.cleanable.dirty.ratio (Kafka's ">"): at 1 a log never does.
  const strict = manager.createLog('strict', 0, fromProperties({ ...BASE, 'min.cleanable.dirty.ratio': '1' }));
  await fill(strict, clock.ms);
  // The same, with a max.compaction.lag.ms its data is older than: cleanable anyway.
  const overdue = manager.createLog('overdue', 0, fromProperties({ ...BASE, 'min.cleanable.dirty.ratio': '1', 'max.compaction.lag.ms': '60000' }));
  await fill(overdue, clock.ms - 120_000);
  // Data newer than min.compaction.lag.ms: not cleanable yet.
  const young = manager.createLog('young', 0, fromProperties({ ...BASE, 'min.compaction.lag.ms': '60000' }));
  await fill(young, clock.ms - 1000);
  const names = manager.cleaner.cleanableLogs(clock.ms).map((c) => c.log.topic);
  assert.deepEqual(names, ['overdue']);
  clock.ms += 60_000;
  assert.deepEqual(manager.cleaner.cleanableLogs(clock.ms).map((c) => c.log.topic).sort(), ['overdue', 'young']);
  const stats = await manager.cleaner.cleanFilthiest();
  assert.equal(stats?.topicPartition, 'overdue-0', 'a log past max.compaction.lag.ms goes first');
});
