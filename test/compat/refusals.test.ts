/**
 * Clear refusals for what is not built yet, seen through real clients (issue #14 point 7):
 * - a client configured for SASL against this PLAINTEXT broker gets Kafka's answer to
 *   SaslHandshake (ILLEGAL_SASL_STATE) and reports an authentication failure at once,
 *   instead of a connection that closes with no reason.
 * (Transactions, refused here until issue #17, are served now: see transactions.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
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

test('confluent-kafka-python: SASL against PLAINTEXT surfaces _AUTHENTICATION at once', { timeout: 60_000 }, async (t) => {
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
});
