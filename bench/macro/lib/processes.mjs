// Every process the harness starts goes through here, so that each one is stopped by its
// PID at the end of its phase and, whatever happens (an exception, Ctrl-C, a timeout), at
// exit. Nothing is ever killed by name.
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import net from 'node:net';

/** @type {Set<import('node:child_process').ChildProcess>} */
const live = new Set();

/**
 * How long a SIGTERM gets before SIGKILL: long enough for a clean broker shutdown, which
 * fsyncs every partition's files (5-6 s for 10,000 partitions on a synced page cache, plus
 * writing out whatever data is still dirty).
 */
const STOP_GRACE_MS = 60_000;

/**
 * Starts a long-running server. Output goes to `logPath`; `readyPattern` (a RegExp) is
 * awaited on stdout or stderr for at most `readyTimeoutMs`. Resolves to
 * { child, pid, readyLine, readyMs }.
 */
export function startServer(command, args, { logPath, readyPattern, readyTimeoutMs = 60_000, env, stdin = 'ignore' }) {
  const started = process.hrtime.bigint();
  const child = spawn(command, args, { stdio: [stdin, 'pipe', 'pipe'], env: env ?? process.env });
  live.add(child);
  child.on('exit', () => live.delete(child));
  const log = createWriteStream(logPath, { flags: 'a' });
  log.write(`$ ${command} ${args.join(' ')}\n`);
  return new Promise((resolve, reject) => {
    let buffered = '';
    let done = false;
    const finish = (err, line) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) {
        stopProcess(child).finally(() => reject(err));
        return;
      }
      const readyMs = Number(process.hrtime.bigint() - started) / 1e6;
      resolve({ child, pid: child.pid, readyLine: line, readyMs });
    };
    const onData = (chunk) => {
      log.write(chunk);
      if (done) return;
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) if (readyPattern.test(line)) return finish(null, line);
      // A single over-long line without a newline must not grow without bound.
      if (buffered.length > 65_536) buffered = buffered.slice(-4096);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (err) => finish(new Error(`cannot start ${command}: ${err.message}`)));
    child.on('exit', (code, signal) =>
      finish(new Error(`${command} exited (code ${code}, signal ${signal}) before printing ${readyPattern}; see ${logPath}`)),
    );
    const timer = setTimeout(
      () => finish(new Error(`${command} printed no line matching ${readyPattern} within ${readyTimeoutMs} ms; see ${logPath}`)),
      readyTimeoutMs,
    );
  });
}

/** SIGTERM, then SIGKILL after the grace period; resolves once the process has exited. */
export function stopProcess(child, { graceMs = STOP_GRACE_MS, signal = 'SIGTERM' } = {}) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const killTimer = setTimeout(() => {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }, graceMs);
    child.once('exit', () => {
      clearTimeout(killTimer);
      resolve();
    });
    try {
      process.kill(child.pid, signal);
    } catch {
      clearTimeout(killTimer);
      resolve();
    }
  });
}

/** Stops every process still running; used in `finally` and on signals. */
export async function stopAll() {
  await Promise.all([...live].map((child) => stopProcess(child, { graceMs: 3000 })));
}

/** Synchronous last resort for process 'exit': SIGKILL by PID, no waiting possible. */
export function killAllNow() {
  for (const child of live) {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/**
 * Runs a short-lived tool to completion (killed by PID after `timeoutMs`) and parses the
 * last JSON line of its stdout (or all of it, with `wholeJson`). Never throws: resolves to
 * { ok, result, error, command, stderrTail, ms }.
 */
export function runTool(command, args, { timeoutMs, logPath, input, wholeJson = false, cwd } = {}) {
  const started = process.hrtime.bigint();
  const printable = [command, ...args].map(shellQuote).join(' ');
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], cwd });
    live.add(child);
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const log = logPath ? createWriteStream(logPath, { flags: 'a' }) : null;
    log?.write(`$ ${printable}\n`);
    child.stdout.on('data', (c) => {
      stdout += c;
      log?.write(c);
    });
    child.stderr.on('data', (c) => {
      // Keep only the tail: librdkafka can be chatty when a broker misbehaves.
      stderr = (stderr + c).slice(-8192);
      log?.write(c);
    });
    if (input !== undefined) child.stdin.end(input);
    const timer = timeoutMs
      ? setTimeout(() => {
          timedOut = true;
          stopProcess(child, { graceMs: 2000, signal: 'SIGINT' });
        }, timeoutMs)
      : null;
    const finish = (code, signal, spawnError) => {
      if (timer) clearTimeout(timer);
      live.delete(child);
      log?.end();
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      // Our tools print one JSON line last; iperf3 -J prints one multi-line document.
      const lines = stdout.trim().split('\n').filter((l) => l.startsWith('{'));
      let result = null;
      try {
        if (wholeJson) result = stdout.trim() ? JSON.parse(stdout) : null;
        else result = lines.length ? JSON.parse(lines[lines.length - 1]) : null;
      } catch {
        result = null;
      }
      let error = null;
      if (spawnError) error = `cannot run ${command}: ${spawnError.message}`;
      else if (result?.error) error = String(result.error);
      else if (timedOut) error = `timed out after ${timeoutMs} ms`;
      else if (!result) error = `no JSON result (exit code ${code}, signal ${signal}): ${lastLine(stderr)}`;
      resolve({ ok: !error, result, error, command: printable, stderrTail: stderr.slice(-2000), ms });
    };
    child.on('error', (err) => finish(null, null, err));
    child.on('exit', (code, signal) => finish(code, signal));
  });
}

function lastLine(text) {
  const lines = text.trim().split('\n');
  return lines[lines.length - 1] ?? '';
}

export function shellQuote(s) {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${String(s).replace(/'/g, `'\\''`)}'`;
}

/** A TCP port that was free on 127.0.0.1 a moment ago (the OS picks it). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Waits until the kernel has written back every dirty page (sync(1)), so that a scenario
 * does not pay for the gigabytes earlier ones left in the page cache. Without it, rows late
 * in a full run (which has written ~8 GB by then) ran at half the speed they show on a
 * fresh machine: writers are throttled once dirty pages pass vm.dirty_ratio, and fsyncs
 * (durable mode, NATS, Redis AOF) queue behind the writeback. Returns the seconds it took.
 */
export function settleDisk() {
  const t0 = process.hrtime.bigint();
  try {
    execFileSync('sync', [], { stdio: 'ignore', timeout: 300_000 });
  } catch {
    // A sync that failed or timed out only leaves the next row less isolated.
  }
  return Number(process.hrtime.bigint() - t0) / 1e9;
}
