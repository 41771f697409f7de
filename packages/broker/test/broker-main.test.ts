// The broker entry point as a process: properties file + --override, the start-up line,
// SIGTERM -> clean shutdown -> exit 0, and a clear failure for a bad config.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));
// Absolute, so the child finds tsx whatever its working directory.
const TSX = import.meta.resolve('tsx');

/**
 * The entry point as `npm start` runs it: the bundle scripts/test.sh builds from the current
 * sources (TRIBUTARY_BROKER_BUNDLE; ~0.5 s of CPU to start), else the sources through tsx
 * (~3.7 s of CPU, which took over 15 s with the parallel lane on 2 cores).
 */
function entry(): string[] {
  const bundle = process.env['TRIBUTARY_BROKER_BUNDLE'];
  if (bundle !== undefined && bundle !== '') return ['--enable-source-maps', bundle];
  return ['--conditions=source', '--import', TSX, MAIN];
}

/** How long a child may take to print its start-up line on the loaded 2-core machine. */
const START_TIMEOUT_MS = 30_000;

function run(args: string[], cwd: string) {
  const child = spawn(process.execPath, [...entry(), ...args], {
    cwd, env: { ...process.env, TRIBUTARY_LOG_LEVEL: 'warn', NODE_PATH: '' }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, out: () => stdout, err: () => stderr };
}

test('main: starts from a properties file with overrides, prints its line, exits 0 on SIGTERM', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'trib-main-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'server.properties'), '# test\nnode.id=4\nlisteners=PLAINTEXT://127.0.0.1:9\nlog.dirs=' + join(dir, 'kafka-data') + '\n');
  const proc = run([join(dir, 'server.properties'), '--override', 'listeners=PLAINTEXT://127.0.0.1:0'], process.cwd());
  t.after(() => { if (proc.child.exitCode === null) proc.child.kill('SIGKILL'); });
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!proc.out().includes('listening on')) {
    if (Date.now() > deadline || proc.child.exitCode !== null) assert.fail(`no start-up line; stderr: ${proc.err()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.match(proc.out(), new RegExp(`^Tributary broker 4 listening on 127\\.0\\.0\\.1:\\d+ \\(data: ${join(dir, 'kafka-data').replace(/[/.]/g, '\\$&')}, cluster [A-Za-z0-9_-]{22}\\)\\n$`));
  assert.ok(existsSync(join(dir, 'kafka-data', 'meta.properties')));
  proc.child.kill('SIGTERM');
  assert.equal(await proc.exited, 0);
});

test('main: an invalid config fails with a clear message and exit code 1', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'trib-main-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const proc = run(['--override', 'num.partitions=zero', '--override', `log.dirs=${dir}`], dir);
  t.after(() => { if (proc.child.exitCode === null) proc.child.kill('SIGKILL'); });
  assert.equal(await proc.exited, 1);
  assert.match(proc.err(), /Invalid value "zero" for configuration num\.partitions/);
});
