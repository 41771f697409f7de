/**
 * The fault suite's cluster: a real etcd (Debian's /usr/bin/etcd, test/cluster/etcd-kit.ts;
 * one member or three) and N broker PROCESSES on loopback, each with its own data directory
 * and port, the same entry point as `npm start` (its bundle when scripts/test.sh built one, else
 * the sources through tsx). A broker can be
 * SIGKILLed, SIGSTOPped and SIGCONTed, and restarted on its data directory and port,
 * always by its PID.
 *
 * Every link a network fault cuts goes through a proxy of net-proxy.ts, run in a child
 * process of their own (proxy-host.ts) that follows this process's rules: each broker's
 * INTERNAL listener (inter.broker.listener.name) is advertised as a proxy port, and each
 * broker reaches each etcd member through its own proxy. Clients use the PLAINTEXT
 * listener directly. Each broker also loads clock-skew.ts, which offsets its wall clock
 * (Date) by the milliseconds in a file the run writes (`FaultBroker.skewClock`), and
 * slow-disk.ts, which delays fsyncs and writes under its data directory by the milliseconds
 * in another (`FaultBroker.slowDisk`).
 *
 * One broker's data directory may be a small tmpfs (`tmpfs`), mounted by the harness as
 * root and unmounted at the end, so a fault can fill it.
 *
 * Every broker's stdout/stderr goes to a file in the run directory (kept with the report
 * when a run fails). At the end every process is stopped by its PID (SIGCONT first, so a
 * paused one dies too), etcd last.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildSync } from 'esbuild';
import { freePort, startEtcd, type EtcdCluster } from '../cluster/etcd-kit.js';
import type { FaultNetwork, FaultProxy } from './net-proxy.js';
import { startProxyHost } from './proxy-host.js';

export const REPO_ROOT = resolve(import.meta.dirname, '..', '..');
/** How long a broker may take from spawn to its "listening on" line (tsx compiles on start; 60 s was missed at a load average of 23 on 2 cores). */
const BROKER_START_TIMEOUT_MS = 120_000;

type TestLike = { after(fn: () => void | Promise<void>): void };

let builtHooks: string[] | undefined;

/**
 * The node arguments that run a fault-suite broker: the bundle scripts/test.sh builds
 * (TRIBUTARY_BROKER_BUNDLE, as test/compat/kit.ts's brokerEntry) with the two test hooks
 * compiled to plain modules once per test process, else the sources through tsx. tsx's
 * loader in front of the 1.9 MB bundle costs more than it saves (measured 3.5 s to
 * listening against 1.2 s without tsx), and a slow start under load let a restarted broker
 * miss its session window (test/cluster/restart-leader-epoch.test.ts).
 */
function brokerArgs(): string[] {
  const bundle = process.env['TRIBUTARY_BROKER_BUNDLE'];
  const hooks = ['clock-skew', 'slow-disk'];
  if (bundle === undefined || bundle === '') {
    return ['--conditions=source', '--import', 'tsx', ...hooks.flatMap((h) => ['--import', join(REPO_ROOT, `test/fault/${h}.ts`)]), join(REPO_ROOT, 'packages/broker/src/main.ts')];
  }
  if (builtHooks === undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'tributary-fault-hooks-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    builtHooks = hooks.map((h) => {
      const outfile = join(dir, `${h}.mjs`);
      buildSync({ entryPoints: [join(REPO_ROOT, `test/fault/${h}.ts`)], outfile, bundle: true, platform: 'node', format: 'esm', target: 'node20', logLevel: 'warning' });
      return outfile;
    });
  }
  return [...builtHooks.flatMap((h) => ['--import', h]), '--enable-source-maps', bundle];
}

/**
 * Broker settings for fault runs. Timeouts are short so a run sees failover in seconds,
 * not Kafka's production 18-30 s; the must-hold bound is derived from these two.
 */
export const FAULT_TIMINGS = {
  /** A dead broker's etcd lease expires after this (Kafka: broker.session.timeout.ms). */
  sessionTimeoutMs: 3000,
  /**
   * A follower that has not caught up for this long leaves the ISR. Kafka's defaults keep it
   * well above the session timeout (30 s vs 9 s); here it is 2.5 s, so the failover bound
   * max(2 x this, session timeout) = 5 s leaves 1.5 s past the worst lease expiry (TTL + etcd's
   * 0.5 s expiry check after the last keepalive) for the election, its propagation and the
   * clients' retry.
   */
  replicaLagTimeMaxMs: 2500,
} as const;

export const FAULT_BROKER_CONFIG: Readonly<Record<string, string | number>> = {
  'broker.session.timeout.ms': FAULT_TIMINGS.sessionTimeoutMs,
  'etcd.lease.fence.margin.ms': 1000,
  'replica.lag.time.max.ms': FAULT_TIMINGS.replicaLagTimeMaxMs,
  'group.initial.rebalance.delay.ms': 0,
  'group.min.session.timeout.ms': 1000,
  'offsets.topic.replication.factor': 3,
  'default.replication.factor': 3,
  'min.insync.replicas': 2,
  // 10 partitions, not Kafka's 50: the first transaction creates the topic under load, and
  // 150 replicas to create and fill the ISRs of would be most of the warm-up.
  'transaction.state.log.num.partitions': 10,
  'transaction.state.log.replication.factor': 3,
  'transaction.state.log.min.isr': 2,
  // A transaction a dead producer instance left open is aborted within a second of its
  // timeout (Kafka's default check is every 10 s), so the read_committed read-back is not held up.
  'transaction.abort.timed.out.transaction.cleanup.interval.ms': 1000,
};

export type BrokerState = 'running' | 'paused' | 'dead';

export class FaultBroker {
  child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private starts = 0;

  constructor(
    readonly nodeId: number,
    readonly port: number,
    readonly dataDir: string,
    private readonly logDir: string,
    private readonly config: Record<string, string | number>,
    /** The INTERNAL listener's bound port and the proxy port advertised for it (none: one PLAINTEXT listener, as test/cluster/workload.ts runs them). */
    private readonly internal?: { port: number; proxyPort: number },
    /** This broker's etcd endpoints (its own proxies); none: `etcd.endpoints` of `config`. */
    private readonly etcdEndpoints?: string,
  ) {}

  /** The file clock-skew.ts polls: the wall-clock offset of this broker in ms. */
  get skewFile(): string {
    return join(this.logDir, `clock-skew-${this.nodeId}`);
  }

  /** The file slow-disk.ts polls: "<syncMs> <writeMs>", this broker's extra fsync and write latency. */
  get slowDiskFile(): string {
    return join(this.logDir, `slow-disk-${this.nodeId}`);
  }

  /** Slows this broker's fsyncs and writes under its data directory (slow-disk.ts); 0, 0 heals. */
  slowDisk(syncMs: number, writeMs: number): void {
    writeFileSync(this.slowDiskFile, `${syncMs} ${writeMs}\n`);
  }

  /** Moves this broker's wall clock (Date.now, new Date()) by `offsetMs` from the real time. */
  skewClock(offsetMs: number): void {
    writeFileSync(this.skewFile, `${offsetMs}\n`);
  }

  get bootstrap(): string {
    return `127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get state(): BrokerState {
    const c = this.child;
    if (c === null || c.exitCode !== null || c.signalCode !== null) return 'dead';
    return this.paused ? 'paused' : 'running';
  }

  private paused = false;

  /** Spawns the broker process and waits until it listens. */
  async start(): Promise<void> {
    if (this.state !== 'dead') throw new Error(`broker ${this.nodeId} is ${this.state}; stop it before starting it again`);
    this.starts++;
    const args = brokerArgs();
    const overrides: Record<string, string | number> = {
      ...this.config,
      'node.id': this.nodeId,
      // One rack per broker: all run on one host, and placement by host would see one rack.
      'broker.rack': `rack-${this.nodeId}`,
      ...(this.internal !== undefined
        ? {
          listeners: `PLAINTEXT://127.0.0.1:${this.port},INTERNAL://127.0.0.1:${this.internal.port}`,
          'advertised.listeners': `PLAINTEXT://127.0.0.1:${this.port},INTERNAL://127.0.0.1:${this.internal.proxyPort}`,
          'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT',
          'inter.broker.listener.name': 'INTERNAL',
        }
        : { listeners: `PLAINTEXT://127.0.0.1:${this.port}` }),
      ...(this.etcdEndpoints !== undefined ? { 'etcd.endpoints': this.etcdEndpoints } : {}),
      'log.dirs': this.dataDir,
    };
    for (const [k, v] of Object.entries(overrides)) args.push('--override', `${k}=${v}`);
    const child = spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TRIBUTARY_TEST_CLOCK_SKEW_FILE: this.skewFile, TRIBUTARY_TEST_SLOW_DISK_FILE: this.slowDiskFile, TRIBUTARY_TEST_SLOW_DISK_DIR: this.dataDir } });
    this.child = child;
    this.paused = false;
    this.exited = new Promise<void>((res) => child.once('exit', () => res()));
    const log = createWriteStream(join(this.logDir, `broker-${this.nodeId}.log`), { flags: 'a' });
    log.write(`--- start #${this.starts} pid ${child.pid} at ${new Date().toISOString()}\n`);
    child.stderr!.pipe(log, { end: false });
    // 'close' comes after both pipes drained, so nothing is written after the end.
    child.once('close', () => log.end());
    let out = '';
    await new Promise<void>((res, reject) => {
      const timer = setTimeout(() => reject(new Error(`broker ${this.nodeId} did not listen within ${BROKER_START_TIMEOUT_MS} ms; log in ${this.logDir}`)), BROKER_START_TIMEOUT_MS);
      child.stdout!.on('data', (d: Buffer) => {
        log.write(d);
        if (out.length < 10_000) out += d.toString();
        if (out.includes('listening on')) {
          clearTimeout(timer);
          res();
        }
      });
      // After listening the promise is settled and this reject is a no-op: later exits are
      // the faults the run injects.
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`broker ${this.nodeId} exited (${code ?? signal}) before listening; log in ${this.logDir}`));
      });
    });
  }

  /** SIGKILL (SIGCONT first if paused) and wait for the exit. */
  async kill(): Promise<void> {
    const c = this.child;
    if (c === null || this.state === 'dead') return;
    c.kill('SIGCONT');
    c.kill('SIGKILL');
    await this.exited;
    this.paused = false;
  }

  pause(): void {
    if (this.state !== 'running') return;
    this.child!.kill('SIGSTOP');
    this.paused = true;
  }

  resume(): void {
    if (this.state !== 'paused') return;
    this.child!.kill('SIGCONT');
    this.paused = false;
  }

  async restart(): Promise<void> {
    await this.kill();
    await this.start();
  }
}

export interface FaultCluster {
  readonly etcd: EtcdCluster;
  /** The cut rules every proxy obeys (net-proxy.ts); brokers are `b<nodeId>`, etcd is `etcd`. */
  readonly network: FaultNetwork;
  /** The broker whose data directory is a tmpfs, if any. */
  readonly tmpfsNodeId: number | undefined;
  readonly brokers: readonly FaultBroker[];
  readonly bootstrap: string[];
  readonly runDir: string;
  broker(nodeId: number): FaultBroker;
  close(): Promise<void>;
}

/** Whether this process may mount a tmpfs (root). */
export function canMountTmpfs(): boolean {
  return process.getuid?.() === 0;
}

/**
 * Starts etcd (`etcdMembers`, default 1) and `brokers` broker processes with their
 * proxies; everything is stopped in `t.after`, the tmpfs (if any) unmounted.
 */
export async function startFaultCluster(
  t: TestLike,
  opts: { runDir: string; brokers?: number; etcdMembers?: 1 | 3; tmpfs?: { nodeId: number; sizeMb: number }; config?: Record<string, string | number> },
): Promise<FaultCluster> {
  const etcd = await startEtcd(t, { members: opts.etcdMembers ?? 1 });
  // The proxies run in a child process (proxy-host.ts): a stall of this process must not
  // delay every broker's keepalives at once.
  const host = startProxyHost();
  t.after(() => host.close());
  const network = host.network;
  const proxies: FaultProxy[] = [];
  const count = opts.brokers ?? 3;
  const config = { ...FAULT_BROKER_CONFIG, ...opts.config };
  const brokers: FaultBroker[] = [];
  const mounted: string[] = [];
  const unmount = (): void => {
    for (const dir of mounted.splice(0)) {
      const r = spawnSync('umount', ['-l', dir], { encoding: 'utf8' });
      if (r.status !== 0) process.stderr.write(`umount ${dir}: ${r.stderr}\n`);
    }
  };
  for (let i = 1; i <= count; i++) {
    const dataDir = join(opts.runDir, `data-${i}`);
    mkdirSync(dataDir, { recursive: true });
    if (opts.tmpfs?.nodeId === i) {
      const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${opts.tmpfs.sizeMb}m`, 'tmpfs', dataDir], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`mount tmpfs on ${dataDir}: ${r.stderr}`);
      mounted.push(dataDir);
    }
    const internalPort = await freePort();
    const proxy = await host.startProxy({ to: `b${i}`, targetPort: internalPort });
    proxies.push(proxy);
    const etcdProxies: string[] = [];
    for (const m of etcd.members) {
      const p = await host.startProxy({ from: `b${i}`, to: 'etcd', targetPort: Number(new URL(m.clientUrl).port) });
      proxies.push(p);
      etcdProxies.push(`http://127.0.0.1:${p.port}`);
    }
    brokers.push(new FaultBroker(i, await freePort(), dataDir, opts.runDir, config, { port: internalPort, proxyPort: proxy.port }, etcdProxies.join(',')));
  }
  const close = async (): Promise<void> => {
    network.healAll();
    for (const b of brokers) await b.kill();
    for (const p of proxies) await p.close();
    await host.close();
    unmount();
  };
  // Hooks run in registration order, so etcd (registered by startEtcd) stops before the
  // brokers; a broker SIGKILLed after etcd is gone just dies, and a run's cleanup is the
  // caller's, who closes the cluster itself before reporting.
  t.after(close);
  await Promise.all(brokers.map((b) => b.start()));
  return {
    etcd,
    network,
    tmpfsNodeId: opts.tmpfs?.nodeId,
    brokers,
    bootstrap: brokers.map((b) => b.bootstrap),
    runDir: opts.runDir,
    broker: (nodeId) => {
      const b = brokers.find((x) => x.nodeId === nodeId);
      if (b === undefined) throw new Error(`no broker ${nodeId} in this cluster`);
      return b;
    },
    close,
  };
}
