/**
 * One client connection: frames in, responses out, strictly in request order.
 *
 * Ordering: Kafka processes one request per connection at a time (it mutes the channel
 * from a request's arrival until its response is sent), so a request never sees the
 * effects of a later one, and a later one always sees the effects of an earlier one (a
 * ListOffsets pipelined after a slow acks=all Produce sees that Produce). Tributary keeps
 * exactly that for every request the processor does not let pipeline (`mayPipeline`):
 * such an exclusive request starts only once every earlier request has completed and the
 * socket's write buffer has drained, and nothing after it starts before it completes.
 * The processor lets Produce pipeline behind Produce: its appends start synchronously in
 * request order (ReplicaManager), so a later Produce cannot overtake an earlier one, and
 * producers that keep several requests in flight (librdkafka, the Java client) need it
 * for throughput. Responses go out in arrival order: each request takes a slot in a
 * queue, and only a completed slot at the head of the queue is written.
 *
 * Backpressure, in requests and in bytes: at most `maxInflightRequests` slots exist;
 * no frame is taken while the broker-wide request budget (`queued.max.request.bytes`,
 * memory-budget.ts) is exhausted or while the socket's write buffer is above its
 * high-water mark (the client is not reading; resumed on 'drain'). While the connection
 * cannot take its next frame it pauses the socket, so a client that pipelines without
 * reading its responses costs at most the requests it has in flight, one read chunk and
 * one response: a Fetch reserves its record bytes from the response budget before
 * reading, and the reservation is released once its response has left for the kernel
 * (or the connection closed).
 *
 * Responses that complete while frames are being dispatched (requests answered
 * synchronously, such as most Produce requests) are flushed together once the dispatch
 * loop ends, so pipelined requests from one read cost one socket write, not one each.
 * A flush of up to COPY_LIMIT bytes is copied into one buffer and written with a single
 * write; larger ones go between cork() and uncork(), size prefixes and the processor's
 * chunks as separate writes, so record data goes out by reference (writev). On TLS
 * sockets, where node:tls would copy such a writev into one buffer before encrypting it,
 * larger flushes go out as pieces instead, one write at a time (queuePieces).
 *
 * Reads: bytes arrive either as 'data' chunks the connection may keep, or (sockets
 * accepted by SocketServer) as views of one shared read buffer that are valid only during
 * the callback; the decoder copies what it keeps of those into each frame's own buffer,
 * from the frame pool (see shared-read-buffer.ts, frame-pool.ts). A
 * connection reads at most READ_BYTES_PER_TURN per event-loop turn, then yields.
 *
 * Quota throttling (Kafka's KIP-219): a response whose action carries `throttleMs` (the
 * client is over a quota; the response already says so in throttle_time_ms) is written at
 * once, and then the connection is muted for that long: no frame is taken and the socket
 * is not read, so a client that ignores throttle_time_ms is held back all the same.
 * Requests already in flight complete; their responses are still written.
 *
 * Idle: a connection with no socket activity and no request in flight for
 * `connections.max.idle.ms` is closed (a long-poll in flight keeps it open). Activity is
 * stamped by the connection itself (a read with the event-loop turn's clock, a write with
 * Date.now()) and checked by one timer that re-arms for the time left, not by
 * socket.setTimeout: Node refreshes a socket's timeout on every read and write (a libuv
 * clock call and a timer-list move, ~110 ns here), and a TLS socket reads once per TLS
 * record (librdkafka: one TLS record per ~2 KiB of a Produce), where a plain socket reads
 * up to 64 KiB at once. The timer fires at most once per connections.max.idle.ms. With
 * bench/macro/tls-reads.mjs (2 KiB TLS records) the TLS read path's CPU per MiB went from
 * 2.32 to 1.98 ms (medians of 11 alternating runs, 9 lower; PLAINTEXT unchanged).
 */
import type { Socket } from 'node:net';
import type { AdoptedSocket } from './shared-read-buffer.js';
import type { Logger } from '../logger.js';
import { FrameDecoder, FrameError } from './frame-decoder.js';
import { framePool } from './frame-pool.js';
import type { ConnectionInfo, RequestProcessor, ResponseAction } from './request-processor.js';
import type { ConnectionResponseMemory, MemoryPool } from './memory-budget.js';

export interface ConnectionOptions {
  readonly maxFrameBytes: number;
  readonly maxInflightRequests: number;
  /** Broker-wide budget for request frames in flight (`queued.max.request.bytes`). */
  readonly requestMemory?: MemoryPool;
  /** 0 or negative disables the idle check. */
  readonly idleTimeoutMs: number;
  readonly processor: RequestProcessor;
  readonly logger: Logger;
}

/** Flushes up to this size are copied into one buffer (one plain write instead of a writev). */
const COPY_LIMIT = 32 * 1024;

/**
 * TLS sockets: a chunk of at least this size (one full TLS record of plaintext) is written
 * by reference as a piece of its own; smaller neighbours are copied together into one piece.
 */
const TLS_PIECE_MIN_BYTES = 16 * 1024;

/**
 * TLS sockets: the largest piece; a larger chunk is written as several views. node:tls
 * encrypts a whole write into its output buffer before any of it goes to the kernel, so
 * this bounds that buffer per connection (as Fetch's default max.partition.fetch.bytes
 * does). Smaller pieces cost more than the copy they avoid: writing 1 MiB record chunks of
 * a Fetch-like response took 7% less CPU than cork() and writev in pieces of 1 MiB, and
 * more in pieces of 64 KiB (one more write and event-loop turn per piece).
 */
const TLS_PIECE_MAX_BYTES = 1024 * 1024;

/** One piece of a TLS write queue; `written` is the flush's callback, on its last piece. */
interface Piece {
  readonly bytes: Buffer;
  written: ((err?: Error | null) => void) | undefined;
}

/**
 * Bytes one connection may read per event-loop turn before it yields to the others.
 * libuv reads a readable socket up to 32 times in a row, and Produce is mostly answered
 * synchronously, so a busy client refills its socket while it is being read: without a
 * quota one of 500 producing connections was served ~20 requests back to back while
 * others waited seconds (ack p99 3-5 s). Kafka mutes a connection from one request until
 * its response is sent; this is the same fairness, by bytes. With rawload's 500
 * connections the quota evened requests served per connection from 3-64 to 14-32 in 6 s
 * (ack p99 3.3 s to 1.3 s); 64 KiB was as fair but cost ~20% of the throughput, 256 KiB
 * was within the noise of no quota.
 */
const READ_BYTES_PER_TURN = 256 * 1024;

/** Kafka's sasl.server.max.receive.size default: the largest frame before SASL authentication. */
const SASL_SERVER_MAX_RECEIVE_BYTES = 524288;

/** How long a graceful close waits for written bytes to leave before destroying the socket. */
const GRACEFUL_CLOSE_MS = 1000;

/**
 * The event-loop turn, counted lazily: a setImmediate is queued only in turns that read.
 * Connections that used their quota resume together in the next turn's check phase.
 */
let turn = 0;
let turnCounting = false;
/** Date.now() when the current turn's first read came: the activity stamp of its reads. */
let turnStartedMs = 0;
const yielded: Connection[] = [];
function currentTurn(): number {
  if (!turnCounting) {
    turnCounting = true;
    turnStartedMs = Date.now();
    setImmediate(nextTurn);
  }
  return turn;
}
function nextTurn(): void {
  turn++;
  turnCounting = false;
  for (const connection of yielded.splice(0)) connection.endYield();
}

interface Slot {
  done: boolean;
  action: ResponseAction | null;
  /** Started only after every earlier request completed; nothing starts while it runs. */
  exclusive: boolean;
  /** Request bytes counted against the request budget until it completes. */
  frameBytes: number;
}

export class Connection {
  readonly info: ConnectionInfo;
  private readonly decoder: FrameDecoder;
  private readonly slots: Slot[] = [];
  private closed = false;
  /** Set once a request asked to close or framing failed: no more frames are taken. */
  private closing = false;
  private taking = false;
  /** Requests started and not yet completed, and how many of them are exclusive. */
  private pending = 0;
  private pendingExclusive = 0;
  /** A frame taken from the decoder that must wait for the requests before it (Ordering). */
  private waitingFrame: Buffer | null = null;
  private waitingForMemory = false;
  private readonly resumeOnMemory = (): void => {
    this.waitingForMemory = false;
    this.takeFrames();
  };
  /** Bytes read in `readTurn`; past READ_BYTES_PER_TURN reading pauses until the next turn. */
  private readBytes = 0;
  private readTurn = -1;
  private yielding = false;
  /** Quota muting: no frame is taken before this time (Date.now() ms). */
  private mutedUntilMs = 0;
  private unmuteTimer: NodeJS.Timeout | null = null;
  /** Counters for tests and metrics: times this connection was muted for a quota. */
  throttledCount = 0;
  /** Last read or write (Date.now() ms) and the idle check's timer (see Idle above). */
  private lastActiveMs = Date.now();
  private idleTimer: NodeJS.Timeout | null = null;
  /** A response completed during the dispatch loop; flushed when the loop ends. */
  private flushPending = false;
  private readonly closeCallbacks: (() => void)[] = [];
  private readonly logger: Logger;
  /** Counters for tests and metrics. */
  requestsReceived = 0;
  responsesSent = 0;
  maxInflightSeen = 0;

  private readonly socket: Socket;
  /**
   * TLS sockets write large flushes as pieces, one socket write at a time (see write); the
   * pieces not yet handed to the socket, their bytes, and whether one is being written.
   */
  private readonly writeInPieces: boolean;
  private readonly pieces: Piece[] = [];
  private pieceBytes = 0;
  private pieceInFlight = false;

  /** `adopted`: an accepted socket, reading into the shared buffer where it can (shared-read-buffer.ts). */
  constructor(adopted: AdoptedSocket, info: ConnectionInfo, private readonly options: ConnectionOptions) {
    const socket = adopted.socket;
    this.socket = socket;
    this.writeInPieces = adopted.encrypted === true;
    this.info = info;
    this.decoder = new FrameDecoder(options.maxFrameBytes, (size) => framePool.take(size));
    this.logger = options.logger.child({ connection: info.id, remote: `${info.remoteAddress}:${info.remotePort}` });
    socket.setNoDelay(true);
    if (adopted.sharedReads) adopted.setReader((chunk) => this.onData(chunk, true));
    else socket.on('data', (chunk: Buffer) => this.onData(chunk, false));
    socket.on('drain', () => this.takeFrames());
    socket.on('end', () => this.close('client closed the connection', 'debug'));
    socket.on('error', (err) => this.close(`socket error: ${err.message}`, 'debug'));
    socket.on('close', () => this.close('socket closed', 'debug'));
    if (options.idleTimeoutMs > 0) this.armIdleCheck(options.idleTimeoutMs);
  }

  /** Closes the connection once it has been idle for connections.max.idle.ms (see Idle above). */
  private armIdleCheck(delayMs: number): void {
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      if (this.closed) return;
      const { idleTimeoutMs } = this.options;
      const idleMs = Date.now() - this.lastActiveMs;
      // A request in flight (a long-poll Fetch) is activity the socket cannot see.
      if (this.slots.length > 0) this.armIdleCheck(idleTimeoutMs);
      else if (idleMs >= idleTimeoutMs) this.close(`idle for more than connections.max.idle.ms (${idleTimeoutMs} ms)`, 'info');
      else this.armIdleCheck(idleTimeoutMs - idleMs);
    }, delayMs);
    this.idleTimer.unref();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get inflightRequests(): number {
    return this.slots.length;
  }

  onClose(callback: () => void): void {
    if (this.closed) callback();
    else this.closeCallbacks.push(callback);
  }

  /**
   * Closes the connection; responses not yet written are dropped. `graceful` lets bytes
   * already written reach the client first (FIN after them), bounded by a short timer.
   * Safe to call more than once.
   */
  close(reason: string, level: 'debug' | 'info' | 'warn' = 'info', graceful = false): void {
    if (this.closed) return;
    this.closed = true;
    this.closing = true;
    this.logger[level]('Closing connection', { reason, listener: this.info.listenerName, inflight: this.slots.length, client: this.info.clientSoftwareName });
    let frameBytes = 0;
    const unsent: ((sent: boolean) => void)[] = [];
    for (const slot of this.slots) {
      if (!slot.done) frameBytes += slot.frameBytes;
      else if (slot.action?.type === 'send' && slot.action.written !== undefined) unsent.push(slot.action.written);
    }
    this.slots.length = 0;
    this.waitingFrame = null;
    this.options.requestMemory?.give(frameBytes);
    this.options.requestMemory?.forget(this.resumeOnMemory);
    this.info.responseMemory?.close();
    if (this.unmuteTimer !== null) clearTimeout(this.unmuteTimer);
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    const pieces = this.pieces.splice(0);
    this.pieceBytes = 0;
    if (graceful && !this.socket.destroyed) {
      // Responses still queued in pieces go before the FIN (node:tls may coalesce them now).
      for (const piece of pieces) this.socket.write(piece.bytes, piece.written);
      this.socket.end();
      setTimeout(() => this.socket.destroy(), GRACEFUL_CLOSE_MS).unref();
    } else {
      this.socket.destroy();
      const dropped = new Error('connection closed before the response was written');
      for (const piece of pieces) piece.written?.(dropped);
    }
    for (const callback of this.closeCallbacks.splice(0)) callback();
    // Responses completed but never handed to the socket: nothing will read their chunks.
    for (const written of unsent) written(false);
  }

  /** `borrowed`: the bytes are the shared read buffer's, valid only until this returns. */
  private onData(chunk: Buffer, borrowed: boolean): void {
    if (this.closing) return;
    // Until SASL authentication completes, frames are SASL tokens: Kafka reads them with
    // sasl.server.max.receive.size (512 KiB), so an unauthenticated client cannot make the
    // broker buffer a 100 MiB frame.
    const authenticator = this.info.authenticator;
    if (authenticator !== undefined) {
      const unauthenticated = !authenticator.complete;
      this.decoder.maxFrameBytes = unauthenticated ? Math.min(SASL_SERVER_MAX_RECEIVE_BYTES, this.options.maxFrameBytes) : this.options.maxFrameBytes;
      this.decoder.limitName = unauthenticated ? 'sasl.server.max.receive.size before authentication' : 'socket.request.max.bytes';
    }
    this.decoder.push(chunk, borrowed);
    const now = currentTurn();
    this.lastActiveMs = turnStartedMs;
    if (now !== this.readTurn) {
      this.readTurn = now;
      this.readBytes = 0;
    }
    this.readBytes += chunk.length;
    if (this.readBytes >= READ_BYTES_PER_TURN && !this.yielding) {
      this.yielding = true;
      yielded.push(this);
    }
    // A read that completed no frame changes nothing takeFrames looks at, unless reading
    // must pause for the turn. Over TLS most reads are one small TLS record (librdkafka
    // writes each piece of a request with its own SSL_write), so this is the common case.
    if (!this.decoder.hasReady && !this.yielding) return;
    this.takeFrames(); // pauses reading when yielding
  }

  /** The next turn has come: reading may resume (called by nextTurn). */
  endYield(): void {
    this.yielding = false;
    this.updateReading();
  }

  /** Dispatches buffered frames while there is room in flight, then decides on reading. */
  private takeFrames(): void {
    // A synchronous processor completes a request inside dispatch, whose flush would call
    // back here: the guard keeps that from nesting one stack frame per pipelined request.
    if (this.taking) return;
    this.taking = true;
    try {
      this.takeFramesLoop();
    } finally {
      this.taking = false;
    }
    if (this.flushPending) {
      this.flushPending = false;
      this.flush(); // takes more frames itself if the flush made room
      return;
    }
    this.updateReading();
  }

  private takeFramesLoop(): void {
    const { processor, requestMemory } = this.options;
    while (!this.closing && this.mutedUntilMs === 0 && this.slots.length < this.options.maxInflightRequests && !this.writeBacklogged) {
      if (requestMemory?.exhausted) {
        if (!this.waitingForMemory) {
          this.waitingForMemory = true;
          requestMemory.whenAvailable(this.resumeOnMemory);
        }
        break;
      }
      const frame = this.waitingFrame ?? this.decoder.next();
      this.waitingFrame = null;
      if (frame === null) break;
      if (frame instanceof FrameError) {
        this.closing = true;
        this.enqueueClose(frame.message);
        break;
      }
      const exclusive = processor.mayPipeline !== undefined && !processor.mayPipeline(frame);
      if (this.pendingExclusive > 0 || (exclusive && this.pending > 0)) {
        this.waitingFrame = frame;
        break;
      }
      this.dispatch(frame, exclusive);
    }
  }

  private dispatch(frame: Buffer, exclusive: boolean): void {
    this.requestsReceived++;
    const slot: Slot = { done: false, action: null, exclusive, frameBytes: frame.length };
    this.slots.push(slot);
    this.pending++;
    if (exclusive) this.pendingExclusive++;
    this.options.requestMemory?.take(frame.length);
    if (this.slots.length > this.maxInflightSeen) this.maxInflightSeen = this.slots.length;
    let result: ResponseAction | Promise<ResponseAction>;
    try {
      result = this.options.processor.process(frame, this.info);
    } catch (err) {
      this.complete(slot, { type: 'close', reason: `request processor threw: ${(err as Error)?.stack ?? String(err)}` });
      return;
    }
    if (isPromise(result)) {
      result.then(
        (action) => this.complete(slot, action),
        (err: unknown) => this.complete(slot, { type: 'close', reason: `request processor failed: ${(err as Error)?.stack ?? String(err)}` }),
      );
    } else {
      this.complete(slot, result);
    }
  }

  private enqueueClose(reason: string): void {
    this.slots.push({ done: true, action: { type: 'close', reason }, exclusive: false, frameBytes: 0 });
    this.flush();
  }

  private complete(slot: Slot, action: ResponseAction): void {
    if (this.closed) {
      // Completed after the connection closed: never written.
      if (action.type === 'send') action.written?.(false);
      return;
    }
    slot.done = true;
    slot.action = action;
    this.pending--;
    if (slot.exclusive) this.pendingExclusive--;
    this.options.requestMemory?.give(slot.frameBytes);
    if (action.type === 'close' || (action.type === 'send' && action.closeAfter !== undefined)) this.closing = true;
    if (this.slots[0] !== slot) return;
    if (this.taking) this.flushPending = true;
    else this.flush();
  }

  /** Writes every completed response at the head of the queue, in order. */
  private flush(): void {
    if (this.closed) return;
    let closeReason: string | null = null;
    let responses: (readonly Buffer[])[] | null = null;
    let written: ((sent: boolean) => void)[] | null = null;
    let total = 0;
    while (this.slots.length > 0 && this.slots[0]!.done) {
      const action = this.slots.shift()!.action!;
      if (action.type === 'close') {
        closeReason = action.reason;
        break;
      }
      if (action.throttleMs !== undefined && action.throttleMs > 0) this.mute(action.throttleMs);
      if (action.type === 'none') continue;
      (responses ??= []).push(action.chunks);
      if (action.written !== undefined) (written ??= []).push(action.written);
      total += 4;
      for (const chunk of action.chunks) total += chunk.length;
      this.responsesSent++;
      if (action.closeAfter !== undefined) {
        closeReason = action.closeAfter;
        break;
      }
    }
    if (responses !== null) {
      const heldBytes = this.info.responseMemory?.detachForWrite() ?? 0;
      const callbacks = written;
      // One callback on the flush's last write: it runs once every byte of the flush has left
      // for the kernel, or the socket failed (Node runs a write's callback only once libuv is
      // done with its buffers, on success, error or destroy).
      this.write(responses, total, heldBytes > 0 || callbacks !== null ? (err) => {
        if (heldBytes > 0) this.info.responseMemory?.releaseWritten(heldBytes, err != null);
        if (callbacks !== null) for (const callback of callbacks) callback(err == null);
      } : undefined);
    }
    if (closeReason !== null) {
      // Let the responses written above reach the client before the connection goes.
      this.close(closeReason, 'warn', true);
      return;
    }
    if (!this.closing) this.takeFrames();
  }

  /**
   * Writes size-prefixed responses: copied into one buffer when small, else by reference.
   * `written` runs once the last byte has left for the kernel (or the socket was destroyed).
   */
  private write(responses: (readonly Buffer[])[], total: number, written?: (err?: Error | null) => void): void {
    this.lastActiveMs = Date.now();
    if (this.writeInPieces && (total > COPY_LIMIT || this.pieceInFlight || this.pieces.length > 0)) {
      this.queuePieces(responses, written);
      this.writeNextPiece();
      return;
    }
    if (total <= COPY_LIMIT) {
      const out = Buffer.allocUnsafe(total);
      let at = 0;
      for (const chunks of responses) {
        const sizeAt = at;
        at += 4;
        for (const chunk of chunks) at += chunk.copy(out, at);
        out.writeInt32BE(at - sizeAt - 4, sizeAt);
      }
      this.socket.write(out, written);
      return;
    }
    this.socket.cork();
    // The last write carries the callback: it completes after every write before it.
    let last: Buffer | null = null;
    for (const chunks of responses) {
      let size = 0;
      for (const chunk of chunks) size += chunk.length;
      const prefix = Buffer.allocUnsafe(4);
      prefix.writeInt32BE(size, 0);
      if (last !== null) this.socket.write(last);
      last = prefix;
      for (const chunk of chunks) {
        if (chunk.length === 0) continue;
        this.socket.write(last);
        last = chunk;
      }
    }
    this.socket.write(last!, written);
    this.socket.uncork();
  }

  /**
   * The socket's write buffer is above its high-water mark, or (TLS) pieces not yet handed
   * to the socket are: no frame is taken and the socket is not read.
   */
  private get writeBacklogged(): boolean {
    return this.socket.writableNeedDrain || (this.pieceBytes > 0 && this.pieceBytes >= this.socket.writableHighWaterMark);
  }

  /**
   * Queues a flush for a TLS socket as pieces. Why: node:tls encrypts a write with one
   * SSL_write, and a writev (what cork() and the socket's own buffering produce) is first
   * copied into one new buffer of its whole size: a perf profile of SSL consume put that copy
   * at 4% of the broker's CPU (of 11% in memmove; the other two copies are OpenSSL's).
   * A piece is one buffer, written only once the previous one has been written, so the
   * socket never holds two and never coalesces: OpenSSL encrypts record data straight from
   * the log's buffers. Runs of small chunks (size prefixes, headers) are copied into one
   * piece, so a piece is a few TLS records, not one per header.
   */
  private queuePieces(responses: (readonly Buffer[])[], written?: (err?: Error | null) => void): void {
    const run: Buffer[] = [];
    let runBytes = 0;
    const push = (bytes: Buffer) => {
      this.pieces.push({ bytes, written: undefined });
      this.pieceBytes += bytes.length;
    };
    const endRun = () => {
      if (runBytes === 0) return;
      const out = Buffer.allocUnsafe(runBytes);
      let at = 0;
      for (const chunk of run) at += chunk.copy(out, at);
      push(out);
      run.length = 0;
      runBytes = 0;
    };
    for (const chunks of responses) {
      let size = 0;
      for (const chunk of chunks) size += chunk.length;
      const prefix = Buffer.allocUnsafe(4);
      prefix.writeInt32BE(size, 0);
      run.push(prefix);
      runBytes += 4;
      for (const chunk of chunks) {
        if (chunk.length < TLS_PIECE_MIN_BYTES) {
          if (chunk.length > 0) {
            run.push(chunk);
            runBytes += chunk.length;
          }
          continue;
        }
        endRun();
        for (let at = 0; at < chunk.length; at += TLS_PIECE_MAX_BYTES) push(chunk.subarray(at, Math.min(chunk.length, at + TLS_PIECE_MAX_BYTES)));
      }
    }
    endRun();
    this.pieces[this.pieces.length - 1]!.written = written;
  }

  /** Hands the next piece to the socket once the one before it has been written. */
  private writeNextPiece(): void {
    if (this.pieceInFlight || this.closed) return;
    const piece = this.pieces.shift();
    if (piece === undefined) return;
    this.pieceInFlight = true;
    this.pieceBytes -= piece.bytes.length;
    this.lastActiveMs = Date.now();
    this.socket.write(piece.bytes, (err) => {
      this.pieceInFlight = false;
      piece.written?.(err);
      if (err !== null && err !== undefined) return; // the socket's 'error' closes the connection
      if (this.pieces.length > 0) this.writeNextPiece();
      else this.takeFrames(); // the backlog is gone: as on 'drain'
    });
  }

  /** Takes no request for `throttleMs` (quota throttling); extends a mute already running. */
  private mute(throttleMs: number): void {
    this.throttledCount++;
    const untilMs = Date.now() + throttleMs;
    if (untilMs <= this.mutedUntilMs) return;
    this.mutedUntilMs = untilMs;
    if (this.unmuteTimer !== null) clearTimeout(this.unmuteTimer);
    this.unmuteTimer = setTimeout(() => {
      this.unmuteTimer = null;
      this.mutedUntilMs = 0;
      this.takeFrames();
    }, throttleMs);
    this.updateReading();
  }

  private updateReading(): void {
    if (this.closed) return;
    // A frame waiting for the requests before it, or for the request budget, means the
    // connection takes nothing more: reading on would only buffer frames in the decoder.
    const room = this.slots.length < this.options.maxInflightRequests && this.waitingFrame === null && !this.waitingForMemory;
    const canRead = !this.closing && room && !this.yielding && this.mutedUntilMs === 0 && !this.writeBacklogged;
    if (canRead) {
      if (this.socket.isPaused()) this.socket.resume();
    } else if (!this.socket.isPaused()) {
      this.socket.pause();
    }
  }
}

function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown })?.then === 'function';
}
