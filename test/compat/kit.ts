/**
 * Test kit for the compatibility suite: starts real brokers (in-process, or as a child
 * process when a test must SIGKILL it) and runs real third-party clients against them.
 *
 * Every helper cleans up through `t.after`, and every child process is stopped by its PID.
 * A test that needs a tool (kcat, python3 with confluent-kafka) fails loudly when the tool
 * is missing: a missing client is a broken test environment, never a skipped test.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, type TestContext } from 'node:test';
import { createLogger, startBroker } from '@tributary/broker';
import { stopChild } from '../process-kit.js';

/** A free loopback port, for child brokers that must come back on the same port after a kill. */
export { freePort } from '../process-kit.js';

/**
 * A test file ends when its tests have: a KafkaJS consumer that crashed after its broker
 * closed (t.after hooks run in registration order, so the broker's close comes before the
 * clients' disconnects) schedules a restart that its disconnect does not cancel, and that
 * restart retries for ever, keeping the file's process alive after every result is
 * reported. Once the file's last hook has run, anything still holding the event loop
 * after a grace period is such a leftover: exit with the status the runner has set
 * (failures keep their non-zero code). The timer is unref'd, so a clean file exits at once.
 */
const LEFTOVER_GRACE_MS = 3000;
after(() => {
  setTimeout(() => process.exit(), LEFTOVER_GRACE_MS).unref();
});

export const REPO_ROOT = resolve(import.meta.dirname, '..', '..');
/** Debian's Python, which has python3-confluent-kafka and python3-kafka installed. */
export const DEBIAN_PYTHON = '/usr/bin/python3';

type TestLike = Pick<TestContext, 'after'>;

export function tempDir(t: TestLike, prefix = 'tributary-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export interface TestBroker {
  host: string;
  port: number;
  bootstrap: string;
  dataDir: string;
  close(): Promise<void>;
}

/**
 * Broker settings every test broker starts with unless the test passes its own. Kafka's
 * defaults cost real time that no test here measures: the first rebalance of an empty group
 * waits group.initial.rebalance.delay.ms (3 s) for more members, and a session may not be
 * shorter than group.min.session.timeout.ms (6 s), so a killed member is noticed only after
 * 6 s. A test that is about either passes the value it means.
 */
export const TEST_BROKER_DEFAULTS: Readonly<Record<string, string | number>> = {
  'group.initial.rebalance.delay.ms': 0,
  'group.min.session.timeout.ms': 1000,
};

/**
 * Polls `probe` until it returns a value other than undefined, or fails after `timeoutMs`
 * naming `what` (and what `last` says was seen last). Tests wait for the state they expect
 * with this rather than sleeping for a fixed time: a fixed sleep is too long on a quiet
 * machine and too short on a loaded one.
 */
export async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined> | T | undefined, last?: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `; last seen: ${last()}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** waitFor with a predicate: resolves once `predicate` holds. */
export async function waitUntil(what: string, predicate: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  await waitFor(what, timeoutMs, async () => ((await predicate()) ? true : undefined));
}

/** Starts a broker in this process on 127.0.0.1, port 0, with a fresh data directory. */
export async function startTestBroker(
  t: TestLike,
  config: Record<string, string | number | boolean> = {},
): Promise<TestBroker> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tributary-test-'));
  const logger = createLogger({ level: (process.env['TRIBUTARY_LOG_LEVEL'] as 'warn' | undefined) ?? 'warn' });
  const broker = await startBroker({ dataDir, host: '127.0.0.1', port: 0, config: { ...TEST_BROKER_DEFAULTS, ...config }, logger });
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await broker.close();
  };
  // One hook, so the broker is closed before its directory is removed.
  t.after(async () => {
    await close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  return { host: broker.host, port: broker.port, bootstrap: `${broker.host}:${broker.port}`, dataDir, close };
}

export interface BrokerProcess {
  port: number;
  bootstrap: string;
  dataDir: string;
  child: ChildProcess;
  /** Resolves when the child has exited. */
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * The node arguments that run a child broker. scripts/test.sh bundles the broker's current
 * sources once per run (scripts/bundle.mjs: the file `npm start` runs) and names the bundle
 * in TRIBUTARY_BROKER_BUNDLE: a child then loads one file, ~0.5 s of CPU to listening,
 * where the same sources through tsx's loader cost ~3.7 s (measured on the 2-core machine,
 * 2026-12-03), and the suite starts dozens of child brokers. A file run by `node --test`
 * directly (no bundle named) runs the sources through tsx, as before.
 */
export function brokerEntry(): string[] {
  const bundle = process.env['TRIBUTARY_BROKER_BUNDLE'];
  if (bundle !== undefined && bundle !== '') return ['--enable-source-maps', bundle];
  return ['--conditions=source', '--import', 'tsx', join(REPO_ROOT, 'packages/broker/src/main.ts')];
}

/**
 * Starts the broker as a child process (the same entry point as `npm start`: the bundle
 * scripts/test.sh builds, else the sources through tsx) and waits until it prints its
 * listening line. Used by crash tests.
 */
export async function spawnBroker(
  t: TestLike,
  opts: { dataDir: string; port: number; overrides?: Record<string, string | number> },
): Promise<BrokerProcess> {
  const overrides = {
    ...TEST_BROKER_DEFAULTS,
    listeners: `PLAINTEXT://127.0.0.1:${opts.port}`,
    'log.dirs': opts.dataDir,
    ...opts.overrides,
  };
  const args = brokerEntry();
  for (const [k, v] of Object.entries(overrides)) args.push('--override', `${k}=${v}`);
  const child = spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (stderr.length > 100_000) stderr = stderr.slice(-50_000);
  });
  const kill = (signal: NodeJS.Signals = 'SIGKILL') => stopChild(child, signal);
  t.after(() => kill('SIGKILL'));
  await new Promise<void>((res, reject) => {
    let out = '';
    // Start-up takes well under a second on a quiet machine (broker-api-versions asserts it);
    // this bound only catches a broker that never starts, so it leaves room for a loaded one
    // (tsx compiling the sources took ~5 s at a load average of 14).
    const timer = setTimeout(() => reject(new Error(`broker did not start within 45 s; stderr:\n${stderr}`)), 45_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('listening on')) {
        clearTimeout(timer);
        res();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`broker exited with ${code} before listening; stderr:\n${stderr}`));
    });
  });
  return { port: opts.port, bootstrap: `127.0.0.1:${opts.port}`, dataDir: opts.dataDir, child, exited, kill };
}

/** Fails the test (throws) when a command the test drives is not installed. */
export function requireTool(command: string): void {
  const found = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' });
  if (found.status !== 0) {
    throw new Error(`${command} is not installed; run 'bash scripts/test-all.sh', which installs it`);
  }
}

/** Fails when Debian's python lacks a module the test drives. */
export function requirePythonModule(module: string): void {
  if (!existsSync(DEBIAN_PYTHON)) throw new Error(`${DEBIAN_PYTHON} is missing`);
  const r = spawnSync(DEBIAN_PYTHON, ['-c', `import ${module}`], { encoding: 'utf8' });
  if (r.status !== 0) {
    throw new Error(`python module ${module} is missing under ${DEBIAN_PYTHON}: ${r.stderr.trim()}`);
  }
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs a command to completion with a time limit; stdin from `input` when given. */
export async function run(
  command: string,
  args: string[],
  opts: { input?: string | Buffer; timeoutMs?: number; env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<RunResult> {
  const child = spawn(command, args, {
    cwd: opts.cwd ?? REPO_ROOT,
    env: { ...process.env, ...opts.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  let err = '';
  child.stdout.on('data', (d: Buffer) => out.push(d));
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  child.stdin.on('error', () => {}); // a client that exits early closes its stdin
  if (opts.input !== undefined) child.stdin.end(opts.input);
  else child.stdin.end();
  const timeoutMs = opts.timeoutMs ?? 120_000;
  return new Promise((res, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} ${args.join(' ')} timed out after ${timeoutMs} ms; stderr:\n${err.slice(-4000)}`));
    }, timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      res({ code, signal, stdout: Buffer.concat(out), stderr: err });
    });
  });
}

/** Runs a Python script under Debian's python3 (where the Kafka client packages live). */
export async function runPython(script: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}) {
  return run(DEBIAN_PYTHON, ['-c', script, ...args], opts);
}
