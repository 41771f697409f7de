/**
 * confluent-kafka-python (Debian 1.7.0 over librdkafka) transactions against the broker:
 * init_transactions, produce to 3 partitions, send_offsets_to_transaction, commit; then the
 * same aborted; the committed offset is the committed transaction's; every partition holds
 * its records followed by COMMIT then ABORT markers. A second producer with the same
 * transactional.id fences the first, whose commit then fails with a fatal error. A transaction
 * left open past transaction.timeout.ms is aborted by the coordinator; the coordinator's state
 * survives kill -9 of the broker process (the open transaction is still Ongoing after the
 * restart, and the next instance aborts it and commits its own).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ControlRecordType } from '@tributary/protocol';
import { spawn, type ChildProcess } from 'node:child_process';
import { DEBIAN_PYTHON, freePort, requirePythonModule, runPython, spawnBroker, startTestBroker, tempDir, waitFor } from './kit.js';
import { describeTxn, logOf } from './txn-helpers.js';

const SCRIPT = `
import sys, json
from confluent_kafka import Producer, Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
bs = sys.argv[1]
admin = AdminClient({'bootstrap.servers': bs})
for f in admin.create_topics([NewTopic('py-out', 3, 1), NewTopic('py-in', 1, 1)]).values():
    f.result(30)
out = {}
p = Producer({'bootstrap.servers': bs, 'transactional.id': 'py-txn', 'log_level': 0})
p.init_transactions(30)
c = Consumer({'bootstrap.servers': bs, 'group.id': 'py-group', 'enable.auto.commit': False, 'log_level': 0})

p.begin_transaction()
for part in range(3):
    p.produce('py-out', value=('commit-%d' % part).encode(), partition=part)
p.send_offsets_to_transaction([TopicPartition('py-in', 0, 42)], c.consumer_group_metadata(), 30)
p.commit_transaction(30)

p.begin_transaction()
for part in range(3):
    p.produce('py-out', value=('abort-%d' % part).encode(), partition=part)
p.send_offsets_to_transaction([TopicPartition('py-in', 0, 99)], c.consumer_group_metadata(), 30)
# abort_transaction purges what is still queued in the client: send it first, so the broker
# holds aborted records.
p.flush(30)
p.abort_transaction(30)
out['committed'] = c.committed([TopicPartition('py-in', 0)], timeout=10)[0].offset

# Fencing: a second instance with the same transactional.id.
p.begin_transaction()
p.produce('py-out', value=b'zombie', partition=0)
p.flush(10)
p2 = Producer({'bootstrap.servers': bs, 'transactional.id': 'py-txn', 'log_level': 0})
p2.init_transactions(30)
try:
    p.commit_transaction(30)
    out['fenced'] = None
except KafkaException as ex:
    e = ex.args[0]
    out['fenced'] = {'name': e.name(), 'fatal': e.fatal(), 'text': e.str()}
p2.begin_transaction()
p2.produce('py-out', value=b'fresh', partition=0)
p2.commit_transaction(30)
c.close()
print(json.dumps(out))
`;

test('confluent-kafka-python: commit and abort with send_offsets_to_transaction over 3 partitions; a second instance fences the first', { timeout: 180_000 }, async (t) => {
  requirePythonModule('confluent_kafka');
  const broker = await startTestBroker(t);
  const r = await runPython(SCRIPT, [broker.bootstrap], { timeoutMs: 150_000 });
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout.toString()) as { committed: number; fenced: { name: string; fatal: boolean; text: string } | null };
  assert.equal(out.committed, 42, 'the committed transaction\'s offset, not the aborted one\'s');
  assert.ok(out.fenced !== null, 'the fenced producer\'s commit must fail');
  assert.equal(out.fenced.fatal, true, out.fenced.text);
  assert.match(out.fenced.name, /PRODUCER_FENCED|INVALID_PRODUCER_EPOCH|_FENCED/, out.fenced.text);
  for (const partition of [1, 2]) {
    const entries = await logOf(broker.port, 'py-out', partition);
    assert.deepEqual(entries.map((e) => [e.control, e.value]), [[null, `commit-${partition}`], [ControlRecordType.COMMIT, null], [null, `abort-${partition}`], [ControlRecordType.ABORT, null]]);
  }
  const p0 = await waitFor('the markers of partition 0', 10_000, async () => {
    const e = await logOf(broker.port, 'py-out', 0);
    return e.filter((x) => x.control !== null).length === 4 ? e : undefined;
  });
  assert.deepEqual(p0.map((e) => [e.control, e.value]), [
    [null, 'commit-0'], [ControlRecordType.COMMIT, null], [null, 'abort-0'], [ControlRecordType.ABORT, null],
    [null, 'zombie'], [ControlRecordType.ABORT, null], [null, 'fresh'], [ControlRecordType.COMMIT, null],
  ]);
  assert.equal((await describeTxn(broker.port, 'py-txn')).transactionState, 'CompleteCommit');
});

/** A Python client left running (killed by the test). */
function spawnPython(script: string, args: string[]): ChildProcess {
  return spawn(DEBIAN_PYTHON, ['-c', script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
}

const TIMEOUT_AND_RESTART = `
import sys, json, time
from confluent_kafka import Producer, KafkaException
bs, phase = sys.argv[1], sys.argv[2]
out = {}
if phase == 'timeout':
    p = Producer({'bootstrap.servers': bs, 'transactional.id': 'py-slow', 'transaction.timeout.ms': 1000, 'log_level': 0})
    p.init_transactions(30)
    p.begin_transaction()
    p.produce('py-kill', value=b'too-slow', partition=0)
    p.flush(10)
    time.sleep(3)
    try:
        p.commit_transaction(30)
        out['error'] = None
    except KafkaException as ex:
        e = ex.args[0]
        out['error'] = {'name': e.name(), 'fatal': e.fatal(), 'abortable': e.txn_requires_abort(), 'text': e.str()}
elif phase == 'before':
    p = Producer({'bootstrap.servers': bs, 'transactional.id': 'py-kill', 'log_level': 0})
    p.init_transactions(30)
    p.begin_transaction()
    p.produce('py-kill', value=b'done', partition=1)
    p.commit_transaction(30)
    p.begin_transaction()
    p.produce('py-kill', value=b'open', partition=1)
    p.flush(10)
    out['ok'] = True
    print(json.dumps(out), flush=True)
    time.sleep(60)
else:
    p = Producer({'bootstrap.servers': bs, 'transactional.id': 'py-kill', 'log_level': 0})
    p.init_transactions(60)
    p.begin_transaction()
    p.produce('py-kill', value=b'after', partition=1)
    p.commit_transaction(30)
    out['ok'] = True
print(json.dumps(out))
`;

test('confluent-kafka-python: the coordinator aborts a timed-out transaction; transaction state survives kill -9', { timeout: 240_000 }, async (t) => {
  requirePythonModule('confluent_kafka');
  const dataDir = tempDir(t);
  const port = await freePort();
  let broker = await spawnBroker(t, { dataDir, port, overrides: { 'transaction.abort.timed.out.transaction.cleanup.interval.ms': 200 } });
  const admin = await runPython(`
import sys
from confluent_kafka.admin import AdminClient, NewTopic
a = AdminClient({'bootstrap.servers': sys.argv[1]})
for f in a.create_topics([NewTopic('py-kill', 2, 1)]).values():
    f.result(30)
`, [broker.bootstrap], { timeoutMs: 60_000 });
  assert.equal(admin.code, 0, admin.stderr);

  const slow = await runPython(TIMEOUT_AND_RESTART, [broker.bootstrap, 'timeout'], { timeoutMs: 90_000 });
  assert.equal(slow.code, 0, slow.stderr);
  const slowOut = JSON.parse(slow.stdout.toString().trim().split('\n').at(-1)!) as { error: { name: string; fatal: boolean; abortable: boolean; text: string } | null };
  assert.ok(slowOut.error !== null, 'committing a transaction the coordinator aborted must fail');
  assert.ok(slowOut.error.fatal || slowOut.error.abortable, slowOut.error.text);
  const slowState = await describeTxn(port, 'py-slow');
  assert.equal(slowState.transactionState, 'CompleteAbort');
  assert.deepEqual((await logOf(port, 'py-kill', 0)).map((e) => [e.control, e.value]), [[null, 'too-slow'], [ControlRecordType.ABORT, null]]);

  // A committed transaction and an open one, then kill -9 while the producer is still alive.
  const before = spawnPython(TIMEOUT_AND_RESTART, [broker.bootstrap, 'before']);
  t.after(() => before.kill('SIGKILL'));
  await waitFor('the open transaction', 60_000, async () => ((await describeTxn(port, 'py-kill')).transactionState === 'Ongoing' && (await logOf(port, 'py-kill', 1)).length === 3 ? true : undefined));
  const open = await describeTxn(port, 'py-kill');
  await broker.kill('SIGKILL');
  before.kill('SIGKILL');

  broker = await spawnBroker(t, { dataDir, port });
  const after = await describeTxn(port, 'py-kill');
  assert.deepEqual([after.transactionState, after.producerId, after.producerEpoch, after.topics], ['Ongoing', open.producerId, open.producerEpoch, [{ topic: 'py-kill', partitions: [1] }]]);
  const next = await runPython(TIMEOUT_AND_RESTART, [broker.bootstrap, 'after'], { timeoutMs: 120_000 });
  assert.equal(next.code, 0, next.stderr);
  const entries = await waitFor('the markers after the restart', 10_000, async () => {
    const e = await logOf(port, 'py-kill', 1);
    return e.length === 6 ? e : undefined;
  });
  assert.deepEqual(entries.map((e) => [e.control, e.value]), [
    [null, 'done'], [ControlRecordType.COMMIT, null], [null, 'open'], [ControlRecordType.ABORT, null], [null, 'after'], [ControlRecordType.COMMIT, null],
  ]);
});
