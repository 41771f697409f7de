// The replica manager's stepped log creation on its own (no sockets): every turn of the
// event loop that has logs queued creates at least one, even when the turn's time budget
// (LOG_CREATION_TURN_MS) is already spent before its first creation, as on a machine so
// loaded that the process is descheduled between setting the deadline and checking it.
// The clock (performance.now) is replaced by one that jumps a second at every reading, so
// every deadline has passed by the time it is checked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LogManager } from '@tributary/storage';
import { createLogger, LocalMetadataStore } from '../src/index.js';
import { randomKafkaUuid } from '../src/metadata/kafka-uuid.js';
import { LOG_CREATION_STEP, LOG_CREATION_TURN_MS, ReplicaManager } from '../src/replica/replica-manager.js';

const SELF = 1;

async function setup(t: { after(fn: () => unknown): void }) {
  const dir = mkdtempSync(join(tmpdir(), 'trib-log-creation-'));
  const logger = createLogger({ level: 'silent' });
  const metadata = await LocalMetadataStore.open({ dataDir: join(dir, 'meta'), clusterId: randomKafkaUuid(), logger });
  const logManager = await LogManager.open({ dataDir: join(dir, 'logs'), schedulers: false, logger: { info: () => undefined, warn: () => undefined } });
  const replicaManager = new ReplicaManager({ logManager, metadata, nodeId: SELF, logger });
  t.after(async () => {
    replicaManager.close();
    await logManager.close();
    await metadata.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { metadata, logManager };
}

const oneTurn = () => new Promise<void>((resolve) => setImmediate(resolve));
const partitions = (count: number) => Array.from({ length: count }, () => ({ replicas: [SELF], leader: SELF, isr: [SELF] }));

test('every turn creates at least one log even when the deadline passed before its first creation', async (t) => {
  const { metadata, logManager } = await setup(t);
  const count = LOG_CREATION_STEP + 5;
  const created = () => Array.from({ length: count }, (_, p) => p).filter((p) => logManager.getLog('late', p) !== undefined).length;

  // A clock that has always moved on by more than a turn's budget when read again.
  let fakeNowMs = performance.now();
  t.mock.method(performance, 'now', () => (fakeNowMs += 1000 + LOG_CREATION_TURN_MS));

  await metadata.createTopic({ name: 'late', partitions: partitions(count) });
  // The first step of a lone topic is bounded by the count only.
  assert.equal(created(), LOG_CREATION_STEP);
  // Each later turn has its deadline behind it when it starts; it still creates one log.
  for (let turn = 1; turn <= 5; turn++) {
    await oneTurn();
    assert.equal(created(), LOG_CREATION_STEP + turn, `turn ${turn} created a log`);
  }

  // Topics created while the clock keeps jumping still get all their logs, a bounded
  // number of turns later.
  await metadata.createTopic({ name: 'next', partitions: partitions(1) });
  await metadata.createTopic({ name: 'after', partitions: partitions(2) });
  for (let turn = 0; turn < 10 && logManager.getLog('after', 1) === undefined; turn++) await oneTurn();
  assert.ok(logManager.getLog('next', 0));
  assert.ok(logManager.getLog('after', 1));
});
