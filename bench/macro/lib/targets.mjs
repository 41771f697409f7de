// The Kafka-protocol servers the scenarios run against. Each target starts a server on
// 127.0.0.1 and creates topics; the scenarios do not care which one it is.
//
// - tributary: node packages/broker/dist/main.bundle.mjs (what `npm start` runs), one fresh
//   data directory per phase.
// - mock: librdkafka's in-process mock cluster inside `tribload mock-serve`. It exists to
//   test this harness when no broker is at hand; it keeps only ~5 MB per partition and has
//   no data directory, so its figures mean nothing and restart scenarios are skipped.
import { join } from 'node:path';
import { freePort, runTool, startServer, stopProcess } from './processes.mjs';

/** Bound on the TypeScript build; a cold `tsc -b` of the workspace takes well under this. */
const BUILD_TIMEOUT_MS = 600_000;
/** Bound on a broker's start-up, including recovery of a 1 GB log. */
const START_TIMEOUT_MS = 120_000;

/** The broker as `npm start` runs it: one bundled module (scripts/bundle.mjs). */
export const TRIBUTARY_ENTRY = ['packages', 'broker', 'dist', 'main.bundle.mjs'];

/**
 * `tsc -b`, then the bundle. The bundle is what users start; it loads in ~0.45 s where
 * dist/main.js, walking ~250 compiled modules, took ~0.73 s of a 1,000-partition start-up.
 */
export async function buildTributary(repoRoot, logPath) {
  const tsc = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
  const steps = [
    { name: 'tsc -b', args: [tsc, '-b', join(repoRoot, 'tsconfig.json')], why: ' (type errors in the workspace)' },
    { name: 'scripts/bundle.mjs', args: [join(repoRoot, 'scripts', 'bundle.mjs')], why: '' },
  ];
  for (const step of steps) {
    // runTool expects JSON; a build prints none, so success is read from the exit path.
    const r = await runTool(process.execPath, step.args, { timeoutMs: BUILD_TIMEOUT_MS, logPath, cwd: repoRoot });
    const failed = r.error && !r.error.startsWith('no JSON result (exit code 0,');
    const why = r.error?.match(/exit code (\d+)/) ? `exited with code ${r.error.match(/exit code (\d+)/)[1]}` : r.error;
    if (failed) return { ok: false, error: `${step.name} ${why}${step.why}; see ${logPath}` };
  }
  return { ok: true };
}

export function tributaryTarget({ repoRoot, tribload, logDir }) {
  const main = join(repoRoot, ...TRIBUTARY_ENTRY);
  let starts = 0;
  return {
    name: 'tributary',
    label: 'Tributary',
    canRestart: true,
    /**
     * Starts a broker on `dataDir` with `overrides` (["key=value", ...]); `port` reuses a
     * port (restart). Resolves a handle: { bootstrap, host, port, pid, child, readyMs,
     * startedNs, stop(kind) } where kind is 'clean' (SIGTERM) or 'kill' (SIGKILL).
     */
    async start({ dataDir, overrides = [], port }) {
      const chosen = port ?? (await freePort());
      const args = [
        main,
        '--override', `listeners=PLAINTEXT://127.0.0.1:${chosen}`,
        '--override', `log.dirs=${dataDir}`,
        ...overrides.flatMap((kv) => ['--override', kv]),
      ];
      const startedNs = process.hrtime.bigint();
      const server = await startServer(process.execPath, args, {
        logPath: join(logDir, `broker-${++starts}.log`),
        readyPattern: /listening on/,
        readyTimeoutMs: START_TIMEOUT_MS,
      });
      const m = server.readyLine.match(/listening on \[?([\d.:a-f]+?)\]?:(\d+)/);
      const host = m?.[1] ?? '127.0.0.1';
      const realPort = m ? Number(m[2]) : chosen;
      return handle(server, host, realPort, startedNs, `node ${args.map((a) => (a === main ? TRIBUTARY_ENTRY.join('/') : a)).join(' ')}`);
    },
    /** CreateTopics through the load generator; resolves runTool's result. */
    async createTopic(broker, topic, partitions, { timeoutS = 120, configs } = {}) {
      const args = ['create', '-b', broker.bootstrap, '-t', topic, '-p', String(partitions), '--timeout-s', String(timeoutS)];
      if (configs) args.push('--topic-configs', configs);
      return runTool(tribload, args, { timeoutMs: (timeoutS + 30) * 1000, logPath: join(logDir, 'tools.log') });
    },
    /** DeleteTopics through the load generator; resolves runTool's result. */
    async deleteTopic(broker, topic, { timeoutS = 120 } = {}) {
      const args = ['delete', '-b', broker.bootstrap, '-t', topic, '--timeout-s', String(timeoutS)];
      return runTool(tribload, args, { timeoutMs: (timeoutS + 30) * 1000, logPath: join(logDir, 'tools.log') });
    },
  };
}

function handle(server, host, port, startedNs, commandLine) {
  return {
    bootstrap: `${host}:${port}`,
    host,
    port,
    pid: server.pid,
    child: server.child,
    readyMs: server.readyMs,
    startedNs,
    commandLine,
    alive: () => server.child.exitCode === null && server.child.signalCode === null,
    stop: (kind = 'clean') => stopProcess(server.child, kind === 'kill' ? { signal: 'SIGKILL' } : {}),
  };
}

export function mockTarget({ tribload, logDir }) {
  let starts = 0;
  return {
    name: 'mock',
    label: 'librdkafka mock',
    canRestart: false,
    async start() {
      const startedNs = process.hrtime.bigint();
      const server = await startServer(tribload, ['mock-serve', '--timeout-s', '3600'], {
        logPath: join(logDir, `mock-${++starts}.log`),
        readyPattern: /listening on/,
        stdin: 'pipe',
      });
      const m = server.readyLine.match(/listening on ([\d.]+):(\d+)/);
      const h = handle(server, m[1], Number(m[2]), startedNs, 'tribload mock-serve');
      // Replies to "create" commands arrive one line each, in order.
      const waiters = [];
      let buffered = '';
      server.child.stdout.on('data', (chunk) => {
        buffered += chunk.toString();
        let nl;
        while ((nl = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          waiters.shift()?.(line);
        }
      });
      h.command = (line) =>
        new Promise((resolve) => {
          waiters.push(resolve);
          server.child.stdin.write(`${line}\n`);
        });
      return h;
    },
    async createTopic(broker, topic, partitions) {
      const t0 = Date.now();
      const reply = await broker.command(`create ${topic} ${partitions}`);
      const seconds = (Date.now() - t0) / 1000;
      return reply === 'ok'
        ? { ok: true, result: { mode: 'create', topic, partitions, seconds, ready_seconds: seconds }, command: 'mock create' }
        : { ok: false, error: `mock create ${topic}: ${reply}`, command: 'mock create' };
    },
    /** The mock keeps nothing on disk and is stopped after each use: nothing to free. */
    async deleteTopic() {
      return { ok: true, result: { mode: 'delete' }, command: 'mock delete (nothing to do)' };
    },
  };
}
