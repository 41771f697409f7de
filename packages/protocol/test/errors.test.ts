import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ALL_ERRORS, ErrorCode, errorInfo, isKnownErrorCode } from '../src/errors.js';

test('every error code is unique and has a name and a message', () => {
  const codes = new Set<number>();
  const names = new Set<string>();
  for (const info of ALL_ERRORS) {
    assert.ok(!codes.has(info.code), `duplicate code ${info.code}`);
    assert.ok(!names.has(info.name), `duplicate name ${info.name}`);
    codes.add(info.code);
    names.add(info.name);
    assert.match(info.name, /^[A-Z][A-Z0-9_]*$/);
    if (info.code !== 0) assert.ok(info.message.length > 10, `${info.name} has no message`);
    assert.equal(ErrorCode[info.name as keyof typeof ErrorCode], info.code);
  }
  assert.equal(Object.keys(ErrorCode).length, ALL_ERRORS.length);
  // Kafka's table runs from -1 without holes except the never-assigned 99.
  for (let code = -1; code <= 133; code++) assert.equal(isKnownErrorCode(code), code !== 99, `code ${code}`);
});

test('well-known codes match Kafka', () => {
  assert.equal(ErrorCode.UNKNOWN_SERVER_ERROR, -1);
  assert.equal(ErrorCode.NONE, 0);
  assert.equal(ErrorCode.OFFSET_OUT_OF_RANGE, 1);
  assert.equal(ErrorCode.CORRUPT_MESSAGE, 2);
  assert.equal(ErrorCode.NOT_LEADER_OR_FOLLOWER, 6);
  assert.equal(ErrorCode.MESSAGE_TOO_LARGE, 10);
  assert.equal(ErrorCode.INVALID_TIMESTAMP, 32);
  assert.equal(ErrorCode.UNSUPPORTED_VERSION, 35);
  assert.equal(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, 45);
  assert.equal(ErrorCode.DUPLICATE_SEQUENCE_NUMBER, 46);
  assert.equal(ErrorCode.PRODUCER_FENCED, 90);
  assert.equal(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, 76);
  assert.equal(ErrorCode.INVALID_RECORD, 87);
  assert.equal(ErrorCode.UNKNOWN_TOPIC_ID, 100);
  assert.equal(ErrorCode.INVALID_REGULAR_EXPRESSION, 128);
});

test('retriable follows RetriableException', () => {
  for (const name of ['NOT_LEADER_OR_FOLLOWER', 'CORRUPT_MESSAGE', 'UNKNOWN_TOPIC_OR_PARTITION', 'REQUEST_TIMED_OUT',
    'NOT_ENOUGH_REPLICAS', 'COORDINATOR_LOAD_IN_PROGRESS', 'NOT_COORDINATOR', 'FENCED_LEADER_EPOCH', 'KAFKA_STORAGE_ERROR'] as const) {
    assert.equal(errorInfo(ErrorCode[name]).retriable, true, name);
  }
  for (const name of ['UNKNOWN_SERVER_ERROR', 'OFFSET_OUT_OF_RANGE', 'MESSAGE_TOO_LARGE', 'INVALID_RECORD',
    'TOPIC_AUTHORIZATION_FAILED', 'PRODUCER_FENCED', 'UNSUPPORTED_VERSION', 'OUT_OF_ORDER_SEQUENCE_NUMBER'] as const) {
    assert.equal(errorInfo(ErrorCode[name]).retriable, false, name);
  }
});

test('an unknown code is described as UNKNOWN_SERVER_ERROR but keeps its number', () => {
  const info = errorInfo(4242);
  assert.equal(info.code, 4242);
  assert.equal(info.name, 'UNKNOWN_SERVER_ERROR');
  assert.equal(info.retriable, false);
  assert.match(info.message, /4242/);
});

test('topic names follow Kafka\'s Topic.validate, with its messages', async () => {
  const { invalidTopicNameReason, isValidTopicName, TOPIC_NAME_LENGTH_MAX } = await import('../src/index.js');
  for (const ok of ['a', 'orders.v2', 'x_y-z', '__consumer_offsets', 'a'.repeat(TOPIC_NAME_LENGTH_MAX)]) assert.equal(isValidTopicName(ok), true, ok);
  assert.equal(invalidTopicNameReason(''), 'Topic name is invalid: the empty string is not allowed');
  assert.equal(invalidTopicNameReason('.'), "Topic name is invalid: '.' is not allowed");
  assert.equal(invalidTopicNameReason('..'), "Topic name is invalid: '..' is not allowed");
  assert.match(invalidTopicNameReason('a'.repeat(250))!, /longer than the max allowed length 249/);
  assert.match(invalidTopicNameReason('a b')!, /contains one or more characters other than ASCII alphanumerics/);
});
