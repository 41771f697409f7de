/**
 * A broker in a fresh temporary data directory (port 0, silent logs) and one raw-protocol
 * client connected to it; both are closed, and the directory removed, when the test ends.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBroker, createLogger, type RunningBroker } from '../../src/index.js';
import { ErrorCode, type FetchResponse } from '@tributary/protocol';
import { RawClient } from './raw-client.js';

export type TestContext = { after(fn: () => unknown): void };

export async function startBrokerWithClient(t: TestContext, name: string): Promise<{ broker: RunningBroker; client: RawClient }> {
  const dir = mkdtempSync(join(tmpdir(), `trib-${name}-`));
  const broker = await startBroker({ dataDir: dir, port: 0, logger: createLogger({ level: 'silent' }) });
  t.after(async () => {
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const client = await RawClient.open(broker.port);
  t.after(() => client.close());
  return { broker, client };
}

/** CreateTopics v7 of one topic (replication factor 1), asserting that it was created. */
export async function createTopic(client: RawClient, name: string, configs: Record<string, string> = {}, numPartitions = 1): Promise<void> {
  const created = await client.request('CreateTopics', 7, {
    topics: [{ name, numPartitions, replicationFactor: 1, assignments: [], configs: Object.entries(configs).map(([k, value]) => ({ name: k, value })) }],
    timeoutMs: 5000,
    validateOnly: false,
  });
  assert.equal(created.topics[0]!.errorCode, ErrorCode.NONE, `CreateTopics ${name}: ${created.topics[0]!.errorMessage}`);
}

/** A sessionless Fetch of one partition from `fetchOffset`, without waiting; the whole response. */
export function fetchPartition(
  client: RawClient, version: number, topic: string, partition: number, fetchOffset = 0, partitionMaxBytes = 8 << 20, maxBytes = 8 << 20,
): Promise<FetchResponse> {
  return client.request('Fetch', version, {
    replicaId: -1,
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [{ topic, partitions: [{ partition, currentLeaderEpoch: -1, fetchOffset, lastFetchedEpoch: -1, logStartOffset: -1, partitionMaxBytes }] }],
    forgottenTopicsData: [],
    rackId: '',
  });
}
