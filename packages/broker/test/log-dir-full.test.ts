// A full disk (issue #14 point 5): ENOSPC stays a retriable per-request error. Produce
// answers KAFKA_STORAGE_ERROR, the log directory stays online, the partial write is rolled
// back, and once space is freed every acknowledged record is there, in order, also after
// a restart. Runs on a real 4 MiB tmpfs when this process may mount one (root); otherwise
// the same steps run with ENOSPC injected through the storage FileSystem seam, and the
// run prints which.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, decodeBatch, encodeBatchSync, forEachBatch } from '@tributary/protocol';
import { startBroker } from '../src/broker.js';
import type { RunningBroker } from '../src/broker.js';
import { createLogger } from '../src/logger.js';
import { FaultyFileSystem } from '../../storage/test/faulty-file-system.js';
import { RawClient } from './helpers/raw-client.js';

/** What the filler leaves free on the tmpfs: room for a few dozen of the batches below. */
const FREE_AFTER_FILLER_BYTES = 384 * 1024;
const VALUE_BYTES = 16 * 1024;

function tryMountTmpfs(dir: string): boolean {
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', dir], { encoding: 'utf8' });
  return r.status === 0;
}

async function fetchAll(client: RawClient, topic: string): Promise<[number, string][]> {
  const r = await client.request('Fetch', 12, {
    replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 16 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
    topics: [{ topic, partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 16 << 20, currentLeaderEpoch: -1, logStartOffset: -1 }] }],
    forgottenTopicsData: [], rackId: '',
  });
  const p = r.responses[0]!.partitions[0]!;
  assert.equal(p.errorCode, ErrorCode.NONE);
  const records = p.records ?? Buffer.alloc(0);
  const starts: number[] = [];
  forEachBatch(records, (at) => starts.push(at));
  const out: [number, string][] = [];
  for (const at of starts) for (const rec of (await decodeBatch(records, at)).records) out.push([rec.offset, rec.value!.subarray(0, 16).toString().trim()]);
  return out;
}

async function produce(client: RawClient, value: string): Promise<{ errorCode: number; baseOffset: number; errorMessage: string | null }> {
  const records = encodeBatchSync({ records: [{ key: null, value: Buffer.from(value.padEnd(VALUE_BYTES, ' ')) }] });
  const r = await client.request('Produce', 9, { transactionalId: null, acks: -1, timeoutMs: 5000, topicData: [{ name: 'full', partitionData: [{ index: 0, records }] }] });
  const p = r.responses[0]!.partitionResponses[0]!;
  return { errorCode: p.errorCode, baseOffset: Number(p.baseOffset), errorMessage: p.errorMessage ?? null };
}

test('a full disk: KAFKA_STORAGE_ERROR per request, the directory stays online, nothing acknowledged is lost', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'trib-full-'));
  const dir = join(root, 'd0');
  mkdirSync(dir);
  // TRIBUTARY_FULL_DISK_INJECTED=1 runs the injected variant even where mounting works.
  const mounted = process.env['TRIBUTARY_FULL_DISK_INJECTED'] === '1' ? false : tryMountTmpfs(dir);
  console.log(`# disk full by ${mounted ? 'a real 4 MiB tmpfs' : 'injected ENOSPC (no tmpfs mounted)'}`);
  const faults = new FaultyFileSystem();
  const lines: string[] = [];
  const logger = createLogger({ level: 'info', format: 'logfmt', sink: (line) => lines.push(line) });
  const open = () => startBroker({ dataDir: dir, port: 0, config: { 'offsets.topic.num.partitions': 1 }, logger, fileSystem: faults.fs });
  let broker: RunningBroker | undefined;
  let client: RawClient | undefined;
  // One hook, in order: the broker must be closed before the tmpfs can be unmounted.
  t.after(async () => {
    client?.close();
    await broker?.close();
    if (mounted) {
      const r = spawnSync('umount', [dir], { encoding: 'utf8' });
      assert.equal(r.status, 0, `umount ${dir}: ${r.stderr}`);
    }
    rmSync(root, { recursive: true, force: true });
  });
  broker = await open();
  client = await RawClient.open(broker.port);
  const created = await client.request('CreateTopics', 7, { topics: [{ name: 'full', numPartitions: 1, replicationFactor: -1, assignments: [], configs: [] }], timeoutMs: 5000, validateOnly: false });
  assert.equal(created.topics[0]!.errorCode, ErrorCode.NONE);

  const filler = join(dir, 'filler');
  if (mounted) {
    const { bavail, bsize } = statfsSync(dir);
    writeFileSync(filler, Buffer.alloc(Math.max(0, bavail * bsize - FREE_AFTER_FILLER_BYTES)));
  }
  const acked: [number, string][] = [];
  let refused: { errorCode: number; errorMessage: string | null } | undefined;
  for (let i = 0; i < 400 && refused === undefined; i++) {
    // Injected: the disk "fills" after ten batches, with a short write first.
    if (!mounted && i === 10) faults.fail({ op: 'write', code: 'ENOSPC', partialBytes: 1000, match: (f) => f.endsWith('.log') });
    const r = await produce(client, `v${i}`);
    if (r.errorCode === ErrorCode.NONE) acked.push([r.baseOffset, `v${i}`]);
    else refused = r;
  }
  assert.ok(refused !== undefined, 'the disk filled up');
  assert.ok(acked.length > 0);
  assert.equal(refused.errorCode, ErrorCode.KAFKA_STORAGE_ERROR);
  assert.match(refused.errorMessage ?? '', /No space left/);
  for (let i = 0; i < 3; i++) assert.equal((await produce(client, `retry${i}`)).errorCode, ErrorCode.KAFKA_STORAGE_ERROR);
  assert.equal(broker.services.logManager.isLogDirOnline(broker.services.logManager.dataDir), true, 'still online');
  assert.equal(broker.services.logManager.getLog('full', 0)!.isOffline, false);
  assert.deepEqual(await fetchAll(client, 'full'), acked, 'every acknowledged record, nothing else');

  // Space freed: the next produce continues right after the last acknowledged offset.
  if (mounted) rmSync(filler);
  else faults.heal();
  const after = await produce(client, 'after');
  assert.equal(after.errorCode, ErrorCode.NONE);
  assert.equal(after.baseOffset, acked[acked.length - 1]![0] + 1);
  acked.push([after.baseOffset, 'after']);
  assert.deepEqual(await fetchAll(client, 'full'), acked);

  const noSpace = lines.filter((l) => l.includes('No space left in log directory'));
  assert.equal(noSpace.length, 1, 'one warning, rate limited, not one per request');
  assert.deepEqual(lines.filter((l) => l.includes('level=error')), []);

  // And after a restart (recovery finds no torn batch left by the short write).
  client.close();
  await broker.close();
  broker = await open();
  client = await RawClient.open(broker.port);
  assert.deepEqual(await fetchAll(client, 'full'), acked);
});
