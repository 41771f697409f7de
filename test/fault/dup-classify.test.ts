// Unit tests of the duplicate classifier (dup-classify.ts, issue #16): synthetic librdkafka
// debug log lines and batch headers; no sockets, no brokers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkHistory } from './checker.js';
import { classifyDuplicates, explainedCopies, parseEpochBumps, scanBatches, type BatchHeader, type HeaderLookup } from './dup-classify.js';

const PREFIX = '%7|1796329580.445|';
const THREAD = 'rdkafka#producer-1| [thrd:127.0.0.1:44045/bootstrap]: ';
const errseq = (epoch: number, cause: string) =>
  `${PREFIX}ERRSEQ|${THREAD}127.0.0.1:44045/1: ProduceRequest for fault [1] with 35 message(s) failed due to skipped sequence numbers (PID{Id:3,Epoch:${epoch}}, base seq 1852 > next seq 1840) caused by previous failed request (${cause}, actions Refresh,MsgNotPersisted, base seq 1840..1851, base msgid 11663, 16ms ago): recovering and retrying`;
const drain = (epoch: number, reason: string) =>
  `${PREFIX}DRAIN|${THREAD}Beginning partition drain in state Assigned for PID{Id:3,Epoch:${epoch}} epoch bump for 1 partition(s) with in-flight requests: ${reason}`;
const bumped = (epoch: number) => `${PREFIX}DRAIN|${THREAD}All partitions drained, bumped epoch to PID{Id:3,Epoch:${epoch}}`;

/** Partition 2: values a..c at offsets 0-2 under epoch 19, then again at 3-5 under `secondEpoch` (producer id `secondPid`). */
function setup(value: (i: number) => string, secondEpoch: number, secondPid = 3) {
  const log = new Map<number, (string | undefined)[]>([[2, [0, 1, 2, 0, 1, 2].map(value)]]);
  const first: BatchHeader = { baseOffset: 0, producerId: 3, producerEpoch: 19, baseSequence: 2015 };
  const second: BatchHeader = { baseOffset: 3, producerId: secondPid, producerEpoch: secondEpoch, baseSequence: 0 };
  const headerAt: HeaderLookup = (p, o) => (p !== 2 ? undefined : o < 3 ? first : o < 6 ? second : undefined);
  return { log, headerAt };
}
const rdk = (i: number) => `rdk-${100 + i}`;

test('the leader-change race (skipped sequence numbers after NOT_LEADER_FOR_PARTITION) is a client epoch-bump duplicate, with its log line', () => {
  const { log, headerAt } = setup(rdk, 20);
  const debug = [bumped(19), errseq(19, 'NOT_LEADER_FOR_PARTITION'), drain(19, 'skipped sequence numbers'), bumped(20)].join('\n');
  const c = classifyDuplicates(log, headerAt, debug);
  assert.equal(c.length, 3);
  for (const d of c) {
    assert.equal(d.kind, 'client-race', d.reason);
    assert.match(d.reason, /epoch 19 .*epoch 20 .*caused by previous failed request \(NOT_LEADER_FOR_PARTITION/);
  }
  // The resent copies are then neither duplicates nor reorderings for the checker.
  const check = checkHistory({ acks: [], log, endOffsets: new Map([[2, 6]]), explainedCopies: explainedCopies(c) });
  assert.deepEqual(check.duplicated, []);
  assert.deepEqual(check.reordered, []);
  assert.equal(check.recordsInLog, 6);
  const strict = checkHistory({ acks: [], log, endOffsets: new Map([[2, 6]]) });
  assert.equal(strict.duplicated.length, 3);
});

test('skipped sequence numbers after NOT_ENOUGH_REPLICAS (refused before the append, as Kafka does) is a client epoch-bump duplicate too', () => {
  const { log, headerAt } = setup(rdk, 20);
  const debug = [errseq(19, 'NOT_ENOUGH_REPLICAS'), drain(19, 'skipped sequence numbers'), bumped(20)].join('\n');
  const c = classifyDuplicates(log, headerAt, debug);
  assert.deepEqual(c.map((d) => d.kind), ['client-race', 'client-race', 'client-race']);
  assert.match(c[0]!.reason, /bumped its epoch after NOT_ENOUGH_REPLICAS/);
  // Both causes within one bump are still the client's own.
  const both = [errseq(19, 'NOT_ENOUGH_REPLICAS'), errseq(19, 'NOT_LEADER_FOR_PARTITION'), drain(19, 'skipped sequence numbers'), bumped(20)].join('\n');
  assert.equal(classifyDuplicates(log, headerAt, both)[0]!.kind, 'client-race');
  // NOT_ENOUGH_REPLICAS_AFTER_APPEND (the batch WAS written) is not one of them.
  const after = [errseq(19, 'NOT_ENOUGH_REPLICAS_AFTER_APPEND'), drain(19, 'skipped sequence numbers'), bumped(20)].join('\n');
  assert.equal(classifyDuplicates(log, headerAt, after)[0]!.kind, 'unexplained');
});

test('an OUT_OF_ORDER cause counts only when its ERRSEQ chain leads back to NOT_ENOUGH_REPLICAS or NOT_LEADER', () => {
  const { log, headerAt } = setup(rdk, 20);
  // As librdkafka 2.0.2 logged it in a default fault run (seed 1): 635 refused
  // NOT_ENOUGH_REPLICAS, 636 then OUT_OF_ORDER (skipped past 635), 637-654 skipped past 636.
  const line = (partition: number, baseSeq: number, cause: string, causeSeq: number) =>
    `${PREFIX}ERRSEQ|${THREAD}127.0.0.1:42485/3: ProduceRequest for fault [${partition}] with 1 message(s) failed due to skipped sequence numbers (PID{Id:3,Epoch:19}, base seq ${baseSeq} > next seq 635) caused by previous failed request (${cause}, actions Retry, base seq ${causeSeq}..${causeSeq}, base msgid 636, 0ms ago): recovering and retrying`;
  const tail = [drain(19, 'skipped sequence numbers'), bumped(20)];
  const chain = [line(1, 636, 'NOT_ENOUGH_REPLICAS', 635), line(1, 637, 'OUT_OF_ORDER_SEQUENCE_NUMBER', 636), ...tail].join('\n');
  assert.deepEqual(classifyDuplicates(log, headerAt, chain).map((d) => d.kind), ['client-race', 'client-race', 'client-race']);
  // The OUT_OF_ORDER request was not itself a skip (no ERRSEQ line for 636), on another
  // partition, or the chain ends in another error: unexplained.
  const cases: [string, string][] = [
    ['no line for the refused request', [line(1, 640, 'NOT_ENOUGH_REPLICAS', 639), line(1, 637, 'OUT_OF_ORDER_SEQUENCE_NUMBER', 636), ...tail].join('\n')],
    ['another partition', [line(2, 636, 'NOT_ENOUGH_REPLICAS', 635), line(1, 637, 'OUT_OF_ORDER_SEQUENCE_NUMBER', 636), ...tail].join('\n')],
    ['rooted in a storage error', [line(1, 636, 'KAFKA_STORAGE_ERROR', 635), line(1, 637, 'OUT_OF_ORDER_SEQUENCE_NUMBER', 636), ...tail].join('\n')],
    ['only OUT_OF_ORDER', [line(1, 637, 'OUT_OF_ORDER_SEQUENCE_NUMBER', 636), ...tail].join('\n')],
  ];
  for (const [name, debug] of cases) {
    assert.deepEqual(classifyDuplicates(log, headerAt, debug).map((d) => d.kind), ['unexplained', 'unexplained', 'unexplained'], name);
  }
});

test('same producer epoch is the broker\'s idempotence failure, whatever the log says', () => {
  const { log, headerAt } = setup(rdk, 19);
  const c = classifyDuplicates(log, headerAt, [errseq(19, 'NOT_LEADER_FOR_PARTITION'), drain(19, 'skipped sequence numbers'), bumped(20)].join('\n'));
  assert.deepEqual(c.map((d) => d.kind), ['broker', 'broker', 'broker']);
  assert.equal(explainedCopies(c).size, 0);
});

test('a bump after any other error, a bump with no log line, or no debug log fails (unexplained)', () => {
  const { log, headerAt } = setup(rdk, 20);
  const cases: [string, string | undefined][] = [
    ['storage error', [errseq(19, 'KAFKA_STORAGE_ERROR'), drain(19, 'skipped sequence numbers'), bumped(20)].join('\n')],
    ['mixed causes', [errseq(19, 'NOT_LEADER_FOR_PARTITION'), errseq(19, 'OUT_OF_ORDER_SEQUENCE_NUMBER'), drain(19, 'skipped sequence numbers'), bumped(20)].join('\n')],
    ['another drain reason', [drain(19, 'message timed out'), bumped(20)].join('\n')],
    ['no bump line', [errseq(19, 'NOT_LEADER_FOR_PARTITION'), drain(19, 'skipped sequence numbers')].join('\n')],
    ['bump to another epoch', [errseq(18, 'NOT_LEADER_FOR_PARTITION'), drain(18, 'skipped sequence numbers'), bumped(19)].join('\n')],
    ['no debug log', undefined],
  ];
  for (const [name, debug] of cases) {
    assert.deepEqual(classifyDuplicates(log, headerAt, debug).map((d) => d.kind), ['unexplained', 'unexplained', 'unexplained'], name);
  }
});

test('every bump between the two epochs must be the race', () => {
  const { log, headerAt } = setup(rdk, 21);
  const race = (e: number) => [errseq(e, 'NOT_LEADER_FOR_PARTITION'), drain(e, 'skipped sequence numbers'), bumped(e + 1)];
  assert.equal(classifyDuplicates(log, headerAt, [...race(19), ...race(20)].join('\n'))[0]!.kind, 'client-race');
  const mixed = [errseq(19, 'KAFKA_STORAGE_ERROR'), drain(19, 'skipped sequence numbers'), bumped(20), ...race(20)];
  assert.equal(classifyDuplicates(log, headerAt, mixed.join('\n'))[0]!.kind, 'unexplained');
});

test('KafkaJS duplicates, another producer id, an earlier epoch or a missing header stay failures', () => {
  const debug = [errseq(19, 'NOT_LEADER_FOR_PARTITION'), drain(19, 'skipped sequence numbers'), bumped(20)].join('\n');
  const kjs = setup((i) => `kjs-${i}`, 20);
  assert.equal(classifyDuplicates(kjs.log, kjs.headerAt, debug)[0]!.kind, 'unexplained');
  const pid = setup(rdk, 20, 4);
  assert.equal(classifyDuplicates(pid.log, pid.headerAt, debug)[0]!.kind, 'unexplained');
  const earlier = setup(rdk, 18);
  assert.equal(classifyDuplicates(earlier.log, earlier.headerAt, debug)[0]!.kind, 'unexplained');
  const { log } = setup(rdk, 20);
  assert.equal(classifyDuplicates(log, () => undefined, debug)[0]!.kind, 'unexplained');
});

test('parseEpochBumps keys bumps by producer id and new epoch', () => {
  const b = parseEpochBumps([errseq(19, 'NOT_LEADER_FOR_PARTITION'), drain(19, 'skipped sequence numbers'), bumped(20)].join('\n'));
  assert.deepEqual([...b.keys()], ['3/20']);
  assert.deepEqual(b.get('3/20')!.skippedCauses, ['NOT_LEADER_FOR_PARTITION']);
  assert.deepEqual(b.get('3/20')!.drainReasons, ['skipped sequence numbers']);
});

test('scanBatches reads v2 batch headers and stops at torn bytes', () => {
  const batch = (baseOffset: number, epoch: number, seq: number, lastDelta: number) => {
    const b = Buffer.alloc(61 + 5);
    b.writeBigInt64BE(BigInt(baseOffset), 0);
    b.writeInt32BE(b.length - 12, 8);
    b.writeInt8(2, 16);
    b.writeInt32BE(lastDelta, 23);
    b.writeBigInt64BE(3n, 43);
    b.writeInt16BE(epoch, 51);
    b.writeInt32BE(seq, 53);
    return b;
  };
  const two = Buffer.concat([batch(0, 19, 2015, 2), batch(3, 20, 0, 2)]);
  assert.deepEqual([...scanBatches(two)].map((x) => [x.h.baseOffset, x.h.producerEpoch, x.h.baseSequence, x.last]), [[0, 19, 2015, 2], [3, 20, 0, 5]]);
  assert.equal([...scanBatches(two.subarray(0, two.length - 1))].length, 1, 'a torn last batch is not read');
  const bad = Buffer.from(two);
  bad.writeInt32BE(-5, 8);
  assert.equal([...scanBatches(bad)].length, 0, 'a negative length ends the scan');
});
