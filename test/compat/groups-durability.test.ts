/**
 * A running group of three static confluent-kafka-python members survives a broker SIGKILL
 * (issue 4, point 3): after the broker's restart on the same port and data directory the
 * group is loaded from __consumer_offsets with the same members and assignment, and the
 * members carry on without any rebalance (no revoke, no assignment). The restart must fit in
 * the members' sessions, so this file runs in the serial lane; committed offsets and an empty
 * group across the same crash are tested in groups-durability-offsets.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel } from 'kafkajs';
import { freePort, requirePythonModule, spawnBroker, tempDir } from './kit.js';
import { describeGroup, isBalanced, startMember, summarize, waitFor, type DescribedGroup } from './groups-helpers.js';

test('a static group survives a broker SIGKILL and restart without a rebalance', { timeout: 90_000 }, async (t) => {
  requirePythonModule('confluent_kafka');
  const dataDir = tempDir(t);
  const port = await freePort();
  const overrides = { 'group.initial.rebalance.delay.ms': 0 };
  const first = await spawnBroker(t, { dataDir, port, overrides });
  const kafka = new Kafka({ clientId: 'groups-durability-static', brokers: [first.bootstrap], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const topic = 'static-durable';
  assert.equal(await admin.createTopics({ topics: [{ topic, numPartitions: 6 }], waitForLeaders: true }), true);
  // librdkafka ends a session on its own when no heartbeat has succeeded for
  // session.timeout.ms: it then revokes and rejoins whatever the broker did. Its reconnect
  // backoff doubles up to 10 s, so a restart that takes 3 s on a busy machine can already
  // cost a 6 s session. A 10 s session and a 500 ms backoff cap keep this test about the
  // broker: it must keep the members, and answer their heartbeats, after its restart.
  const sessionTimeoutMs = 10_000;
  const memberEnv = { SESSION_TIMEOUT_MS: String(sessionTimeoutMs), RECONNECT_BACKOFF_MAX_MS: '500' };
  const members = [0, 1, 2].map((i) => startMember(t, 'confluent', `static-${i}`, first.bootstrap, 'static-durable', topic, `instance-${i}`, undefined, memberEnv));
  let last: DescribedGroup | undefined;
  await waitFor('3 static members balanced', 45_000, async () => {
    last = await describeGroup(admin, 'static-durable', topic);
    return isBalanced(last, 3, 6) ? last : undefined;
  }, () => summarize(last));
  await new Promise((r) => setTimeout(r, 2000));
  const before = await describeGroup(admin, 'static-durable', topic);
  assert.ok(isBalanced(before, 3, 6), summarize(before));
  const eventsBefore = members.map((m) => m.lines.filter((l) => !l.startsWith('RECORD')).length);
  await admin.disconnect();

  await first.kill('SIGKILL');
  const killedAt = Date.now();
  const second = await spawnBroker(t, { dataDir, port, overrides });
  t.diagnostic(`broker restarted in ${Date.now() - killedAt} ms`);
  const after = kafka.admin();
  await after.connect();
  t.after(() => after.disconnect());
  const shape = (g: DescribedGroup) => `${g.state} ${g.members.map((m) => `${m.memberId}:${m.partitions.join(',')}`).sort().join(' ')}`;
  assert.equal(shape(await describeGroup(after, 'static-durable', topic)), shape(before), 'loaded from __consumer_offsets as it was');
  // Past the session timeout. A static member that lost its connection may rejoin without
  // its old member id; Kafka then gives it a new id (`<instance>-<uuid>`) and keeps its
  // assignment without a rebalance. So members are compared by instance id, and the
  // clients' own callbacks (below) prove there was no revoke and no new assignment.
  const byInstance = (g: DescribedGroup) => `${g.state} ${g.members.map((m) => `${m.memberId.replace(/-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, '')}:${m.partitions.join(',')}`).sort().join(' ')}`;
  await new Promise((r) => setTimeout(r, sessionTimeoutMs + 2000));
  const groupAfter = byInstance(await describeGroup(after, 'static-durable', topic));
  const eventsAfter = members.map((m) => m.lines.filter((l) => !l.startsWith('RECORD')).length);
  if (groupAfter !== byInstance(before) || JSON.stringify(eventsAfter) !== JSON.stringify(eventsBefore)) {
    // The members' own account (set RDKAFKA_DEBUG=cgrp for librdkafka's group log).
    for (const m of members) t.diagnostic(`${m.name}: ${m.lines.filter((l) => !l.startsWith('RECORD')).join(' | ')}\n${m.stderr().slice(-20_000)}`);
  }
  assert.equal(groupAfter, byInstance(before), 'no rebalance after the restart');
  assert.deepEqual(eventsAfter, eventsBefore, 'no revoke and no assignment');
  for (const m of members) await m.kill('SIGKILL');
  await second.kill('SIGKILL');
});
