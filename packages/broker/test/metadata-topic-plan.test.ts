/**
 * The topic planner both metadata stores share (metadata/topic-plan.ts): what it plans and
 * what it refuses, before any store writes anything.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planNewTopics } from '../src/metadata/topic-plan.js';
import { MetadataError, type TopicMetadata } from '../src/metadata/metadata-store.js';
import { isKafkaUuid, randomKafkaUuid } from '../src/metadata/kafka-uuid.js';

const one = [{ replicas: [1], leader: 1, isr: [1] }];
const existingTopic: TopicMetadata = { name: 'taken', topicId: randomKafkaUuid(), partitions: [], configs: {}, internal: false };
const existing = { byName: new Map([[existingTopic.name, existingTopic]]), byId: new Map([[existingTopic.topicId, existingTopic]]) };

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof MetadataError, String(err));
    return err.code;
  }
  assert.fail('expected a MetadataError');
}

test('planNewTopics: ids generated and distinct, partitions at epoch 0, internal for __ names, configs copied', () => {
  const configs = { 'cleanup.policy': 'compact' };
  const [a, b] = planNewTopics([{ name: 'a', partitions: [...one, ...one], configs }, { name: '__b', partitions: one }], existing);
  assert.ok(a && b && isKafkaUuid(a.topicId) && isKafkaUuid(b.topicId));
  assert.notEqual(a.topicId, b.topicId);
  assert.deepEqual(a.partitions.map((p) => [p.partition, p.leaderEpoch, p.partitionEpoch]), [[0, 0, 0], [1, 0, 0]]);
  assert.deepEqual(a.configs, configs);
  assert.notEqual(a.configs, configs);
  assert.equal(a.internal, false);
  assert.equal(b.internal, true);
});

test('planNewTopics: refuses existing or repeated names, bad or taken ids, no partitions, invalid partitions', () => {
  assert.equal(code(() => planNewTopics([{ name: 'taken', partitions: one }], existing)), 'TRIB_ERR_TOPIC_EXISTS');
  assert.equal(code(() => planNewTopics([{ name: 'x', partitions: one }, { name: 'x', partitions: one }], existing)), 'TRIB_ERR_TOPIC_EXISTS');
  assert.equal(code(() => planNewTopics([{ name: 'x', topicId: 'nope', partitions: one }], existing)), 'TRIB_ERR_INVALID_METADATA');
  assert.equal(code(() => planNewTopics([{ name: 'x', topicId: existingTopic.topicId, partitions: one }], existing)), 'TRIB_ERR_INVALID_METADATA');
  const id = randomKafkaUuid();
  assert.equal(code(() => planNewTopics([{ name: 'x', topicId: id, partitions: one }, { name: 'y', topicId: id, partitions: one }], existing)), 'TRIB_ERR_INVALID_METADATA');
  assert.equal(code(() => planNewTopics([{ name: 'x', partitions: [] }], existing)), 'TRIB_ERR_INVALID_METADATA');
  assert.equal(code(() => planNewTopics([{ name: 'x', partitions: [{ replicas: [1], leader: 2, isr: [1] }] }], existing)), 'TRIB_ERR_INVALID_METADATA');
});

test('planNewTopics: a store name rule runs after the existence check', () => {
  const seen: string[] = [];
  const checkName = (name: string): void => {
    seen.push(name);
    if (name.includes('/')) throw new MetadataError('TRIB_ERR_INVALID_METADATA', `Topic name '${name}' contains '/'`);
  };
  assert.equal(code(() => planNewTopics([{ name: 'taken', partitions: one }], existing, { checkName })), 'TRIB_ERR_TOPIC_EXISTS');
  assert.deepEqual(seen, []);
  assert.equal(code(() => planNewTopics([{ name: 'a/b', partitions: one }], existing, { checkName })), 'TRIB_ERR_INVALID_METADATA');
  assert.deepEqual(seen, ['a/b']);
});
