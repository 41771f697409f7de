// The issue's performance targets ("Benchmarks side by side"), checked against the rows of
// one run. Called goals here because "target" already names the Kafka server under test
// (targets.mjs); the printed table is headed "Targets".
//
// Three kinds of goal:
//   ratio    Tributary's figure divided by a reference figure (a peer, or another
//            Tributary row) must be at least `min`: "missed by X%" is how far the ratio
//            falls short of `min`, relative to `min`. With lists of rows (the rawload
//            rounds), the medians of their figures are compared.
//   latency  Tributary's p99 divided by NATS JetStream's publish-ack p99 at the same rate
//            must be at most 1: "missed by X%" is how much higher Tributary's p99 is.
//            With lists of rows (the alternating runs of paired-latency.mjs), the
//            medians of their p99s are compared.
//   limit    an absolute figure must stay at or under `max`: "missed by X%" is how far
//            over `max` it is.
// A goal whose rows failed or were not run is "not measured", never met.

import { pairedIds } from './paired-latency.mjs';
import { rawRoundIds } from './target-scenarios.mjs';

const fmt = (x, digits = 0) =>
  x === null || x === undefined || Number.isNaN(x) ? '–' : Number(x).toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const msOf = (us) => (us === null || us === undefined ? null : us / 1000);
const MIB_TO_MB = 2 ** 20 / 1e6;
const mbps = (row) => row?.mbPerS ?? null;

/** The goals, sized from the run's parameters (quick mode measures smaller cases). */
function goals(params) {
  const wide = params.widePartitions;
  const startupGB = params.startupBytes / 1e9;
  const startupCaveat = startupGB < 1 ? ` (this run: ${fmt(startupGB, 2)} GB)` : '';
  const p99 = (key) => (row) => msOf(row?.[key]?.n > 0 ? row[key].p99 : null);
  const paired = pairedIds(params);
  const raw = (id) => rawRoundIds(params, id);
  const rawRounds = params.rawRounds > 1 ? `, median of ${params.rawRounds} runs in rotated order` : '';
  return [
    { name: 'Produce acks=1, no compression ≥ 3× NATS JetStream publish (MB/s)', kind: 'ratio', a: 'trib.produce.acks1', b: 'nats.publish', value: mbps, min: 3, unit: 'MB/s' },
    { name: 'Produce acks=1, no compression ≥ 2× Redis Streams pipelined XADD (MB/s)', kind: 'ratio', a: 'trib.produce.acks1', b: 'redis.xadd', value: mbps, min: 2, unit: 'MB/s' },
    { name: 'Consume ≥ Redis Streams XREAD (MB/s)', kind: 'ratio', a: 'trib.consume', b: 'redis.xread', value: mbps, min: 1, unit: 'MB/s' },
    { name: 'Durable (fsync before ack) ≥ ½ of acks=1 (MB/s)', kind: 'ratio', a: 'trib.produce.durable', b: 'trib.produce.acks1', value: mbps, min: 0.5, unit: 'MB/s' },
    { name: 'At 10k msgs/s: produce-ack p99 ≤ NATS publish-ack p99 at 10k msgs/s', kind: 'latency', a: 'trib.latency.10000', b: 'nats.latency.10000', aValue: p99('ack'), bValue: p99('ack') },
    { name: 'At 10k msgs/s: produce-to-consume p99 ≤ NATS publish-ack p99 at 10k msgs/s', kind: 'latency', a: 'trib.latency.10000', b: 'nats.latency.10000', aValue: p99('e2e'), bValue: p99('ack') },
    { name: `At 10k msgs/s, ${params.pairedRuns} alternating runs of ${params.pairedSeconds} s each: median produce-ack p99 ≤ median NATS publish-ack p99`, kind: 'latency', a: paired.trib, b: paired.nats, aValue: p99('ack'), bValue: p99('ack') },
    { name: `At 10k msgs/s, ${params.pairedRuns} alternating runs of ${params.pairedSeconds} s each: median produce-to-consume p99 ≤ median NATS publish-ack p99`, kind: 'latency', a: paired.trib, b: paired.nats, aValue: p99('e2e'), bValue: p99('ack') },
    { name: `500 connections (max throughput): within 30% of the 6-partition acks=1 case (MB/s)`, kind: 'ratio', a: 'trib.connections.max', b: 'trib.produce.acks1', value: mbps, min: 0.7, unit: 'MB/s', ceiling: 'mock.connections.max' },
    { name: `10,000 partitions: within 30% of the 6-partition acks=1 case (MB/s)${wide < 10_000 ? ` (this run: ${fmt(wide)} partitions)` : ''}`, kind: 'ratio', a: 'trib.partitions', b: 'trib.produce.acks1', value: mbps, min: 0.7, unit: 'MB/s', ceiling: 'mock.partitions' },
    // The same two targets measured with rawload (bench/loadgen/rawload.c), which builds
    // Produce requests itself in one thread: librdkafka limits the two rows above, not the
    // broker. Both sides of each ratio come from rawload.
    { name: `${fmt(params.connections)} connections (raw-protocol load generator): within 30% of the 6-partition case (MB/s${rawRounds})`, kind: 'ratio', a: raw('trib.raw.connections'), b: raw('trib.raw.p6'), value: mbps, min: 0.7, unit: 'MB/s', ceiling: 'mock.raw.connections', ceilingLabel: 'rawload alone (librdkafka mock cluster)' },
    { name: `10,000 partitions (raw-protocol load generator): within 30% of the 6-partition case (MB/s${rawRounds})${wide < 10_000 ? ` (this run: ${fmt(wide)} partitions)` : ''}`, kind: 'ratio', a: raw('trib.raw.partitions'), b: raw('trib.raw.p6'), value: mbps, min: 0.7, unit: 'MB/s' },
    { name: `Start-up, 1,000 partitions + 1 GB, after a clean shutdown: ApiVersions answered < 1 s${startupCaveat}`, kind: 'limit', a: 'trib.startup.clean', value: (r) => r?.startup?.apiVersionsMs ?? null, max: 1000, unit: 'ms' },
    { name: `Start-up, 1,000 partitions + 1 GB, after kill -9: ApiVersions answered < 1 s${startupCaveat}`, kind: 'limit', a: 'trib.startup.kill', value: (r) => r?.startup?.apiVersionsMs ?? null, max: 1000, unit: 'ms' },
    { name: `Idle RSS < 100 MB (1,000 partitions, 2 s after start-up; the larger of both restarts)${startupCaveat}`, kind: 'limit', a: ['trib.startup.clean', 'trib.startup.kill'], value: null, max: 100, unit: 'MB' },
  ];
}

function median(xs) {
  const s = [...xs].sort((x, y) => x - y);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

const pct = (x) => `${fmt(Math.abs(x) * 100, 0)}%`;

/** One result per goal: { name, measured, ratio, required, verdict, met (true/false/null) }. */
export function evaluateGoals(rows, params) {
  const byId = new Map(rows.filter((r) => r.id).map((r) => [r.id, r]));
  const okRow = (id) => {
    const r = byId.get(id);
    return r?.ok ? r : null;
  };
  const missing = (ids) => {
    const why = ids.map((id) => (byId.get(id) ? (byId.get(id).ok ? null : `${id} failed`) : `${id} not run`)).filter(Boolean);
    return why.length ? why.join(', ') : 'figure missing';
  };
  const notMeasured = (g, ids, required) => ({ name: g.name, measured: '–', ratio: '–', required, verdict: `not measured (${missing(ids)})`, met: null });

  // Where the same load was also sent to librdkafka's mock cluster: how much of what the
  // load generator alone can send Tributary took.
  const ceilingNote = (g, a) => {
    const c = g.ceiling ? mbps(okRow(g.ceiling)) : null;
    const who = g.ceilingLabel ?? 'the load generator alone (librdkafka mock cluster)';
    return c ? `; ${who} sends ${fmt(c, 1)} MB/s, Tributary takes ${pct(a / c)} of it` : '';
  };

  // A goal's two sides, each one row id or a list of them (rounds, alternating runs):
  // the medians of their figures, and the runs' figures when there are several. Null
  // when any row failed or gave no figure.
  const medians = (g, aValue, bValue, digits) => {
    const as = [g.a].flat().map((id) => aValue(okRow(id)));
    const bs = [g.b].flat().map((id) => bValue(okRow(id)));
    if (as.some((x) => !x) || bs.some((x) => !x)) return null;
    const runs = as.length > 1 ? ` (runs: ${as.map((x) => fmt(x, digits)).join(', ')} vs ${bs.map((x) => fmt(x, digits)).join(', ')})` : '';
    return { a: median(as), b: median(bs), runs };
  };

  return goals(params).map((g) => {
    if (g.kind === 'ratio') {
      const required = `≥ ${fmt(g.min, g.min < 1 ? 2 : 0)}×`;
      const m = medians(g, g.value, g.value, 0);
      if (!m) return notMeasured(g, [g.a, g.b].flat(), required);
      const { a, b, runs } = m;
      const ratio = a / b;
      const met = ratio >= g.min;
      return {
        name: g.name,
        measured: `${fmt(a, 1)} vs ${fmt(b, 1)} ${g.unit}${runs}`,
        ratio: `${fmt(ratio, 2)}×`,
        required,
        verdict: (met ? `met (${pct(ratio / g.min - 1)} above)` : `missed by ${pct(1 - ratio / g.min)}`) + ceilingNote(g, a),
        met,
      };
    }
    if (g.kind === 'latency') {
      const required = '≤ 1×';
      const m = medians(g, g.aValue, g.bValue, 1);
      if (!m) return notMeasured(g, [g.a, g.b].flat(), required);
      const { a, b, runs } = m;
      const ratio = a / b;
      const met = ratio <= 1;
      return {
        name: g.name,
        measured: `${fmt(a, 2)} vs ${fmt(b, 2)} ms${runs}`,
        ratio: `${fmt(ratio, 2)}×`,
        required,
        verdict: met ? `met (${pct(1 - ratio)} below)` : `missed by ${pct(ratio - 1)}`,
        met,
      };
    }
    // limit
    const ids = Array.isArray(g.a) ? g.a : [g.a];
    const required = `≤ ${fmt(g.max)} ${g.unit}`;
    let value;
    let measured;
    if (g.unit === 'MB') {
      // RSS is read in MiB from /proc; the target is in MB.
      const rss = ids.map((id) => okRow(id)?.startup?.rssAfter2sMiB ?? null);
      if (rss.some((x) => x === null)) return notMeasured(g, ids, required);
      value = Math.max(...rss) * MIB_TO_MB;
      measured = `${rss.map((x) => fmt(x * MIB_TO_MB)).join(' / ')} MB (clean / kill -9)`;
    } else {
      value = g.value(okRow(ids[0]));
      if (value === null) return notMeasured(g, ids, required);
      measured = `${fmt(value)} ${g.unit}`;
    }
    const met = value <= g.max;
    return {
      name: g.name,
      measured,
      ratio: `${fmt(value / g.max, 2)}× of limit`,
      required,
      verdict: met ? `met (${pct(1 - value / g.max)} below)` : `missed by ${pct(value / g.max - 1)}`,
      met,
    };
  });
}

export const GOAL_HEADERS = ['Target', 'Measured (Tributary vs reference)', 'Ratio', 'Required', 'Verdict'];

export const goalCells = (g) => [g.name, g.measured, g.ratio, g.required, g.verdict];
