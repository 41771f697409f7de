/**
 * Group coordinator at scale over the network (issue 4, point 5). The broker runs as a child
 * process, so the figures are the broker's and not shared with the test's own event loop.
 * Members are raw-protocol members (groups-helpers.ts RawMember), each on its own connection
 * as real clients are: JoinGroup v5, SyncGroup v3, Heartbeat v3, LeaveGroup v3.
 *
 * 1. One group of 100 members forms; then one member leaves and a new one joins, and the whole
 *    group rebalances; every heartbeat is answered quickly and none fails.
 * 2. 1,000 groups of 3 members each (3,000 connections) all become Stable, and then heartbeat
 *    for a few seconds without any rebalance or error.
 *
 * The measured figures are printed as diagnostics. With GROUPS_BENCH_WRITE=1 they are also
 * written to docs/benchmarks.md between the `groups` markers (only that section is rewritten);
 * a plain test run leaves the tracked document alone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { RawClient } from '../../packages/broker/test/helpers/raw-client.js';
import { freePort, REPO_ROOT, spawnBroker, tempDir } from './kit.js';
import { percentile, RawMember, waitFor } from './groups-helpers.js';

const figures: string[] = [];

const HEARTBEAT_INTERVAL_MS = 500;
const memberOpts = { sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 30_000, heartbeatIntervalMs: HEARTBEAT_INTERVAL_MS };

async function openMembers(port: number, groupIds: string[], heartbeatIntervalMs = HEARTBEAT_INTERVAL_MS): Promise<RawMember[]> {
  const members: RawMember[] = [];
  for (let i = 0; i < groupIds.length; i += 200) {
    members.push(...(await Promise.all(groupIds.slice(i, i + 200).map((g) => RawMember.open(port, g, { ...memberOpts, heartbeatIntervalMs })))));
  }
  return members;
}

/** Every group has all its members synced in one generation whose leader assigned them all. */
function allStable(members: RawMember[], perGroup: number): boolean {
  const byGroup = new Map<string, RawMember[]>();
  for (const m of members) {
    if (!m.stable) return false;
    byGroup.set(m.groupId, [...(byGroup.get(m.groupId) ?? []), m]);
  }
  for (const group of byGroup.values()) {
    if (group.length !== perGroup || new Set(group.map((m) => m.generationId)).size !== 1) return false;
    if (!group.some((m) => m.leaderSawMembers === perGroup)) return false;
  }
  return true;
}

test('group coordinator at scale: a 100-member group rebalances, and 1,000 groups become Stable and keep heartbeating', { timeout: 180_000 }, async (t) => {
  const broker = await spawnBroker(t, { dataDir: tempDir(t), port: await freePort(), overrides: { 'group.initial.rebalance.delay.ms': 0 } });
  const all: RawMember[] = [];
  t.after(() => { for (const m of all) m.close(); });

  // ---- one group of 100 members
  const big = await openMembers(broker.port, Array.from({ length: 100 }, () => 'big'));
  all.push(...big);
  let t0 = performance.now();
  await Promise.all(big.map((m) => m.rejoin()));
  await waitFor('100 members in one generation', 60_000, () => (allStable(big, 100) ? true : undefined));
  const formMs = performance.now() - t0;
  const firstGeneration = big[0]!.generationId;

  // A member leaves and another joins: the other 99 learn of it at their next heartbeat.
  t0 = performance.now();
  const leaver = big.pop()!;
  await leaver.leave();
  const [joiner] = await openMembers(broker.port, ['big']);
  all.push(joiner!);
  big.push(joiner!);
  void joiner!.rejoin();
  await waitFor('100 members rebalanced', 60_000, () => (allStable(big, 100) && big[0]!.generationId > firstGeneration ? true : undefined));
  const rebalanceMs = performance.now() - t0;
  const generationsUsed = big[0]!.generationId - firstGeneration;

  // Heartbeats keep up: hold the group steady for a few intervals.
  for (const m of big) m.heartbeatLatenciesMs.length = 0;
  const steadyGeneration = big[0]!.generationId;
  await new Promise((r) => setTimeout(r, 3000));
  assert.ok(big.every((m) => m.stable && m.generationId === steadyGeneration), 'no rebalance while 100 members heartbeat');
  const bigBeats = big.flatMap((m) => m.heartbeatLatenciesMs);
  assert.ok(big.every((m) => m.heartbeatLatenciesMs.length >= 2), 'every member heartbeats at least twice in 3 s');
  assert.deepEqual(big.flatMap((m) => m.unexpected), []);
  const bigLine = `100-member group: formed (empty → Stable, initial delay 0) in ${formMs.toFixed(0)} ms; ` +
    `one leave + one join rebalanced all 100 in ${rebalanceMs.toFixed(0)} ms (${generationsUsed} generation(s), heartbeat interval ${HEARTBEAT_INTERVAL_MS} ms); ` +
    `heartbeat latency p50 ${percentile(bigBeats, 50).toFixed(2)} ms, p99 ${percentile(bigBeats, 99).toFixed(2)} ms`;
  t.diagnostic(bigLine);
  figures.push(bigLine);
  for (const m of big) await m.leave();
  all.length = 0;

  // ---- 1,000 groups of 3 members
  const groupIds = Array.from({ length: 1000 }, (_, g) => [`g-${g}`, `g-${g}`, `g-${g}`]).flat();
  // A 1-second heartbeat here (Kafka clients default to 3 s): 3,000 heartbeats a second.
  const many = await openMembers(broker.port, groupIds, 1000);
  all.push(...many);
  t0 = performance.now();
  for (const m of many) void m.rejoin();
  await waitFor('1,000 groups Stable', 120_000, () => (allStable(many, 3) ? true : undefined),
    () => `${many.filter((m) => m.stable).length} of ${many.length} members synced`);
  const manyMs = performance.now() - t0;
  const admin = await RawClient.open(broker.port);
  t.after(() => admin.close());
  const listed = await admin.request('ListGroups', 4, { statesFilter: ['Stable'] });
  assert.equal(listed.errorCode, 0);
  assert.equal(listed.groups.length, 1000);

  for (const m of many) m.heartbeatLatenciesMs.length = 0;
  const generations = many.map((m) => m.generationId);
  await new Promise((r) => setTimeout(r, 4000));
  assert.ok(many.every((m, i) => m.stable && m.generationId === generations[i]), 'no rebalance while 3,000 members heartbeat');
  assert.deepEqual(many.flatMap((m) => m.unexpected), []);
  const manyBeats = many.flatMap((m) => m.heartbeatLatenciesMs);
  // Every member heartbeated repeatedly (the interval counts from the previous answer, so a
  // loaded machine stretches it), and no session came near its 10-second timeout.
  assert.ok(many.every((m) => m.heartbeatLatenciesMs.length >= 2), 'every member heartbeats at least twice in 4 s');
  assert.ok(Math.max(...manyBeats) < memberOpts.sessionTimeoutMs / 2, `slowest heartbeat ${Math.max(...manyBeats).toFixed(0)} ms`);
  const rate = manyBeats.length / 4;
  const manyLine = `1,000 groups × 3 members (3,000 connections): all Stable in ${manyMs.toFixed(0)} ms; ` +
    `then ${rate.toFixed(0)} heartbeats/s (interval 1000 ms) with latency p50 ${percentile(manyBeats, 50).toFixed(2)} ms, p99 ${percentile(manyBeats, 99).toFixed(2)} ms, no rebalance, no error`;
  t.diagnostic(manyLine);
  figures.push(manyLine);
  if (process.env['GROUPS_BENCH_WRITE'] === '1') writeFigures(figures);
});

function writeFigures(lines: string[]): void {
  const path = join(REPO_ROOT, 'docs/benchmarks.md');
  const section = [
    '<!-- groups:begin -->',
    '## Group coordinator at scale',
    '',
    `Produced by \`GROUPS_BENCH_WRITE=1 bash scripts/test.sh test/compat/groups-scale.test.ts\` on ${new Date().toISOString().slice(0, 10)}, ` +
      `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'unknown CPU'}, Node ${process.version}. The broker is a child process ` +
      '(group.initial.rebalance.delay.ms=0); members are raw-protocol clients in the test process, one connection each ' +
      '(JoinGroup v5, SyncGroup v3, Heartbeat v3). Rebalance times include the wait for each member\'s next heartbeat. ' +
      `1-minute load average ${loadavg()[0]!.toFixed(2)} at the end (the machine is shared; figures are noisy).`,
    '',
    ...lines.map((l) => `- ${l}`),
    '<!-- groups:end -->',
  ].join('\n');
  mkdirSync(join(REPO_ROOT, 'docs'), { recursive: true });
  const current = existsSync(path) ? readFileSync(path, 'utf8') : '# Benchmarks\n';
  const begin = current.indexOf('<!-- groups:begin -->');
  const end = current.indexOf('<!-- groups:end -->');
  const next = begin >= 0 && end > begin
    ? current.slice(0, begin) + section + current.slice(end + '<!-- groups:end -->'.length)
    : `${current.trimEnd()}\n\n${section}\n`;
  writeFileSync(path, next);
}
