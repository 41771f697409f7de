/**
 * The generated codecs against an independent implementation of the same wire format:
 * KafkaJS 2.2.4's hand-written request encoders and response decoders. Requests KafkaJS
 * encodes must decode here; responses encoded here must parse in KafkaJS.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { Reader } from '../src/codec/reader.js';
import { Writer } from '../src/codec/writer.js';
import * as messages from '../src/messages/index.js';

const require = createRequire(import.meta.url);
const kjs = (path: string): any => require(`kafkajs/src/protocol/requests/${path}`);

async function kafkajsRequestBytes(req: { encode: () => Promise<{ buffer: Buffer }> }): Promise<Buffer> {
  return (await req.encode()).buffer;
}

test('KafkaJS requests decode with the generated codecs', async () => {
  const meta = await kafkajsRequestBytes(kjs('metadata/v5/request')({ topics: ['a', 'bé'], allowAutoTopicCreation: false }));
  const m = messages.decodeMetadataRequest(new Reader(meta), 5);
  assert.deepEqual(m.topics!.map((t) => t.name), ['a', 'bé']);
  assert.equal(m.allowAutoTopicCreation, false);

  const join = await kafkajsRequestBytes(kjs('joinGroup/v5/request')({
    groupId: 'g', sessionTimeout: 30000, rebalanceTimeout: 60000, memberId: '', groupInstanceId: null,
    protocolType: 'consumer', groupProtocols: [{ name: 'RoundRobinAssigner', metadata: Buffer.from([0, 1, 2]) }],
  }));
  const j = messages.decodeJoinGroupRequest(new Reader(join), 5);
  assert.equal(j.groupId, 'g');
  assert.equal(j.rebalanceTimeoutMs, 60000);
  assert.equal(j.groupInstanceId, null);
  assert.deepEqual(j.protocols[0]!.metadata, Buffer.from([0, 1, 2]));

  const commit = await kafkajsRequestBytes(kjs('offsetCommit/v5/request')({
    groupId: 'g', groupGenerationId: 3, memberId: 'm',
    topics: [{ topic: 't', partitions: [{ partition: 1, offset: '12345678901' }] }],
  }));
  const c = messages.decodeOffsetCommitRequest(new Reader(commit), 5);
  assert.equal(c.topics[0]!.partitions[0]!.committedOffset, 12345678901);
});

test('generated responses parse in KafkaJS', async () => {
  const w = new Writer();
  messages.encodeApiVersionsResponse(w, 2, {
    errorCode: 0, throttleTimeMs: 0,
    apiKeys: [{ apiKey: 0, minVersion: 0, maxVersion: 9 }, { apiKey: 18, minVersion: 0, maxVersion: 3 }],
  });
  const av = await kjs('apiVersions/v2/response').decode(w.finish());
  assert.deepEqual(av.apiVersions, [{ apiKey: 0, minVersion: 0, maxVersion: 9 }, { apiKey: 18, minVersion: 0, maxVersion: 3 }]);

  const w2 = new Writer();
  messages.encodeMetadataResponse(w2, 5, {
    throttleTimeMs: 0, brokers: [{ nodeId: 1, host: '127.0.0.1', port: 9092, rack: null }], clusterId: 'c', controllerId: 1,
    topics: [{ errorCode: 0, name: 't', isInternal: false, partitions: [
      { errorCode: 0, partitionIndex: 0, leaderId: 1, replicaNodes: [1], isrNodes: [1], offlineReplicas: [] },
    ] }],
  });
  const md = await kjs('metadata/v5/response').decode(w2.finish());
  assert.equal(md.brokers[0].host, '127.0.0.1');
  assert.equal(md.topicMetadata[0].topic, 't');
  assert.deepEqual(md.topicMetadata[0].partitionMetadata[0].isr, [1]);
});
