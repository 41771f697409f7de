/**
 * Clear refusals for what is not built yet, seen through real clients (issue #14 point 7):
 * - a client configured for SASL against this PLAINTEXT broker gets Kafka's answer to
 *   SaslHandshake (ILLEGAL_SASL_STATE) and reports an authentication failure at once,
 *   instead of a connection that closes with no reason;
 * - a transactional producer (librdkafka's init_transactions, KafkaJS's transaction())
 *   fails within seconds with a non-retriable error instead of retrying
 *   COORDINATOR_NOT_AVAILABLE until its timeout. Transactions arrive with issue #17.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel } from 'kafkajs';
import { requirePythonModule, requireTool, run, runPython, startTestBroker } from './kit.js';

/** "At once": generous for a shared, noisy machine, far below any client's own timeout. */
const FAIL_FAST_MS = 5_000;

test('kcat with SASL_PLAINTEXT against a PLAINTEXT listener reports the failed SASL handshake at once', { timeout: 60_000 }, async (t) => {
  requireTool('kcat');
  const broker = await startTestBroker(t);
  const r = await run('kcat', ['-L', '-b', broker.bootstrap, '-m', '3', '-X', 'security.protocol=SASL_PLAINTEXT', '-X', 'sasl.mechanisms=PLAIN', '-X', 'sasl.username=u', '-X', 'sasl.password=p'], { timeoutMs: 30_000 });
  // librdkafka's words for an ILLEGAL_SASL_STATE answer to SaslHandshake.
  assert.match(r.stderr, /SASL PLAIN mechanism handshake failed: Broker: Request not valid in current SASL state/, r.stderr);
});

test('confluent-kafka-python: SASL against PLAINTEXT surfaces _AUTHENTICATION at once; init_transactions fails fast and fatally', { timeout: 60_000 }, async (t) => {
  requirePythonModule('confluent_kafka');
  const broker = await startTestBroker(t);
  const sasl = await runPython(`
import sys, time, json
from confluent_kafka import Producer
errors = []
p = Producer({'bootstrap.servers': sys.argv[1], 'security.protocol': 'SASL_PLAINTEXT', 'sasl.mechanisms': 'PLAIN',
              'sasl.username': 'u', 'sasl.password': 'p', 'error_cb': lambda e: errors.append((time.time(), e))})
t0 = time.time()
while not errors and time.time() - t0 < 20:
    p.poll(0.05)
at, e = errors[0]
print(json.dumps({'elapsedMs': (at - t0) * 1000, 'name': e.name(), 'text': e.str()}))
`, [broker.bootstrap], { timeoutMs: 40_000 });
  assert.equal(sasl.code, 0, sasl.stderr);
  const saslOut = JSON.parse(sasl.stdout.toString()) as { elapsedMs: number; name: string; text: string };
  assert.equal(saslOut.name, '_AUTHENTICATION', saslOut.text);
  assert.match(saslOut.text, /SASL PLAIN mechanism handshake failed/);
  assert.ok(saslOut.elapsedMs < FAIL_FAST_MS, `authentication error after ${saslOut.elapsedMs} ms`);

  const txn = await runPython(`
import sys, time, json
from confluent_kafka import Producer, KafkaException
p = Producer({'bootstrap.servers': sys.argv[1], 'transactional.id': 'compat-txn', 'log_level': 0})
t0 = time.time()
try:
    p.init_transactions(30)
    print(json.dumps({'ok': True}))
except KafkaException as ex:
    e = ex.args[0]
    print(json.dumps({'ok': False, 'elapsedMs': (time.time() - t0) * 1000, 'name': e.name(), 'fatal': e.fatal(), 'retriable': e.retriable(), 'text': e.str()}))
`, [broker.bootstrap], { timeoutMs: 40_000 });
  assert.equal(txn.code, 0, txn.stderr);
  const out = JSON.parse(txn.stdout.toString()) as { ok: boolean; elapsedMs: number; name: string; fatal: boolean; retriable: boolean; text: string };
  assert.equal(out.ok, false, 'init_transactions must fail until transactions exist');
  assert.equal(out.name, 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED');
  assert.equal(out.fatal, true);
  assert.equal(out.retriable, false);
  assert.match(out.text, /Transactions are not supported by this broker yet/);
  assert.ok(out.elapsedMs < FAIL_FAST_MS, `init_transactions failed after ${out.elapsedMs} ms`);
});

test('KafkaJS: a transactional producer fails fast instead of retrying', { timeout: 60_000 }, async (t) => {
  const broker = await startTestBroker(t);
  const kafka = new Kafka({ clientId: 'compat-refusals', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
  const producer = kafka.producer({ transactionalId: 'compat-txn-js', idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  t.after(() => producer.disconnect());
  const started = Date.now();
  // KafkaJS gives up on the first non-retriable FindCoordinator answer; its message is its
  // own ("Failed to find group coordinator"), the broker's reason stays in its debug log.
  await assert.rejects(producer.transaction(), (err: Error & { retriable?: boolean }) => {
    assert.equal(err.retriable, false);
    return true;
  });
  const elapsedMs = Date.now() - started;
  assert.ok(elapsedMs < FAIL_FAST_MS, `transaction() failed after ${elapsedMs} ms`);
});
