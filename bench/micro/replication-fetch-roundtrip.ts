// CPU cost of one follower Fetch round trip with nothing to replicate, in ONE process: an
// in-process 3-broker cluster (packages/broker/test/helpers/cluster.ts, real sockets on
// loopback) whose followers fetch with replica.fetch.wait.max.ms=0, so every round trip is
// answered at once and the followers fetch back to back. process.cpuUsage() over the
// window divided by the round trips counted is what a round trip costs the leader and the
// follower together, apart from any records: the per-round-trip work fetch sessions cut
// (every partition of a sessionless request is decoded, read, encoded and decoded again
// each time). Unlike CPU per MB under a load, this figure does not move with the
// throughput a shared machine allows, so two builds compare on it (issue 15).
// A replicated load costs about this much more per MB for each round trip per MB it needs
// (bench/micro/replication-cpu.ts prints the follower fetches per MB).
//
// The followers fetch 6 partitions of a topic plus --offsets-partitions of
// __consumer_offsets (Kafka's default 50), all led by broker 1.
//
//   node --conditions=source --import tsx bench/micro/replication-fetch-roundtrip.ts [--seconds 5] [--warmup 2] [--offsets-partitions 50]
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { ErrorCode, type FetchRequest, type FetchResponse } from '@tributary/protocol';
import { TestCluster } from '../../packages/broker/test/helpers/cluster.js';
import { RawClient } from '../../packages/broker/test/helpers/raw-client.js';
import { BrokerConnection } from '../../packages/broker/src/network/inter-broker-client.js';

const { values: cli } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '2' },
    'offsets-partitions': { type: 'string', default: '50' },
  },
});
const PARTITIONS = 6;

// Counts the followers' Fetch round trips and the partitions each names (any build).
const fetches = { requests: 0, requestPartitions: 0, responsePartitions: 0 };
{
  const original = BrokerConnection.prototype.request;
  BrokerConnection.prototype.request = function (this: BrokerConnection, api, version, body, timeoutMs, onFrame) {
    if (api !== 'Fetch') return original.call(this, api, version, body, timeoutMs, onFrame);
    fetches.requests++;
    for (const t of (body as FetchRequest).topics) fetches.requestPartitions += t.partitions.length;
    const answer = original.call(this, api, version, body, timeoutMs, onFrame);
    void answer.then((r) => { for (const t of (r as FetchResponse).responses) fetches.responsePartitions += t.partitions.length; }, () => {});
    return answer;
  } as typeof original;
}

const cleanups: (() => unknown)[] = [];
const t = { after: (fn: () => unknown) => { cleanups.push(fn); } };
try {
  const cluster = await TestCluster.start(t, 3, { 'replica.fetch.wait.max.ms': 0, 'replica.lag.time.max.ms': 30_000 }, { offsetsPartitions: Number(cli['offsets-partitions']) });
  const c = await RawClient.open(cluster.broker(1).port);
  cleanups.push(() => c.close());
  const created = await c.request('CreateTopics', 7, {
    topics: [{ name: 'roundtrip', numPartitions: -1, replicationFactor: -1, assignments: Array.from({ length: PARTITIONS }, (_, partitionIndex) => ({ partitionIndex, brokerIds: [1, 2, 3] })), configs: [] }],
    timeoutMs: 10_000,
    validateOnly: false,
  });
  if (created.topics[0]!.errorCode !== ErrorCode.NONE) throw new Error(`CreateTopics: ${created.topics[0]!.errorCode}`);
  await new Promise((r) => setTimeout(r, Number(cli.warmup) * 1000));
  const before = { ...fetches };
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, Number(cli.seconds) * 1000));
  const cpu = process.cpuUsage(cpu0);
  const wallS = (performance.now() - t0) / 1000;
  const n = fetches.requests - before.requests;
  process.stdout.write(`round trips ${n} in ${wallS.toFixed(1)} s; CPU per round trip ${((cpu.user + cpu.system) / n).toFixed(1)} us (user ${(cpu.user / n).toFixed(1)}, system ${(cpu.system / n).toFixed(1)}); partitions per request ${((fetches.requestPartitions - before.requestPartitions) / n).toFixed(1)}, per response ${((fetches.responsePartitions - before.responsePartitions) / n).toFixed(1)}; load ${loadavg()[0]!.toFixed(1)}\n`);
} finally {
  for (const fn of cleanups.reverse()) await fn();
}
