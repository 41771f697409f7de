// scripts/cluster.sh: a local etcd and 3 broker processes. KafkaJS sees all 3 brokers and
// one controller; a topic spread over the 3 brokers takes records on each leader; when the
// controller's process is SIGKILLed its registration expires, it leaves Metadata and another
// broker becomes controller; `stop` ends every process it started.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { freePort, requireEtcd } from './etcd-kit.js';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '..', '..');
const SCRIPT = join(ROOT, 'scripts', 'cluster.sh');
/** A short session so a killed broker's registration expires within the test. */
const SESSION_TIMEOUT_MS = 3000;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('cluster.sh starts etcd and 3 brokers that KafkaJS sees as one cluster; a dead controller is replaced', { timeout: 120_000 }, async (t) => {
  requireEtcd();
  const kcat = await run('sh', ['-c', 'command -v kcat']).catch(() => null);
  assert.ok(kcat, 'kcat is installed (bash scripts/test-all.sh installs it)');
  const dir = mkdtempSync(join(tmpdir(), 'trib-cluster-'));
  // Three consecutive free ports for the brokers: take a free one and check the next two.
  let base = 0;
  for (let attempt = 0; attempt < 20 && base === 0; attempt++) {
    const p = await freePort();
    const { createServer } = await import('node:net');
    const ok = await Promise.all([p + 1, p + 2].map((q) => new Promise<boolean>((res) => {
      const s = createServer();
      s.once('error', () => res(false));
      s.listen(q, '127.0.0.1', () => s.close(() => res(true)));
    })));
    if (ok.every(Boolean)) base = p;
  }
  assert.ok(base > 0, 'found 3 consecutive free ports');
  const env = {
    ...process.env,
    TRIBUTARY_CLUSTER_DIR: dir,
    BROKER_BASE_PORT: String(base),
    ETCD_CLIENT_PORT: String(await freePort()),
    ETCD_PEER_PORT: String(await freePort()),
    BROKER_OVERRIDES: `broker.session.timeout.ms=${SESSION_TIMEOUT_MS} etcd.lease.fence.margin.ms=1000 group.initial.rebalance.delay.ms=0`,
  };
  t.after(async () => {
    await run('bash', [SCRIPT, 'stop'], { env }).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });
  const started = await run('bash', [SCRIPT, 'start', '3'], { env, timeout: 90_000 });
  const bootstrap = /bootstrap servers: (\S+)/.exec(started.stdout)?.[1];
  assert.equal(bootstrap, `127.0.0.1:${base},127.0.0.1:${base + 1},127.0.0.1:${base + 2}`);
  const pids = new Map(readFileSync(join(dir, 'pids'), 'utf8').trim().split('\n').map((l) => {
    const [name, pid] = l.split(' ');
    return [name!, Number(pid)] as const;
  }));
  assert.deepEqual([...pids.keys()], ['etcd', 'broker-1', 'broker-2', 'broker-3']);

  const kafka = new Kafka({ clientId: 'cluster-test', brokers: bootstrap!.split(','), logLevel: logLevel.NOTHING, retry: { retries: 10 } });
  const admin = kafka.admin();
  await admin.connect();
  t.after(() => admin.disconnect());
  const cluster = await admin.describeCluster();
  assert.deepEqual(cluster.brokers.map((b) => b.nodeId).sort(), [1, 2, 3]);
  assert.ok([1, 2, 3].includes(cluster.controller!), `controller ${cluster.controller}`);

  // One partition led by each broker (explicit assignment), records through each leader.
  await admin.createTopics({ topics: [{ topic: 'spread', replicaAssignment: [{ partition: 0, replicas: [1] }, { partition: 1, replicas: [2] }, { partition: 2, replicas: [3] }] }] });
  const metadata = await admin.fetchTopicMetadata({ topics: ['spread'] });
  assert.deepEqual(metadata.topics[0]!.partitions.map((p) => p.leader).sort(), [1, 2, 3]);
  const producer = kafka.producer();
  await producer.connect();
  t.after(() => producer.disconnect());
  for (let partition = 0; partition < 3; partition++) {
    await producer.send({ topic: 'spread', acks: -1, messages: [{ partition, value: `to ${partition}` }] });
  }
  const offsets = await admin.fetchTopicOffsets('spread');
  assert.deepEqual(offsets.map((o) => [o.partition, o.high]).sort(), [[0, '1'], [1, '1'], [2, '1']]);

  // SIGKILL the controller's process: no clean resignation, the lease must expire.
  const controller = cluster.controller!;
  const victim = pids.get(`broker-${controller}`)!;
  process.kill(victim, 'SIGKILL');
  // Asked with kcat: KafkaJS's metadata refresh gives up on the partitions that lost their
  // only replica (LEADER_NOT_AVAILABLE, as from Kafka), kcat just lists them.
  const survivor = [1, 2, 3].find((id) => id !== controller)!;
  const view = async (): Promise<{ brokers: number[]; controller: number | null }> => {
    const { stdout } = await run('kcat', ['-L', '-b', `127.0.0.1:${base + survivor - 1}`, '-m', '5'], { timeout: 10_000 });
    const brokers = [...stdout.matchAll(/^\s+broker (\d+) at /gm)].map((m) => Number(m[1])).sort();
    const c = /^\s+broker (\d+) at \S+ \(controller\)/m.exec(stdout);
    return { brokers, controller: c ? Number(c[1]) : null };
  };
  const deadline = Date.now() + SESSION_TIMEOUT_MS + 10_000;
  let after = await view();
  while (after.brokers.length !== 2 || after.controller === controller || after.controller === null) {
    assert.ok(Date.now() < deadline, `still ${JSON.stringify(after)} ${SESSION_TIMEOUT_MS + 10_000} ms after the kill`);
    await new Promise((r) => setTimeout(r, 200));
    after = await view();
  }
  assert.deepEqual(after.brokers, [1, 2, 3].filter((id) => id !== controller));
  assert.ok(after.controller !== controller);

  const stopped = await run('bash', [SCRIPT, 'stop'], { env, timeout: 60_000 });
  assert.match(stopped.stdout, /stopped etcd/);
  for (const pid of pids.values()) assert.equal(alive(pid), false, `pid ${pid} was stopped`);
});
