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
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * A connection that closes holding at least this much unsent response data leaves it to
 * the garbage collector, which may not run for a long time on a quiet broker: the buffers'
 * wrappers are old objects, and only a full collection frees them (measured: 3 slow
 * readers' 50 MB responses stayed in RSS for over 15 s after they closed). Such a close
 * asks for one full collection, at most one per COLLECT_INTERVAL_MS.
 */
const COLLECT_AFTER_CLOSE_BYTES = 8 * 1024 * 1024;
const COLLECT_DELAY_MS = 100;
const COLLECT_INTERVAL_MS = 1000;
let collectScheduled = false;
let lastCollectMs = 0;

/**
 * `global.gc` when the process runs with --expose-gc, else the same function taken from a
 * fresh context after turning the flag on (V8 reads it when a context is created), or
 * null where that is refused.
 */
let gcFunction: (() => void) | null | undefined;
function gcFunctionOf(): (() => void) | null {
  if (gcFunction !== undefined) return gcFunction;
  const existing = (globalThis as { gc?: () => void }).gc;
  if (typeof existing === 'function') return (gcFunction = existing);
  try {
    setFlagsFromString('--expose-gc');
    const fn = runInNewContext('gc') as unknown;
    gcFunction = typeof fn === 'function' ? (fn as () => void) : null;
  } catch {
    gcFunction = null;
  }
  return gcFunction;
}

function collectSoon(): void {
  if (collectScheduled) return;
  collectScheduled = true;
  const delayMs = Math.max(COLLECT_DELAY_MS, lastCollectMs + COLLECT_INTERVAL_MS - Date.now());
  setTimeout(() => {
    collectScheduled = false;
    lastCollectMs = Date.now();
    gcFunctionOf()?.();
  }, delayMs).unref();
}

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

  /** Whether a reservation now would get anything (a Fetch asking for 0 bytes still gets one batch). */
  get hasRoom(): boolean {
    return !this.closed && (this.connectionLimitBytes <= 0 || this.reservedBytes < this.connectionLimitBytes) && this.pool.available > 0;
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

  /**
   * Releases bytes a written response held (see detachForWrite). `dropped`: the socket was
   * destroyed before they left, so they are garbage now (see COLLECT_AFTER_CLOSE_BYTES).
   */
  releaseWritten(bytes: number, dropped = false): void {
    if (this.closed || bytes <= 0) return;
    const n = Math.min(bytes, this.reservedBytes);
    this.reservedBytes -= n;
    this.pool.give(n);
    if (dropped && n >= COLLECT_AFTER_CLOSE_BYTES) collectSoon();
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
    if (n >= COLLECT_AFTER_CLOSE_BYTES) collectSoon();
  }

  private add(bytes: number): void {
    this.reservedBytes += bytes;
    this.unattachedBytes += bytes;
    this.pool.take(bytes);
  }
}

/**
 * Reads from the log are synchronous, and one of several MiB stalls the event loop for
 * tens of milliseconds on a busy machine (16 MiB: 30-40 ms measured here; 50 MiB: 110-230
 * ms). Fetches arriving together on several connections would add their stalls up in one
 * turn (three slow readers' first 16 MiB Fetches: one 149 ms stall), so a read that may
 * be larger than LARGE_READ_BYTES waits for an event-loop turn in which no large read ran.
 */
export const LARGE_READ_BYTES = 1024 * 1024;
let largeReadThisTurn = false;
const clearLargeRead = (): void => {
  largeReadThisTurn = false;
};

/**
 * Resolves in a turn that had no large read yet. A read that may be large waits for it;
 * one that cannot be (its request asks for less) never waits, so tailing consumers asking
 * for megabytes but reading bytes wait at most one turn, and only after a large read.
 */
export async function largeReadTurn(): Promise<void> {
  while (largeReadThisTurn) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** Records that this turn had a large read (call after reading more than LARGE_READ_BYTES). */
export function largeReadDone(): void {
  if (largeReadThisTurn) return;
  largeReadThisTurn = true;
  setImmediate(clearLargeRead);
}
