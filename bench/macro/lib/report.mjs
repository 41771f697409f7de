// Turns the recorded rows into the console table and into the macro section of
// docs/benchmarks.md. Only the text between the markers is rewritten: the other sections
// of that file (micro-benchmarks, profiles) belong to other generators.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { GOAL_HEADERS, evaluateGoals, goalCells } from './goals.mjs';

export const BEGIN_MARKER = '<!-- macro:begin -->';
export const END_MARKER = '<!-- macro:end -->';

const fmt = (x, digits = 0) =>
  x === null || x === undefined || Number.isNaN(x) ? '–' : Number(x).toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const ms = (us) => (us === null || us === undefined ? '–' : us >= 100_000 ? fmt(us / 1000, 0) : us >= 1000 ? fmt(us / 1000, 1) : fmt(us / 1000, 2));
const pcts = (h) => (h && h.n > 0 ? `${ms(h.p50)} / ${ms(h.p99)} / ${ms(h.p999)}` : '–');

function notesOf(r) {
  const parts = [];
  if (!r.ok) parts.push(`FAILED: ${r.error ?? 'unknown'}`);
  if (r.note) parts.push(r.note);
  if (r.connections) parts.push(`${r.connections} established connections`);
  if (r.brokerCpuPct !== null && r.brokerCpuPct !== undefined) parts.push(`broker CPU ${r.brokerCpuPct}%`);
  if (r.clientCpuPct !== null && r.clientCpuPct !== undefined) parts.push(`load generator CPU ${r.clientCpuPct}%`);
  if (r.rssMiB) parts.push(`RSS ${fmt(r.rssMiB)} MiB`);
  if (r.machine && r.machine.stealPct >= 1) parts.push(`CPU steal ${fmt(r.machine.stealPct, 1)}% (the VM's host was busy)`);
  if (r.startup) {
    const s = r.startup;
    parts.push(`listening ${fmt(s.listeningMs)} ms, TCP ${fmt(s.tcpMs)} ms, ApiVersions ${fmt(s.apiVersionsMs)} ms`);
    parts.push(`RSS ${fmt(s.rssAtReadyMiB)} MiB at ready, ${fmt(s.rssAfter2sMiB)} MiB 2 s later (${fmt(s.rssLoadedBeforeMiB)} MiB loaded before restart)`);
    if (s.previousShutdownMs !== null) parts.push(`clean shutdown took ${fmt(s.previousShutdownMs)} ms`);
  }
  return parts.join('; ');
}

const HEADERS = ['Scenario', 'System', 'msgs/s', 'MB/s', 'ack p50/p99/p99.9 ms', 'e2e p50/p99/p99.9 ms', 'Notes'];

function cells(r) {
  return [r.scenario, r.system, fmt(r.msgsPerS), fmt(r.mbPerS, 1), pcts(r.ack), pcts(r.e2e), notesOf(r)];
}

function textTable(headers, data, firstWidth) {
  const widths = headers.map((h, i) => Math.min(i === 0 ? firstWidth : 40, Math.max(h.length, ...data.map((d) => String(d[i]).length))));
  const line = (cs) => cs.map((c, i) => (i === cs.length - 1 ? String(c) : String(c).slice(0, widths[i]).padEnd(widths[i]))).join('  ');
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...data.map(line)].join('\n');
}

/** Plain-text table for the terminal. */
export function consoleTable(rows) {
  return textTable(HEADERS, rows.map(cells), 70);
}

/** The issue's targets, met or missed, for the terminal. */
export function consoleGoals(rows, params) {
  return textTable(GOAL_HEADERS, evaluateGoals(rows, params).map(goalCells), 110);
}

function mdTable(headers, data) {
  const esc = (c) => String(c).replace(/\|/g, '\\|').replace(/\n/g, ' ');
  return [`| ${headers.join(' | ')} |`, `|${headers.map(() => '---').join('|')}|`, ...data.map((d) => `| ${d.map(esc).join(' | ')} |`)].join('\n');
}

const ratio = (a, b) => (a && b ? `${fmt(a / b, 2)}×` : '–');
const share = (a, b) => (a && b ? `${fmt((a / b) * 100, 0)}%` : '–');

/** Ratios of every target throughput row to each peer (msgs/s) and to each ceiling (MB/s). */
export function ratioRows(rows) {
  const byId = new Map(rows.filter((r) => r.ok && r.id).map((r) => [r.id, r]));
  const v = (id, key) => byId.get(id)?.[key] ?? null;
  const out = [];
  for (const r of rows) {
    if (r.section !== 'target' || !r.ok || !['produce', 'produce-durable', 'consume'].includes(r.kind)) continue;
    const consume = r.kind === 'consume';
    const nats = v(consume ? 'nats.consume' : 'nats.publish', 'msgsPerS');
    const redis = v(consume ? 'redis.xread' : 'redis.xadd', 'msgsPerS');
    const redisAlways = consume ? null : v('redis.xadd.always', 'msgsPerS');
    out.push([
      r.scenario,
      fmt(r.msgsPerS),
      ratio(r.msgsPerS, nats),
      ratio(r.msgsPerS, redis),
      consume ? '–' : ratio(r.msgsPerS, redisAlways),
      share(r.mbPerS, v('ceil.loopback', 'mbPerS')),
      consume ? '–' : share(r.mbPerS, v('ceil.disk.sync1', 'mbPerS')),
      consume ? '–' : share(r.mbPerS, v('ceil.disk.pagecache', 'mbPerS')),
      consume ? '–' : share(r.mbPerS, v('ceil.disk.pagecache.fresh', 'mbPerS')),
    ]);
  }
  return out;
}

const RATIO_HEADERS = ['Target scenario', 'msgs/s', '÷ NATS', '÷ Redis (everysec)', '÷ Redis (always)', '% of loopback MB/s', '% of fdatasync-1MiB MB/s', '% of page-cache MB/s', '% of page-cache MB/s after 10 s idle'];

export function consoleRatios(rows) {
  const data = ratioRows(rows);
  if (!data.length) return '(no successful target throughput figures to compare)';
  return data.map((d) => `${d[0]}\n    ${RATIO_HEADERS.slice(1).map((h, i) => `${h} ${d[i + 1]}`).join(', ')}`).join('\n');
}

export function markdownSection(run) {
  const { rows, machine, command, startedAt, finishedAt, mode, notes, target, params } = run;
  const goals = evaluateGoals(rows, params);
  const section = (name) => rows.filter((r) => r.section === name).map(cells);
  const m = machine;
  const failures = rows.filter((r) => !r.ok);
  const commands = [...new Set([...run.serverCommands, ...rows.map((r) => r.command).filter(Boolean)])];
  return [
    BEGIN_MARKER,
    '## Macro benchmarks',
    '',
    `_Written by \`bench/macro/run.mjs\`; everything between the macro markers is replaced on each run._`,
    '',
    `- Command: \`${command}\` (${mode} mode, target: ${target})`,
    `- Date: ${startedAt} to ${finishedAt}`,
    '',
    '### Targets',
    '',
    'The issue\'s targets, each against the reference measured in this same run (MB/s for',
    'throughput, p99 in ms for latency). A target whose figures failed or were not run is',
    '"not measured". Quick mode measures smaller cases than the targets name (noted per row).',
    '',
    mdTable(GOAL_HEADERS, goals.map(goalCells)),
    '',
    `${goals.filter((g) => g.met === true).length} met, ${goals.filter((g) => g.met === false).length} missed, ${goals.filter((g) => g.met === null).length} not measured.`,
    '',
    '### Machine (this run)',
    '',
    `- Machine: ${m.nproc} CPUs (${m.cpuModel}), ${m.memoryGiB} GiB memory, ${m.kernel}, Node ${m.node}`,
    `- Clients and peers: librdkafka ${m.librdkafka}, ${m.natsServer}, ${m.redisServer}, ${m.iperf3}`,
    '- Units: MB = 10^6 bytes of message values; latencies in milliseconds. The load generator,',
    '  the peers and the broker share the same 2 cores, so every figure includes client CPU.',
    '',
    // Every row of the run, folded: the targets above are what a reader comes for.
    '<details><summary>Every row of this run: ceilings, Tributary, peers, ratios</summary>',
    '',
    '### Ceilings (same run)',
    '',
    mdTable(HEADERS, section('ceilings')),
    '',
    `### ${run.targetLabel}`,
    '',
    mdTable(HEADERS, section('target')),
    '',
    '### Peers (same message size and count)',
    '',
    mdTable(HEADERS, section('peers')),
    '',
    '### Ratios',
    '',
    'Target msgs/s divided by the peer\'s msgs/s for the same operation (publish/XADD for',
    'produce, consume/XREAD for consume; the durable row is to be read against Redis with',
    'appendfsync always), and target MB/s as a share of each machine ceiling.',
    '',
    ratioRows(rows).length ? mdTable(RATIO_HEADERS, ratioRows(rows)) : '_No successful target throughput figures in this run._',
    '',
    '</details>',
    '',
    ...(failures.length || notes.length
      ? ['### Failures and notes', '', ...failures.map((r) => `- ${r.system}: ${r.scenario}: ${r.error}`), ...notes.map((n) => `- ${n}`), '']
      : []),
    '<details><summary>Exact commands</summary>',
    '',
    '```',
    ...commands,
    '```',
    '',
    '</details>',
    END_MARKER,
  ].join('\n');
}

/** Replaces the macro section in `path` (creating the file or the section as needed). */
export function writeMarkdownSection(path, sectionText) {
  let text = existsSync(path) ? readFileSync(path, 'utf8') : '# Benchmarks\n\nFigures measured by the harnesses in `bench/` (see bench/README.md).\n';
  const begin = text.indexOf(BEGIN_MARKER);
  const end = text.indexOf(END_MARKER);
  if (begin >= 0 && end > begin) {
    text = text.slice(0, begin) + sectionText + text.slice(end + END_MARKER.length);
  } else {
    text = `${text.replace(/\s*$/, '')}\n\n${sectionText}\n`;
  }
  writeFileSync(path, text);
}
