/**
 * The fault suite's proxies (net-proxy.ts) in a child process of their own, controlled over
 * IPC. In the test process they shared one event loop with the KafkaJS clients, the checker
 * and the harness: a stall there (GC of a long run's history, a burst of client work on a
 * loaded machine) delayed every broker's etcd keepalives and fetches at once, and every
 * broker fenced itself at the same moments (docs/reliability.md, "Known problems"). Here
 * they only move bytes.
 *
 * The test keeps a FaultNetwork of its own; every change of its rules is sent to the host,
 * which applies the whole rule set (`setRules`), so the host's rules follow the test's
 * within an IPC message. Messages (test → host): {op: 'rules', rules}, {op: 'start', id,
 * to, targetPort, from?} → {id, port}, {op: 'close', id} → {id}. The host exits when the IPC
 * channel closes (the test died) and is otherwise stopped by its PID.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { FaultNetwork, startFaultProxy, type FaultProxy, type Node } from './net-proxy.js';

type Request =
  | { op: 'rules'; rules: string[] }
  | { op: 'start'; id: number; to: Node; targetPort: number; from?: Node }
  | { op: 'close'; id: number };
type Reply = { id: number; port?: number; error?: string };

/** How long the test waits for the host to start a proxy or close one. */
const HOST_REPLY_TIMEOUT_MS = 30_000;

export interface ProxyHost {
  /** The rules: change them here; the host follows. */
  readonly network: FaultNetwork;
  readonly pid: number | undefined;
  startProxy(opts: { to: Node; targetPort: number; from?: Node }): Promise<FaultProxy>;
  /** Stops the host by its PID (every proxy and connection with it). */
  close(): Promise<void>;
}

export function startProxyHost(): ProxyHost {
  const child: ChildProcess = fork(import.meta.filename, [], { execArgv: ['--conditions=source', '--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise<void>((res) => child.once('exit', () => res()));
  const network = new FaultNetwork();
  network.onChange(() => {
    if (child.connected) child.send({ op: 'rules', rules: network.describe() } satisfies Request);
  });
  let nextId = 0;
  const waiting = new Map<number, (r: Reply) => void>();
  child.on('message', (m: Reply) => waiting.get(m.id)?.(m));
  const ask = (req: Request & { id: number }): Promise<Reply> => new Promise<Reply>((res, reject) => {
    const timer = setTimeout(() => reject(new Error(`proxy host did not answer ${req.op} within ${HOST_REPLY_TIMEOUT_MS} ms`)), HOST_REPLY_TIMEOUT_MS);
    waiting.set(req.id, (r) => {
      clearTimeout(timer);
      waiting.delete(req.id);
      if (r.error !== undefined) reject(new Error(r.error));
      else res(r);
    });
    child.send(req);
  });
  return {
    network,
    get pid() { return child.pid; },
    startProxy: async (opts) => {
      const id = nextId++;
      const r = await ask({ op: 'start', id, ...opts });
      return {
        port: r.port!,
        close: async () => {
          if (child.connected) await ask({ op: 'close', id }).catch(() => undefined);
        },
      };
    },
    close: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

// The host itself: run as a forked child.
if (process.send !== undefined && process.argv[1] === import.meta.filename) {
  const network = new FaultNetwork();
  const proxies = new Map<number, FaultProxy>();
  const reply = (r: Reply): void => { process.send!(r); };
  process.on('message', (m: Request) => {
    if (m.op === 'rules') network.setRules(m.rules);
    else if (m.op === 'start') {
      startFaultProxy(network, { to: m.to, targetPort: m.targetPort, ...(m.from !== undefined ? { from: m.from } : {}) })
        .then((p) => { proxies.set(m.id, p); reply({ id: m.id, port: p.port }); }, (e: unknown) => reply({ id: m.id, error: String(e) }));
    } else if (m.op === 'close') {
      const p = proxies.get(m.id);
      proxies.delete(m.id);
      (p?.close() ?? Promise.resolve()).then(() => reply({ id: m.id }), (e: unknown) => reply({ id: m.id, error: String(e) }));
    }
  });
  process.on('disconnect', () => process.exit(0));
}
