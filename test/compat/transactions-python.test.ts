/**
 * confluent-kafka-python (Debian 1.7.0 over librdkafka) transactions against the broker:
 * init_transactions, produce to 3 partitions, send_offsets_to_transaction, commit; then the
 * same aborted; the committed offset is the committed transaction's; every partition holds
 * its records followed by COMMIT then ABORT markers. A second producer with the same
 * transactional.id fences the first, whose commit then fails with a fatal error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ControlRecordType } from '@tributary/protocol';
import { requirePythonModule, runPython, startTestBroker, waitFor } from './kit.js';
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
