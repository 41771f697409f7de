/**
 * Network partitions for the fault suite, in user space: every link that a fault must be
 * able to cut goes through a TCP proxy the test owns, and one `FaultNetwork` holds the
 * rules that say which (source → destination, direction) is cut.
 *
 * - Broker ↔ broker: each broker has a second listener, INTERNAL, named by
 *   inter.broker.listener.name and ADVERTISED as a proxy port in front of it, so every
 *   follower fetcher reaches a leader through the leader's proxy. The proxy learns the
 *   source broker from the client id in the first request header (the fetchers send
 *   `broker-<id>-fetcher`), so one proxy per destination can cut single pairs.
 * - Broker ↔ etcd: one proxy per (broker, etcd member); the source is fixed.
 * - Clients reach brokers directly (the PLAINTEXT listener): an isolated broker still
 *   hears its clients, as a leader on the wrong side of a partition does.
 *
 * A cut does not drop bytes (that would tear the TCP stream, which a real partition does
 * not do): the proxy stops reading from the sending side in that direction, so bytes
 * queue in the kernel and the sender's writes stall, as TCP retransmission does during a
 * partition. Timeouts on either side then close connections, and new connections are
 * accepted by the proxy but carry nothing across the cut (a SYN that gets through, data
 * that does not: close enough for timeouts, and what `iptables -j DROP` of data after the
 * handshake looks like). On heal everything queued flows again.
 *
 * One-way cuts are a direction: `req` (source → destination bytes, e.g. a follower's
 * fetch requests) or `resp` (destination → source, e.g. the leader's fetch responses).
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export type Dir = 'req' | 'resp';

/** The endpoints of links: `b<nodeId>` for brokers, `etcd` for every etcd member. */
export type Node = string;

export class FaultNetwork {
  private readonly cuts = new Set<string>();
  private readonly listeners = new Set<() => void>();

  /** Cuts `from → to` in the given directions (both by default). */
  cut(from: Node, to: Node, dirs: readonly Dir[] = ['req', 'resp']): void {
    for (const d of dirs) this.cuts.add(`${from}>${to}:${d}`);
    this.changed();
  }

  /** Cuts every link between `node` and each of `others`, both ways. */
  isolate(node: Node, others: readonly Node[]): void {
    for (const o of others) {
      this.cut(node, o);
      this.cut(o, node);
    }
  }

  healAll(): void {
    this.cuts.clear();
    this.changed();
  }

  /** Replaces every rule with `rules` (as `describe` lists them): how a proxy host follows the test's network. */
  setRules(rules: readonly string[]): void {
    this.cuts.clear();
    for (const r of rules) this.cuts.add(r);
    this.changed();
  }

  isCut(from: Node, to: Node, dir: Dir): boolean {
    return this.cuts.has(`${from}>${to}:${dir}`);
  }

  describe(): string[] {
    return [...this.cuts].sort();
  }

  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private changed(): void {
    for (const fn of this.listeners) fn();
  }
}

/** Bytes the proxy buffers while it waits for the first request header (a bad peer is closed). */
const IDENTIFY_MAX_BYTES = 64 * 1024;

/**
 * The source broker of a Kafka connection, from its first request header:
 * size int32, api_key int16, api_version int16, correlation_id int32, client_id string16.
 * Returns undefined while more bytes are needed; 'client' for anything not a fetcher.
 */
export function kafkaSource(head: Buffer): Node | undefined {
  if (head.length < 14) return undefined;
  const len = head.readInt16BE(12);
  if (len < 0) return 'client';
  if (head.length < 14 + len) return undefined;
  const clientId = head.subarray(14, 14 + len).toString('utf8');
  const m = /^broker-(\d+)-/.exec(clientId);
  return m ? `b${m[1]}` : 'client';
}

export interface FaultProxy {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * A proxy for destination `to` in front of 127.0.0.1:`targetPort`. The source of a
 * connection is `from` when fixed, else identified from the first Kafka request header.
 */
export async function startFaultProxy(network: FaultNetwork, opts: { to: Node; targetPort: number; from?: Node }): Promise<FaultProxy> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => undefined);
    let head = Buffer.alloc(0);
    const onHead = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      const from = opts.from ?? kafkaSource(head);
      if (from === undefined) {
        if (head.length > IDENTIFY_MAX_BYTES) client.destroy();
        return;
      }
      client.off('data', onHead);
      client.pause();
      pipe(from, client, head);
    };
    if (opts.from !== undefined) pipe(opts.from, client, Buffer.alloc(0));
    else client.on('data', onHead);
  });
  const pipe = (from: Node, client: Socket, first: Buffer): void => {
    const upstream = createConnection({ host: '127.0.0.1', port: opts.targetPort });
    sockets.add(upstream);
    upstream.on('close', () => { sockets.delete(upstream); client.destroy(); });
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    const pumps = [
      pump(client, upstream, () => network.isCut(from, opts.to, 'req'), first),
      pump(upstream, client, () => network.isCut(from, opts.to, 'resp'), Buffer.alloc(0)),
    ];
    const off = network.onChange(() => { for (const p of pumps) p(); });
    client.on('close', off);
    upstream.on('close', off);
  };
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((res) => server.close(() => res()));
    },
  };
}

/**
 * Moves bytes from `src` to `dst` while `isCut()` is false. While cut, `src` is paused
 * and what was read is held. Returns the function to call when the rules change.
 */
function pump(src: Socket, dst: Socket, isCut: () => boolean, first: Buffer): () => void {
  const held: Buffer[] = first.length > 0 ? [first] : [];
  const flow = (): void => {
    if (isCut()) {
      src.pause();
      return;
    }
    while (held.length > 0) dst.write(held.shift()!);
    src.resume();
  };
  src.on('data', (chunk: Buffer) => {
    if (isCut()) {
      held.push(chunk);
      src.pause();
    } else if (!dst.write(chunk)) {
      // Backpressure: the destination's buffer is full; go on when it drains.
      src.pause();
      dst.once('drain', () => { if (!isCut()) src.resume(); });
    }
  });
  flow();
  return flow;
}
