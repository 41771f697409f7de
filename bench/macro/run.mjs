#!/usr/bin/env node
// The macro-benchmark orchestrator: machine ceilings, Tributary (or the librdkafka mock, to
// test this harness) and the peers NATS JetStream and Redis Streams, side by side in one
// run. Prints a table and rewrites the macro section of docs/benchmarks.md.
//
//   node bench/macro/run.mjs [--quick] [options]      (see --help; bench/README.md)
//
// It never exits non-zero because something was slow or a scenario failed: failures are
// rows in the report. It exits 1 only when it cannot run at all (tools not built), and
// every process it started is stopped by PID before it exits.
import { existsSync, mkdirSync, statSync, writeFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { spawnSync } from 'node:child_process';
import { runCeilings } from './lib/ceilings.mjs';
import { describeMachine } from './lib/machine.mjs';
import { runPairedLatency } from './lib/paired-latency.mjs';
import { runPeerScenarios } from './lib/peer-scenarios.mjs';
import { killAllNow, stopAll } from './lib/processes.mjs';
import { consoleGoals, consoleRatios, consoleTable, markdownSection, writeMarkdownSection } from './lib/report.mjs';
import { ALL_SCENARIOS, runTargetScenarios } from './lib/target-scenarios.mjs';
import { buildTributary, mockTarget, TRIBUTARY_ENTRY, tributaryTarget } from './lib/targets.mjs';

const benchDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const repoRoot = resolve(benchDir, '..');

// Sizes per mode. Quick must finish in under two minutes on the 2-core machine; full runs
// the issue's scenarios at their stated sizes (1 KiB messages, a 2 GB topic to consume,
// 10,000 partitions, 1,000 partitions with 1 GB for start-up).
const PARAMS = {
  quick: {
    size: 1024,
    produceCount: 100_000,
    durableCount: 50_000,
    consumeBytes: 200e6,
    latencyRates: [1000, 10_000, 50_000],
    latencySeconds: 2,
    warmupSeconds: 1,
    pairedRuns: 2,
    pairedSeconds: 2,
    connections: 500,
    connectionsRate: 5000,
    connectionsWarmupSeconds: 2,
    connMaxCount: 300_000,
    connMaxBurst: 64,
    connMaxQueueKiB: 4096,
    widePartitions: 2000,
    wideCount: 100_000,
    // rawload rows (trib.raw.*): seconds measured after a warm-up, per row.
    rawSeconds: 2,
    rawWarmupSeconds: 0.5,
    // Rounds of the rawload rows, in rotated order (quick: one pass).
    rawRounds: 1,
    startupPartitions: 1000,
    startupBytes: 100e6,
    peerCount: 100_000,
    natsMaxPending: 1000,
    redisPipeline: 100,
    iperfSeconds: 2,
    diskMiB: 256,
    // The page-cache ceiling again after this many seconds idle (0: not run).
    idleCeilingSeconds: 0,
    toolTimeoutS: 60,
  },
  full: {
    size: 1024,
    produceCount: 1_000_000,
    durableCount: 500_000,
    consumeBytes: 2e9,
    latencyRates: [1000, 10_000, 50_000],
    latencySeconds: 30,
    warmupSeconds: 5,
    pairedRuns: 6,
    pairedSeconds: 15,
    connections: 500,
    connectionsRate: 5000,
    connectionsWarmupSeconds: 5,
    connMaxCount: 1_000_000,
    connMaxBurst: 64,
    connMaxQueueKiB: 4096,
    widePartitions: 10_000,
    wideCount: 500_000,
    rawSeconds: 6,
    rawWarmupSeconds: 1,
    rawRounds: 3,
    startupPartitions: 1000,
    startupBytes: 1e9,
    peerCount: 1_000_000,
    natsMaxPending: 1000,
    redisPipeline: 100,
    iperfSeconds: 10,
    diskMiB: 2048,
    idleCeilingSeconds: 10,
    toolTimeoutS: 600,
  },
};

const HELP = `usage: node bench/macro/run.mjs [options]
  --quick                   small counts; finishes in under two minutes
  --target tributary|mock   what speaks Kafka (default tributary; mock = librdkafka's
                            in-process mock cluster, only to test this harness)
  --scenarios a,b,...       subset of: ${ALL_SCENARIOS.join(', ')} (default all)
  --skip-peers              do not run NATS and Redis
  --skip-ceilings           do not run iperf3 and the disk writes
  --durable-override k=v    broker override for the durable produce run
                            (default log.flush.durable.acks=true)
  --broker-override k=v     extra broker override for every phase (repeatable)
  --no-build                do not run tsc -b before starting the broker
  --no-docs                 do not rewrite docs/benchmarks.md
  --docs PATH               markdown file to update (default docs/benchmarks.md)
  --keep-data               keep the data directories under bench/.run/
`;

function parseCli() {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      target: { type: 'string', default: 'tributary' },
      scenarios: { type: 'string' },
      'skip-peers': { type: 'boolean', default: false },
      'skip-ceilings': { type: 'boolean', default: false },
      'durable-override': { type: 'string', default: 'log.flush.durable.acks=true' },
      'broker-override': { type: 'string', multiple: true, default: [] },
      'no-build': { type: 'boolean', default: false },
      'no-docs': { type: 'boolean', default: false },
      docs: { type: 'string', default: join(repoRoot, 'docs', 'benchmarks.md') },
      'keep-data': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  if (!['tributary', 'mock'].includes(values.target)) throw new Error(`--target must be tributary or mock, got ${values.target}`);
  const scenarios = new Set(values.scenarios ? values.scenarios.split(',').map((s) => s.trim()) : ALL_SCENARIOS);
  for (const s of scenarios) if (!ALL_SCENARIOS.includes(s)) throw new Error(`unknown scenario ${s}; known: ${ALL_SCENARIOS.join(', ')}`);
  for (const kv of [values['durable-override'], ...values['broker-override']])
    if (!/^[^=]+=.*$/.test(kv)) throw new Error(`broker override must be key=value, got ${kv}`);
  return { ...values, scenarios };
}

// Rebuilds the C programs when one is missing or older than any C source.
function ensureTools() {
  const build = join(benchDir, '.build');
  const tools = Object.fromEntries(['tribload', 'rawload', 'natsbench', 'redisbench', 'diskwrite'].map((t) => [t, join(build, t)]));
  const sources = ['loadgen', 'peers', 'macro'].flatMap((d) =>
    readdirSync(join(benchDir, d)).filter((f) => /\.[ch]$/.test(f)).map((f) => join(benchDir, d, f)),
  );
  const newest = Math.max(...sources.map((f) => statSync(f).mtimeMs));
  const stale = Object.values(tools).some((t) => !existsSync(t) || statSync(t).mtimeMs < newest);
  if (stale) {
    process.stderr.write('Building the C load generator and peer clients (bash bench/setup.sh --no-install)...\n');
    const r = spawnSync('bash', [join(benchDir, 'setup.sh'), '--no-install'], { stdio: 'inherit', timeout: 300_000 });
    if (r.status !== 0) throw new Error('building bench/.build failed; run `bash bench/setup.sh` (it installs the Debian packages too)');
  }
  return tools;
}

async function main() {
  const cli = parseCli();
  const mode = cli.quick ? 'quick' : 'full';
  const params = PARAMS[mode];
  const startedAt = new Date();
  const tools = ensureTools();
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const runDir = join(benchDir, '.run', stamp);
  const logDir = join(runDir, 'logs');
  mkdirSync(logDir, { recursive: true });

  const rows = [];
  const notes = [];
  const serverCommands = new Set();
  const log = (msg) => process.stderr.write(`[${((Date.now() - startedAt) / 1000).toFixed(1)}s] ${msg}\n`);
  const ctx = {
    params,
    tools,
    tribload: tools.tribload,
    runDir,
    logDir,
    keepData: cli['keep-data'],
    scenarios: cli.scenarios,
    durableOverride: cli['durable-override'],
    brokerOverrides: cli['broker-override'],
    commands: serverCommands,
    log,
    note: (n) => {
      notes.push(n);
      log(`note: ${n}`);
    },
    record: (row) => {
      rows.push(row);
      const what = row.ok ? `${row.msgsPerS ? `${Math.round(row.msgsPerS)} msgs/s` : ''} ${row.mbPerS ? `${row.mbPerS.toFixed(1)} MB/s` : ''}` : `FAILED: ${row.error}`;
      log(`${row.system}: ${row.scenario}: ${what}`);
    },
  };
  const machine = describeMachine();
  log(`macro benchmarks, ${mode} mode, run directory ${relative(repoRoot, runDir)}`);

  if (!cli['skip-ceilings']) await runCeilings(ctx);

  const target =
    cli.target === 'mock' ? mockTarget({ tribload: tools.tribload, logDir }) : tributaryTarget({ repoRoot, tribload: tools.tribload, logDir });
  let targetReady = true;
  if (cli.target === 'tributary' && !cli['no-build']) {
    log('building Tributary (tsc -b, then the bundle)');
    const b = await buildTributary(repoRoot, join(logDir, 'build.log'));
    // A workspace that does not typecheck still leaves whatever dist/ tsc emitted; measure
    // it if it starts, but say so, since it may not be the code in src/.
    if (!b.ok) ctx.note(`${b.error} (measuring whatever packages/broker/dist holds)`);
  }
  if (cli.target === 'tributary' && targetReady && !existsSync(join(repoRoot, ...TRIBUTARY_ENTRY))) {
    targetReady = false;
    ctx.note(`${TRIBUTARY_ENTRY.join('/')} does not exist after the build`);
  }
  if (targetReady) await runTargetScenarios(ctx, target);
  else rows.push({ id: 'trib.none', section: 'target', scenario: 'all scenarios', system: target.label, ok: false, error: notes[notes.length - 1] });

  if (!cli['skip-peers']) await runPeerScenarios(ctx);
  // The 10k msgs/s latency target again, Tributary and NATS JetStream in alternating runs.
  if (!cli['skip-peers'] && targetReady && cli.target === 'tributary' && cli.scenarios.has('latency')) await runPairedLatency(ctx, target);

  const finishedAt = new Date();
  const command = `node bench/macro/run.mjs ${process.argv.slice(2).join(' ')}`.trim();
  process.stdout.write(`\n${consoleTable(rows)}\n\nRatios:\n${consoleRatios(rows)}\n\nTargets:\n${consoleGoals(rows, params)}\n`);
  if (notes.length) process.stdout.write(`\nNotes:\n${notes.map((n) => `- ${n}`).join('\n')}\n`);

  const run = {
    command,
    mode,
    target: cli.target,
    targetLabel: target.label,
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    machine,
    params,
    rows,
    notes,
    serverCommands: [...serverCommands],
  };
  writeFileSync(join(runDir, 'results.json'), `${JSON.stringify(run, null, 2)}\n`);
  if (!cli['no-docs']) {
    writeMarkdownSection(cli.docs, markdownSection(run));
    log(`wrote the macro section of ${relative(repoRoot, cli.docs)}`);
  }
  log(`results in ${relative(repoRoot, join(runDir, 'results.json'))}; finished in ${((finishedAt - startedAt) / 1000).toFixed(1)} s`);
}

process.on('exit', killAllNow);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    process.stderr.write(`\n${sig}: stopping every process this run started\n`);
    stopAll().finally(() => process.exit(130));
  });
}

main()
  .catch((err) => {
    process.stderr.write(`bench/macro/run.mjs: ${err.message}\n`);
    process.exitCode = 1;
  })
  .finally(() => stopAll());
