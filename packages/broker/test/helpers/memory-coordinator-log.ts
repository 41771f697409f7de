import type { CoordinatorLog, CoordinatorLogRecord } from '../../src/group/coordinator-log.js';

/**
 * An in-memory CoordinatorLog for tests.
 * It keeps every record (no compaction), so replay sees the full history, as Kafka's loader
 * does before the cleaner has run. `failNextAppends` and `holdAppends` let tests inject
 * append failures and slow appends.
 */
export class MemoryCoordinatorLog implements CoordinatorLog {
  private readonly partitions = new Map<number, CoordinatorLogRecord[]>();
  private failures: unknown[] = [];
  private held: (() => void)[] | null = null;
  appendCount = 0;

  append(partition: number, records: CoordinatorLogRecord[]): Promise<void> {
    this.appendCount += 1;
    const failure = this.failures.shift();
    if (failure !== undefined) return Promise.reject(failure);
    const write = (): void => {
      let log = this.partitions.get(partition);
      if (log === undefined) {
        log = [];
        this.partitions.set(partition, log);
      }
      for (const r of records) log.push({ key: Buffer.from(r.key), value: r.value === null ? null : Buffer.from(r.value) });
    };
    if (this.held !== null) {
      const held = this.held;
      return new Promise((resolve) => held.push(() => { write(); resolve(); }));
    }
    write();
    return Promise.resolve();
  }

  async replay(partition: number, onRecord: (key: Buffer, value: Buffer | null) => void): Promise<void> {
    for (const r of this.partitions.get(partition) ?? []) onRecord(r.key, r.value);
  }

  /** The records of one partition, oldest first (a copy). */
  records(partition: number): CoordinatorLogRecord[] {
    return [...(this.partitions.get(partition) ?? [])];
  }

  /** The next `count` appends reject with `error`. */
  failNextAppends(count: number, error: unknown): void {
    for (let i = 0; i < count; i++) this.failures.push(error);
  }

  /** From now on appends wait until `releaseAppends()`; used to observe in-flight state. */
  holdAppends(): void {
    this.held ??= [];
  }

  /** Completes every held append in call order and stops holding. */
  releaseAppends(): void {
    const held = this.held ?? [];
    this.held = null;
    for (const complete of held) complete();
  }
}
