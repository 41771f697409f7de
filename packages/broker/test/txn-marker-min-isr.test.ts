// A transaction marker to a partition whose ISR is below min.insync.replicas is refused before
// it is written (NOT_ENOUGH_REPLICAS, as Kafka's Partition.appendRecordsToLeader refuses every
// acks=all append), so the coordinator's retries every 100 ms do not each add a marker (the
// 120 duplicate COMMIT markers of session 12, docs/reliability.md).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, encodeBatchSync } from '@tributary/protocol';
import { LogManager } from '@tributary/storage';
import { createLogger, LocalMetadataStore } from '../src/index.js';
import { randomKafkaUuid } from '../src/metadata/kafka-uuid.js';
import { Partition } from '../src/replica/partition.js';

test('a marker below min.insync.replicas is refused before the append; with the ISR back it is written once', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'trib-marker-isr-'));
  const logger = createLogger({ level: 'silent' });
  const metadata = await LocalMetadataStore.open({ dataDir: join(dir, 'meta'), clusterId: randomKafkaUuid(), logger });
  const logManager = await LogManager.open({ dataDir: join(dir, 'logs'), schedulers: false, logger: { info: () => undefined, warn: () => undefined } });
  t.after(async () => {
    await logManager.close();
    await metadata.close();
    rmSync(dir, { recursive: true, force: true });
  });
  for (const nodeId of [1, 2]) await metadata.registerBroker({ nodeId, endpoints: [{ listener: 'PLAINTEXT', host: '127.0.0.1', port: 9000 + nodeId, securityProtocol: 'PLAINTEXT' as const }], rack: null, inControlledShutdown: false });
  const configs = { 'min.insync.replicas': '2' };
  const topic = await metadata.createTopic({ name: 't', partitions: [{ replicas: [1, 2], leader: 1, isr: [1] }], configs });
  const log = logManager.createLog('t', 0);
  log.config = { ...log.config, minInsyncReplicas: 2 };
  const partition = new Partition({ nodeId: 1, metadata, logManager, logger }, log, topic, topic.partitions[0]!);
  partition.update(topic, topic.partitions[0]!);
  log.append(encodeBatchSync({ producerId: 7, producerEpoch: 0, baseSequence: 0, transactional: true, records: [{ value: Buffer.from('v') }] }), { leaderEpoch: 0 });
  const marker = { producerId: 7, producerEpoch: 0, coordinatorEpoch: 0, commit: true };
  for (let i = 0; i < 3; i++) assert.equal((await partition.appendTxnMarker(marker, 1000)).errorCode, ErrorCode.NOT_ENOUGH_REPLICAS);
  assert.equal(log.logEndOffset, 1, 'no marker written');
  // The follower is back in the ISR (a single-replica ISR allowed again, to answer at once).
  log.config = { ...log.config, minInsyncReplicas: 1 };
  assert.equal((await partition.appendTxnMarker(marker, 1000)).errorCode, ErrorCode.NONE);
  assert.equal(log.logEndOffset, 2, 'one marker');
});
