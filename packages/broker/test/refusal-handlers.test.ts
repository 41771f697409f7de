// Kafka's answers for what is not built yet, over a real socket: SaslHandshake and
// SaslAuthenticate on a PLAINTEXT listener, and the newest versions (Fetch v17, FindCoordinator v6) being served.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '@tributary/protocol';
import { startBrokerWithClient } from './helpers/broker.js';

test('SaslHandshake v0/v1 and SaslAuthenticate v0-v2 get ILLEGAL_SASL_STATE; the connection stays open', async (t) => {
  const { client } = await startBrokerWithClient(t, 'sasl');
  for (const version of [0, 1]) {
    const r = await client.request('SaslHandshake', version, { mechanism: 'PLAIN' });
    assert.deepEqual([r.errorCode, r.mechanisms], [ErrorCode.ILLEGAL_SASL_STATE, []]);
  }
  for (const version of [0, 1, 2]) {
    const r = await client.request('SaslAuthenticate', version, { authBytes: Buffer.from('\0u\0p') });
    assert.equal(r.errorCode, ErrorCode.ILLEGAL_SASL_STATE);
    assert.equal(r.errorMessage, 'SaslAuthenticate request received after successful authentication');
    assert.equal(r.authBytes.length, 0);
  }
  const versions = await client.request('ApiVersions', 3, { clientSoftwareName: 'test', clientSoftwareVersion: '1' });
  const range = (key: number) => versions.apiKeys.find((k) => k.apiKey === key);
  assert.deepEqual([range(17)?.maxVersion, range(36)?.maxVersion, range(1)?.maxVersion, range(10)?.maxVersion], [1, 2, 17, 6]);
});

test('Fetch v17 with a ReplicaDirectoryId is served like v16', async (t) => {
  const { broker, client } = await startBrokerWithClient(t, 'fetch17');
  const created = await client.request('CreateTopics', 7, { topics: [{ name: 'f17', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 1000, validateOnly: false });
  assert.equal(created.topics[0]!.errorCode, 0);
  const topicId = broker.services.metadata.topic('f17')!.topicId;
  const r = await client.request('Fetch', 17, {
    replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
    topics: [{ topic: '', topicId, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0, lastFetchedEpoch: -1, logStartOffset: -1, partitionMaxBytes: 1 << 20, replicaDirectoryId: 'AAAAAAAAAAAAAAAAAAAAAQ' }] }],
    forgottenTopicsData: [], rackId: '',
  });
  assert.equal(r.errorCode, 0);
  assert.deepEqual(r.responses.map((t) => [t.topicId, t.partitions[0]!.errorCode, t.partitions[0]!.highWatermark]), [[topicId, 0, 0]]);
});
