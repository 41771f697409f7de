// Unit tests of the librdkafka fatal-error classifier (rdk-fatal.ts, issue #15): debug log
// lines in librdkafka 2.0.2's formats (as a fault run's rdk-producer.log holds them) and
// injected segment sequences; no sockets, no brokers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyRdkFatal } from './rdk-fatal.js';

const THREAD = 'rdkafka#producer-1| [thrd:127.0.0.1:44015/bootstrap]: 127.0.0.1:44015/1: ';
const msgset = (msgId: number, count: number, outcome: string) =>
  `%7|1796331617.876|MSGSET|${THREAD}fault [0]: MessageSet with ${count} message(s) (MsgId ${msgId}, BaseSeq ${msgId - 1}) ${outcome}`;
const transport = 'encountered error: Local: Broker transport failure (actions Refresh,MsgPossiblyPersisted)';
const notEnough = 'encountered error: Broker: Not enough in-sync replicas (actions Retry,MsgNotPersisted)';
/** The fatal error as error_cb and the debug log give it (seen in a fault run under load). */
const REASON = 'ProduceRequest for fault [0] with 259 message(s) failed due to sequence desynchronization with broker 1 (PID{Id:1,Epoch:0}, base seq 157, idemp state change 13079ms ago, last partition error NOT_ENOUGH_REPLICAS (actions Retry,MsgNotPersisted, base seq 156..156, base msgid 157, 36ms ago)';
const fatalLine = `%0|1796331626.273|FATAL|rdkafka#producer-1| [thrd:127.0.0.1:44015/bootstrap]: Fatal error: Broker: Broker received an out of order sequence number: ${REASON}`;

/** The run: seqs 155 and 156 in flight when the leader was killed, refused NOT_ENOUGH_REPLICAS by the new one, 157.. answered OUT_OF_ORDER. */
const DEBUG = [
  msgset(155, 1, 'delivered'),
  msgset(156, 1, transport),
  msgset(157, 1, transport),
  msgset(156, 1, notEnough),
  msgset(157, 1, notEnough),
  fatalLine,
].join('\n');
/** What the brokers' logs hold of producer 1, epoch 0, in fault-0: up to seq 154. */
const upTo154 = () => [[0, 137], [138, 154]] as [number, number][];

test('librdkafka 2.0.2\'s own fatal (#4438): a possibly persisted batch ending just before the head, never written, then OUT_OF_ORDER', () => {
  const c = classifyRdkFatal(REASON, DEBUG, upTo154);
  assert.equal(c.kind, 'client', c.reason);
  assert.match(c.reason, /librdkafka#4438.*no broker wrote seq 156.*MsgId 157, BaseSeq 156\) encountered error: Local: Broker transport failure/);
});

test('the broker\'s fault: it had written the sequence before the head, so OUT_OF_ORDER was wrong', () => {
  const c = classifyRdkFatal(REASON, DEBUG, () => [[0, 137], [138, 156]]);
  assert.equal(c.kind, 'unexplained');
  assert.match(c.reason, /a broker wrote seq 156/);
});

test('unexplained without the possibly persisted failure of the batch just before the head, or with it delivered', () => {
  const noTransport = DEBUG.split('\n').filter((l) => !(l.includes('MsgId 157,') && l.includes('transport'))).join('\n');
  assert.equal(classifyRdkFatal(REASON, noTransport, upTo154).kind, 'unexplained');
  const delivered = `${msgset(157, 1, 'delivered')}\n${DEBUG}`;
  assert.match(classifyRdkFatal(REASON, delivered, upTo154).reason, /was delivered/);
  // Another partition's failure does not count.
  const otherPartition = DEBUG.replace(/fault \[0\]: MessageSet with 1 message\(s\) \(MsgId 157, BaseSeq 156\) encountered error: Local: Broker transport/, 'fault [1]: MessageSet with 1 message(s) (MsgId 157, BaseSeq 156) encountered error: Local: Broker transport');
  assert.equal(classifyRdkFatal(REASON, otherPartition, upTo154).kind, 'unexplained');
});

test('unexplained: another fatal error, no debug log, another instance\'s lines, an earlier epoch\'s lines', () => {
  assert.equal(classifyRdkFatal('ProduceRequest for fault [0] with 1 message(s) failed due to unknown producer id', DEBUG, upTo154).kind, 'unexplained');
  assert.match(classifyRdkFatal(REASON, undefined, upTo154).reason, /no librdkafka debug log/);
  assert.match(classifyRdkFatal(REASON, DEBUG.replace(/\|FATAL\|[^\n]*/, ''), upTo154).reason, /no such FATAL line/);
  const otherInstance = DEBUG.split('\n').map((l) => (l.includes('|MSGSET|') ? l.replace('producer-1|', 'producer-2|') : l)).join('\n');
  assert.equal(classifyRdkFatal(REASON, otherInstance, upTo154).kind, 'unexplained');
  // The failure was in epoch 0 of producer 1, the fatal in epoch 1 (after a bump): not this epoch's.
  const bumped = DEBUG.replace(fatalLine, `%7|1796331620.000|DRAIN|rdkafka#producer-1| [thrd:main]: All partitions drained, bumped epoch to PID{Id:1,Epoch:1}\n${fatalLine.replace('Epoch:0', 'Epoch:1')}`);
  assert.equal(classifyRdkFatal(REASON.replace('Epoch:0', 'Epoch:1'), bumped, upTo154).kind, 'unexplained');
});

test('the bug\'s other form, "rewound sequence number": 156 answered OUT_OF_ORDER (155 refused unwritten) while librdkafka expected 157', () => {
  const reason = 'ProduceRequest for fault [0] with 1 message(s) failed with rewound sequence number on broker 1 (PID{Id:1,Epoch:0}, base seq 156 < next seq 157): last error NOT_ENOUGH_REPLICAS (actions Retry,MsgNotPersisted, base seq 155..155, base msgid 156, 20ms ago)';
  const debug = [msgset(156, 1, transport), msgset(157, 1, transport), msgset(156, 1, notEnough), `%0|1796331626.273|FATAL|rdkafka#producer-1| [thrd:main]: Fatal error: Broker: Broker received an out of order sequence number: ${reason}`].join('\n');
  assert.equal(classifyRdkFatal(reason, debug, upTo154).kind, 'client');
  // Had a broker written 155, OUT_OF_ORDER for 156 would have been the broker's error.
  assert.equal(classifyRdkFatal(reason, debug, () => [[138, 155]]).kind, 'unexplained');
});
