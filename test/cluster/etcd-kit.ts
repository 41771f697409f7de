/**
 * Starts a real etcd (Debian's /usr/bin/etcd) on free loopback ports for a test: one member
 * or three. Every member is a child process stopped by its PID in `t.after` (SIGCONT first,
 * so a test that paused one still ends it). Data directories are temporary.
 *
 * A test that needs etcd fails loudly when it is missing, never skips.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { freePort, stopChild } from '../process-kit.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';

export { freePort };

export const ETCD_BINARY = '/usr/bin/etcd';
/** How long one member may take to answer its health endpoint after spawning. */
const MEMBER_START_TIMEOUT_MS = 15_000;

type TestLike = { after(fn: () => void | Promise<void>): void };

export interface EtcdMember {
  readonly name: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly dataDir: string;
  child: ChildProcess | null;
}

export interface EtcdCluster {
  readonly members: readonly EtcdMember[];
  /** Client URLs of every member. */
  readonly endpoints: string[];
  /** SIGKILLs member i and waits for its exit. */
  kill(i: number): Promise<void>;
  /** SIGSTOP / SIGCONT member i. */
  pause(i: number): void;
  resume(i: number): void;
  /** Starts member i again on its data directory (after kill). */
  restart(i: number): Promise<void>;
  /** The index of the current raft leader, asked of the members that answer. */
  leaderIndex(): Promise<number>;
  close(): Promise<void>;
}

export function requireEtcd(): void {
  const found = spawnSync(ETCD_BINARY, ['--version'], { encoding: 'utf8' });
  if (found.status !== 0) throw new Error(`${ETCD_BINARY} is not installed (Debian package etcd-server); these tests need a real etcd`);
}

/**
 * One member: short raft timings (a test wants a fast election); three: etcd's defaults,
 * since a 50 ms heartbeat overloads three members on two cores (MACHINE-NOTES "etcd").
 * `--max-txn-ops` is raised so a topic of many partitions is created in one txn.
 */
export async function startEtcd(t: TestLike, opts: { members?: 1 | 3 } = {}): Promise<EtcdCluster> {
  requireEtcd();
  const count = opts.members ?? 1;
  const members: EtcdMember[] = [];
  for (let i = 0; i < count; i++) {
    members.push({
      name: `m${i}`,
      clientUrl: `http://127.0.0.1:${await freePort()}`,
      peerUrl: `http://127.0.0.1:${await freePort()}`,
      dataDir: mkdtempSync(join(tmpdir(), 'trib-etcd-')),
      child: null,
    });
  }
  const initialCluster = members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
  const timing = count === 1 ? ['--heartbeat-interval', '50', '--election-timeout', '500'] : [];
  let state: 'new' | 'existing' = 'new';
  const spawnMember = (m: EtcdMember): void => {
    const args = [
      '--name', m.name, '--data-dir', m.dataDir,
      '--listen-client-urls', m.clientUrl, '--advertise-client-urls', m.clientUrl,
      '--listen-peer-urls', m.peerUrl, '--initial-advertise-peer-urls', m.peerUrl,
      '--initial-cluster', initialCluster, '--initial-cluster-state', state,
      '--initial-cluster-token', 'tributary-test',
      '--unsafe-no-fsync', '--max-txn-ops', '100000', '--log-level', 'error', ...timing,
    ];
    const child = spawn(ETCD_BINARY, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr!.on('data', () => undefined);
    m.child = child;
  };
  const stopMember = async (m: EtcdMember): Promise<void> => {
    if (m.child) await stopChild(m.child);
  };
  const close = async (): Promise<void> => {
    for (const m of members) await stopMember(m);
    for (const m of members) rmSync(m.dataDir, { recursive: true, force: true });
  };
  t.after(close);
  for (const m of members) spawnMember(m);
  state = 'existing';
  await Promise.all(members.map((m) => waitHealthy(m)));
  return {
    members,
    endpoints: members.map((m) => m.clientUrl),
    kill: (i) => stopMember(members[i]!),
    pause: (i) => { members[i]!.child?.kill('SIGSTOP'); },
    resume: (i) => { members[i]!.child?.kill('SIGCONT'); },
    restart: async (i) => {
      spawnMember(members[i]!);
      await waitHealthy(members[i]!);
    },
    leaderIndex: async () => {
      for (const m of members) {
        try {
          const res = await fetch(`${m.clientUrl}/v3/maintenance/status`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(1000) });
          const body = await res.json() as { header?: { member_id?: string }; leader?: string };
          if (body.leader === undefined) continue;
          const list = await fetch(`${m.clientUrl}/v3/cluster/member/list`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(1000) });
          const ms = (await list.json() as { members: { ID: string; name: string }[] }).members;
          const leader = ms.find((x) => x.ID === body.leader);
          return members.findIndex((x) => x.name === leader?.name);
        } catch { /* next member */ }
      }
      return -1;
    },
    close,
  };
}

async function waitHealthy(m: EtcdMember): Promise<void> {
  const deadline = Date.now() + MEMBER_START_TIMEOUT_MS;
  for (;;) {
    try {
      const res = await fetch(`${m.clientUrl}/health`, { signal: AbortSignal.timeout(1000) });
      if (res.ok && ((await res.json()) as { health?: string }).health === 'true') return;
    } catch { /* not up yet */ }
    if (Date.now() > deadline) throw new Error(`etcd member ${m.name} at ${m.clientUrl} did not become healthy within ${MEMBER_START_TIMEOUT_MS} ms`);
    if (m.child && m.child.exitCode !== null) throw new Error(`etcd member ${m.name} exited with ${m.child.exitCode}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface CuttableProxy {
  /** Client URL that reaches the target through the proxy. */
  readonly url: string;
  /** Black-holes every connection: bytes are swallowed, nothing is closed (a network partition). */
  cut(): void;
  /** Closes the black-holed connections (the client reconnects) and forwards again. */
  heal(): void;
  close(): Promise<void>;
}

/**
 * A TCP proxy on loopback in front of an etcd member, so a test can cut ONE client off from
 * etcd (its keepalives stop reaching the server) while other clients keep working.
 */
export async function startProxy(t: TestLike, targetUrl: string): Promise<CuttableProxy> {
  const { createConnection } = await import('node:net');
  const target = new URL(targetUrl);
  let cut = false;
  const pairs = new Set<[import('node:net').Socket, import('node:net').Socket]>();
  const server = createServer((client) => {
    client.on('error', () => undefined);
    if (cut) {
      client.on('data', () => undefined);
      pairs.add([client, client]);
      return;
    }
    const upstream = createConnection({ host: target.hostname, port: Number(target.port) });
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    const pair: [import('node:net').Socket, import('node:net').Socket] = [client, upstream];
    pairs.add(pair);
    client.on('data', (d) => { if (!cut) upstream.write(d); });
    upstream.on('data', (d) => { if (!cut) client.write(d); });
    client.on('close', () => { upstream.destroy(); pairs.delete(pair); });
    upstream.on('close', () => { client.destroy(); pairs.delete(pair); });
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const close = async (): Promise<void> => {
    for (const [a, b] of pairs) { a.destroy(); b.destroy(); }
    await new Promise<void>((res) => server.close(() => res()));
  };
  t.after(close);
  return {
    url: `http://127.0.0.1:${port}`,
    cut: () => { cut = true; },
    heal: () => {
      cut = false;
      for (const [a, b] of pairs) { a.destroy(); b.destroy(); }
      pairs.clear();
    },
    close,
  };
}
