/**
 * An in-process cluster for tests: N brokers (node ids 1..N, port 0, each its own data
 * directory) sharing one LocalMetadataStore, as several brokers share etcd. Each registers
 * itself, so topics created with a replication factor up to N are placed over all of them
 * (leader = first replica, ISR = all). A broker can be stopped (it unregisters; its
 * directory stays) and started again on the same directory. Everything is closed, and the
 * directories removed, when the test ends.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, LocalMetadataStore, startBroker, type RunningBroker } from '../../src/index.js';
import { randomKafkaUuid } from '../../src/metadata/kafka-uuid.js';
import type { Partition } from '../../src/replica/partition.js';
import type { TestContext } from './broker.js';

/** Settings that make replication observable within a test's time: lag 1 s, short waits and backoffs. */
export const CLUSTER_TEST_CONFIG: Readonly<Record<string, string | number>> = {
  'replica.lag.time.max.ms': 1000,
  'replica.fetch.wait.max.ms': 100,
  'replica.fetch.backoff.ms': 100,
  'group.initial.rebalance.delay.ms': 0,
  'group.min.session.timeout.ms': 1000,
};

export class TestCluster {
  private readonly running = new Map<number, RunningBroker>();

  private constructor(
    readonly metadata: LocalMetadataStore,
    private readonly root: string,
    readonly size: number,
    private readonly config: Readonly<Record<string, string | number>>,
  ) {}

  /**
   * `offsetsPartitions`: create `__consumer_offsets` before any broker starts, with that many
   * partitions replicated on every broker (leader 1), instead of letting the first broker
   * create it on its own (replication factor 1: it is alone when it starts).
   */
  static async start(t: TestContext, size = 3, config: Readonly<Record<string, string | number>> = {}, options: { offsetsPartitions?: number } = {}): Promise<TestCluster> {
    const root = mkdtempSync(join(tmpdir(), 'trib-cluster-'));
    const metadata = await LocalMetadataStore.open({ dataDir: join(root, 'metadata'), clusterId: randomKafkaUuid(), logger: createLogger({ level: 'silent' }) });
    const merged: Record<string, string | number> = { ...CLUSTER_TEST_CONFIG, ...config };
    if (options.offsetsPartitions !== undefined) {
      const all = Array.from({ length: size }, (_, i) => i + 1);
      merged['offsets.topic.num.partitions'] = options.offsetsPartitions;
      await metadata.createTopic({
        name: '__consumer_offsets',
        internal: true,
        configs: { 'cleanup.policy': 'compact', 'compression.type': 'producer' },
        partitions: Array.from({ length: options.offsetsPartitions }, () => ({ replicas: all, leader: 1, isr: all })),
      });
    }
    const cluster = new TestCluster(metadata, root, size, merged);
    t.after(() => cluster.close());
    for (let id = 1; id <= size; id++) await cluster.startBroker(id);
    return cluster;
  }

  /** Starts broker `id` (again) on its own data directory. */
  async startBroker(id: number): Promise<RunningBroker> {
    if (this.running.has(id)) throw new Error(`broker ${id} is running`);
    const broker = await startBroker({
      dataDir: join(this.root, `broker-${id}`),
      port: 0,
      nodeId: id,
      config: this.config,
      metadataStore: this.metadata,
      logger: createLogger({ level: process.env['TRIB_TEST_LOG'] === '1' ? 'debug' : 'silent' }).child({ broker: id }),
    });
    this.running.set(id, broker);
    return broker;
  }

  /** Stops broker `id` (a clean shutdown: it unregisters); its data directory is kept. */
  async stopBroker(id: number): Promise<void> {
    const broker = this.running.get(id);
    if (broker === undefined) return;
    this.running.delete(id);
    await broker.close();
  }

  broker(id: number): RunningBroker {
    const broker = this.running.get(id);
    if (broker === undefined) throw new Error(`broker ${id} is not running`);
    return broker;
  }

  get brokers(): RunningBroker[] {
    return [...this.running.values()];
  }

  /** host:port of every running broker, for clients. */
  get bootstrap(): string[] {
    return this.brokers.map((b) => `${b.host}:${b.port}`);
  }

  /** The leader of a partition as the metadata says. */
  leaderOf(topic: string, partition = 0): number {
    const state = this.metadata.topic(topic)?.partitions[partition];
    if (state === undefined) throw new Error(`no partition ${topic}-${partition}`);
    return state.leader;
  }

  isrOf(topic: string, partition = 0): readonly number[] {
    return this.metadata.topic(topic)?.partitions[partition]?.isr ?? [];
  }

  /** Broker `id`'s replica of a partition. */
  replica(id: number, topic: string, partition = 0): Partition {
    const p = this.broker(id).services.replicaManager.getPartition(topic, partition);
    if (p === undefined) throw new Error(`broker ${id} has no replica of ${topic}-${partition}`);
    return p;
  }

  async close(): Promise<void> {
    for (const id of [...this.running.keys()]) await this.stopBroker(id);
    await this.metadata.close();
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** Polls `probe` until it returns a value other than undefined; fails after `timeoutMs` naming `what`. */
export async function waitFor<T>(what: string, timeoutMs: number, probe: () => T | undefined | Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
