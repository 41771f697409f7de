// Connection creation rates: the per-IP connection_creation_rate quota (set with
// AlterClientQuotas) closes excess connections after the throttle time; the broker-wide
// max.connection.creation.rate serves them late. Two 1 s windows: a burst of one second's
// worth of connections, then the rate.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode } from '@tributary/protocol';
import { startBroker, createLogger } from '../src/index.js';
import { RawClient } from './helpers/raw-client.js';

async function brokerWith(t: { after(fn: () => unknown): void }, config: Record<string, string | number>) {
  const dir = mkdtempSync(join(tmpdir(), 'trib-conn-quota-'));
  const broker = await startBroker({ dataDir: dir, port: 0, logger: createLogger({ level: 'silent' }), config: { 'quota.window.num': 2, ...config } });
  t.after(async () => {
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return broker;
}

/** Opens a connection and asks ApiVersions: the time it took, or 'closed'. */
async function tryConnection(port: number): Promise<number | 'closed'> {
  const startedMs = Date.now();
  const client = await RawClient.open(port);
  try {
    await client.request('ApiVersions', 3, { clientSoftwareName: 'test', clientSoftwareVersion: '1' }, { timeoutMs: 5000 });
    return Date.now() - startedMs;
  } catch {
    return 'closed';
  } finally {
    client.close();
  }
}

test('the connection_creation_rate quota of an IP closes its excess connections', async (t) => {
  const broker = await brokerWith(t, {});
  const admin = await RawClient.open(broker.port);
  const res = await admin.request('AlterClientQuotas', 1, { entries: [{ entity: [{ entityType: 'ip', entityName: '127.0.0.1' }], ops: [{ key: 'connection_creation_rate', value: 2, remove: false }] }], validateOnly: false });
  admin.close();
  assert.equal(res.entries[0]!.errorCode, ErrorCode.NONE);
  const outcomes: (number | 'closed')[] = [];
  for (let i = 0; i < 4; i++) outcomes.push(await tryConnection(broker.port));
  assert.equal(typeof outcomes[0], 'number');
  assert.equal(typeof outcomes[1], 'number');
  assert.equal(outcomes[2], 'closed', `outcomes ${JSON.stringify(outcomes)}`);
});

test('max.connection.creation.rate serves excess connections late instead of refusing them', async (t) => {
  const broker = await brokerWith(t, { 'max.connection.creation.rate': 2, 'inter.broker.listener.name': 'REPLICATION', listeners: 'PLAINTEXT://127.0.0.1:0,REPLICATION://127.0.0.1:0', 'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,REPLICATION:PLAINTEXT' });
  const outcomes: (number | 'closed')[] = [];
  const started = Date.now();
  for (let i = 0; i < 4; i++) outcomes.push(await tryConnection(broker.port));
  assert.ok(outcomes.every((o) => typeof o === 'number'), `outcomes ${JSON.stringify(outcomes)}`);
  // 2 at once, then 2 per second: the 4th is served about a second after the first.
  const elapsedMs = Date.now() - started;
  assert.ok(elapsedMs >= 800, `4 connections in ${elapsedMs} ms`);
  // The inter-broker listener is exempt.
  const replication = broker.listeners.find((l) => l.name === 'REPLICATION')!;
  const fast = await tryConnection(replication.port);
  assert.ok(typeof fast === 'number' && fast < 400, `replication listener connection took ${fast}`);
});
