/**
 * Helpers every test kit shares (test/compat/kit.ts, test/cluster/etcd-kit.ts): a free
 * loopback port for a child process that must come back on the same port, and stopping a
 * child process by its PID. No test hooks here: importing this file changes nothing.
 */
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

/** A free loopback port (another process may take it before it is used; tests accept that). */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

/**
 * Sends `signal` to a child (SIGCONT first, so a child a test paused with SIGSTOP still
 * receives it) and resolves once it has exited; at once when it already has.
 */
export async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((res) => child.once('exit', () => res()));
  child.kill('SIGCONT');
  child.kill(signal);
  await exited;
}
