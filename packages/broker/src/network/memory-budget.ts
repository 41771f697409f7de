/**
 * Byte budgets for what the broker holds on behalf of its clients, so that memory is
 * bounded in bytes, not in requests (DESIGN.md, Broker).
 *
 * - Requests (`queued.max.request.bytes`, Kafka's MemoryPool for request frames): the
 *   bytes of request frames taken off sockets and not yet answered, broker-wide. Past the
 *   budget no connection takes another frame (it stops reading) until requests complete.
 *   As in Kafka, a frame is taken whenever the pool is not exhausted, so one frame may go
 *   past the budget: a budget smaller than `socket.request.max.bytes` still serves
 *   everything, one request at a time.
 * - Responses (`queued.max.response.bytes` broker-wide, `connection.max.queued.response.bytes`
 *   per connection; Tributary's): the bytes of record data a Fetch has read from the log
 *   and the connection has not yet handed to the kernel. Kafka sends fetch data from the
 *   file (sendfile) and holds none of it; Tributary reads it into memory, so a Fetch
 *   reserves its bytes before reading (never after), reads at most what it was granted,
 *   and the reservation is released when the response has left for the socket, or when
 *   the connection closes. A client that does not read keeps its one reservation and gets
 *   no more: its connection takes no request while its socket's write buffer is full.
 *
 * A budget of 0 or less is unbounded.
 */

/** A broker-wide budget; connections that stopped for lack of it are woken when it frees. */
export class MemoryPool {
  private usedBytes = 0;
  private readonly waiting = new Set<() => void>();

  constructor(readonly capacityBytes: number) {}

  get used(): number {
    return this.usedBytes;
  }

  get available(): number {
    return this.capacityBytes > 0 ? Math.max(0, this.capacityBytes - this.usedBytes) : Number.MAX_SAFE_INTEGER;
  }

  get exhausted(): boolean {
    return this.capacityBytes > 0 && this.usedBytes >= this.capacityBytes;
  }

  take(bytes: number): void {
    this.usedBytes += bytes;
  }

  give(bytes: number): void {
    const wasExhausted = this.exhausted;
    this.usedBytes -= bytes;
    if (wasExhausted && !this.exhausted && this.waiting.size > 0) {
      const wake = [...this.waiting];
      this.waiting.clear();
      for (const callback of wake) callback();
    }
  }

  /** Calls `callback` once when the pool stops being exhausted (a stopped connection resumes). */
  whenAvailable(callback: () => void): void {
    this.waiting.add(callback);
  }

  forget(callback: () => void): void {
    this.waiting.delete(callback);
  }
}

/**
 * One connection's share of the response budget. Handlers reach it through
 * `ctx.connection.responseMemory`; the connection attaches what was reserved to the next
 * response it writes and releases it once that write has left for the kernel.
 */
export class ConnectionResponseMemory {
  /** Reserved by this connection and not yet released. */
  private reservedBytes = 0;
  /** Reserved since the last write: released after the next write completes. */
  private unattachedBytes = 0;
  private closed = false;

  constructor(private readonly pool: MemoryPool, readonly connectionLimitBytes: number) {}

  get reserved(): number {
    return this.reservedBytes;
  }

  /**
   * Grants up to `wantedBytes` of the budget (0 when none is left): the caller reads at
   * most what it was granted and gives back what it did not use.
   */
  reserve(wantedBytes: number): number {
    if (this.closed || wantedBytes <= 0) return 0;
    const connectionLeft = this.connectionLimitBytes > 0 ? Math.max(0, this.connectionLimitBytes - this.reservedBytes) : Number.MAX_SAFE_INTEGER;
    const granted = Math.min(wantedBytes, connectionLeft, this.pool.available);
    this.add(granted);
    return granted;
  }

  /** Records bytes held beyond the grant (the one batch a Fetch returns even when larger, KIP-74). */
  reserveAnyway(bytes: number): void {
    if (!this.closed && bytes > 0) this.add(bytes);
  }

  release(bytes: number): void {
    if (this.closed || bytes <= 0) return;
    const n = Math.min(bytes, this.reservedBytes);
    this.reservedBytes -= n;
    this.unattachedBytes = Math.max(0, this.unattachedBytes - n);
    this.pool.give(n);
  }

  /** Releases bytes a written response held (see detachForWrite). */
  releaseWritten(bytes: number): void {
    if (this.closed || bytes <= 0) return;
    const n = Math.min(bytes, this.reservedBytes);
    this.reservedBytes -= n;
    this.pool.give(n);
  }

  /** Moves what was reserved since the last write onto this write: the caller releases it after. */
  detachForWrite(): number {
    const n = this.unattachedBytes;
    this.unattachedBytes = 0;
    return n;
  }

  /** The connection closed: everything it held is released, and later releases are ignored. */
  close(): void {
    if (this.closed) return;
    const n = this.reservedBytes;
    this.closed = true;
    this.reservedBytes = 0;
    this.unattachedBytes = 0;
    this.pool.give(n);
  }

  private add(bytes: number): void {
    this.reservedBytes += bytes;
    this.unattachedBytes += bytes;
    this.pool.take(bytes);
  }
}
