/**
 * Splits a TCP byte stream into Kafka request frames.
 *
 *   frame := size int32 (big-endian, bytes that follow) | request bytes (size bytes)
 *
 * A size below 0 or above `socket.request.max.bytes` is a protocol violation (Kafka's
 * InvalidReceiveException): `next()` then reports a FrameError, after the frames that came
 * before it, and the connection must be closed, since nothing after a bad size can be
 * framed again. Bytes after a bad size are ignored. A size of 0 is framed here and
 * rejected by the request decoder (a request needs a header).
 *
 * Frames are pulled, not pushed: the connection takes frames only while it has room for
 * more requests in flight, and stops reading from the socket while it has none, so what
 * waits here is at most one read's worth of frames plus one partial frame.
 *
 * Copies: a chunk pushed as `borrowed` is memory the caller reuses as soon as `push`
 * returns (the socket's shared read buffer, see shared-read-buffer.ts), so `push` copies
 * every byte it keeps, once, straight into the buffer of the frame it belongs to. That
 * buffer is taken whole as soon as the size prefix is known (from the allocator, normally
 * the frame pool: frame-pool.ts), as Kafka's NetworkReceive does, up to
 * PREALLOCATE_MAX_BYTES; a larger frame is gathered from copies of the bytes as they
 * arrive and joined when complete, so a client announcing a huge frame costs only what it
 * actually sends. A chunk the caller hands over (not borrowed) is kept: a frame that lies
 * inside it is returned as a slice of it, without a copy. A caller that can choose where
 * the socket reads (Node's `onread` with a buffer function) may read the rest of a
 * preallocated frame straight into it (`inPlaceTarget`/`filledInPlace`): no copy.
 */
import { POOLED_FRAME_MAX_BYTES } from './frame-pool.js';

export class FrameError extends Error {
  readonly code = 'TRIB_ERR_FRAME_SIZE';
  constructor(message: string) {
    super(message);
    this.name = 'FrameError';
  }
}

/** Returns an uninitialised buffer of exactly `size` bytes for a frame. */
export type FrameAllocator = (size: number) => Buffer;

const SIZE_PREFIX_BYTES = 4;
/** Frames up to this size get their whole buffer when their size prefix arrives. */
const PREALLOCATE_MAX_BYTES = POOLED_FRAME_MAX_BYTES;
const EMPTY = Buffer.alloc(0);

export class FrameDecoder {
  /** Complete frames (and at most one FrameError, last) not yet taken by `next()`. */
  private ready: (Buffer | FrameError)[] = [];
  private readyHead = 0;
  /** Bytes of the ready frames, with their size prefixes. */
  private readyBytes = 0;
  /** Set once a bad size was read: later bytes are ignored. */
  private failed = false;

  /** The size prefix being read when it arrived split over chunks. */
  private readonly prefix = Buffer.alloc(SIZE_PREFIX_BYTES);
  private prefixFilled = 0;
  /** Size of the frame being assembled, or -1 while a size prefix is being read. */
  private frameSize = -1;
  private filled = 0;
  /** The frame's own buffer (preallocated), or null while `parts` gathers a large frame. */
  private frame: Buffer | null = null;
  private parts: Buffer[] = [];

  /** The config that set maxFrameBytes, named in the error. */
  limitName = 'socket.request.max.bytes';

  constructor(
    /** Mutable: a SASL connection accepts smaller frames until it is authenticated. */
    public maxFrameBytes: number,
    private readonly allocate: FrameAllocator = Buffer.allocUnsafeSlow,
  ) {}

  /** Bytes received and not yet returned by `next()` (size prefixes included). */
  get bufferedBytes(): number {
    return this.readyBytes + this.prefixFilled + (this.frameSize >= 0 ? SIZE_PREFIX_BYTES + this.filled : 0);
  }

  /** `borrowed`: the chunk's memory is reused once this returns, so nothing of it is kept. */
  push(chunk: Buffer, borrowed = false): void {
    const end = chunk.length;
    let at = 0;
    while (at < end && !this.failed) {
      if (this.frameSize < 0) {
        let size: number;
        if (this.prefixFilled === 0 && end - at >= SIZE_PREFIX_BYTES) {
          size = chunk.readInt32BE(at);
          at += SIZE_PREFIX_BYTES;
        } else {
          const n = Math.min(SIZE_PREFIX_BYTES - this.prefixFilled, end - at);
          chunk.copy(this.prefix, this.prefixFilled, at, at + n);
          at += n;
          this.prefixFilled += n;
          if (this.prefixFilled < SIZE_PREFIX_BYTES) break;
          this.prefixFilled = 0;
          size = this.prefix.readInt32BE(0);
        }
        if (size < 0 || size > this.maxFrameBytes) {
          this.failed = true;
          this.ready.push(new FrameError(size < 0
            ? `Invalid request size ${size}: a frame size must not be negative`
            : `Request size ${size} is larger than ${this.limitName} (${this.maxFrameBytes})`));
          break;
        }
        if (size === 0) {
          this.enqueue(EMPTY);
          continue;
        }
        if (!borrowed && end - at >= size) {
          this.enqueue(chunk.subarray(at, at + size));
          at += size;
          continue;
        }
        this.frameSize = size;
        this.filled = 0;
        this.frame = size <= PREALLOCATE_MAX_BYTES ? this.allocate(size) : null;
      }
      const n = Math.min(this.frameSize - this.filled, end - at);
      if (this.frame !== null) {
        chunk.copy(this.frame, this.filled, at, at + n);
      } else {
        const part = chunk.subarray(at, at + n);
        this.parts.push(borrowed ? Buffer.from(part) : part);
      }
      at += n;
      this.filled += n;
      if (this.filled === this.frameSize) {
        let frame = this.frame;
        if (frame === null) {
          frame = Buffer.concat(this.parts, this.frameSize);
          this.parts = [];
        }
        this.frame = null;
        this.frameSize = -1;
        this.filled = 0;
        this.enqueue(frame);
      }
    }
  }

  /**
   * Where the next socket read can land with no copy: the unfilled rest of the frame being
   * assembled in its own (preallocated) buffer, or null (between frames, a large frame
   * gathered in parts, or after a bad size). Bytes read into it are reported with
   * `filledInPlace`, not `push`.
   */
  inPlaceTarget(): Buffer | null {
    if (this.frame === null || this.failed) return null;
    return this.frame.subarray(this.filled);
  }

  /** `n` bytes were read straight into the buffer `inPlaceTarget()` returned. */
  filledInPlace(n: number): void {
    const frame = this.frame;
    if (frame === null || n > this.frameSize - this.filled) throw new Error(`${n} bytes read in place, but the frame being assembled has ${frame === null ? 'no buffer' : `${this.frameSize - this.filled} bytes left`}`);
    this.filled += n;
    if (this.filled === this.frameSize) {
      this.frame = null;
      this.frameSize = -1;
      this.filled = 0;
      this.enqueue(frame);
    }
  }

  /** A frame (or a FrameError) is waiting for `next()`. */
  get hasReady(): boolean {
    return this.readyHead !== this.ready.length;
  }

  /**
   * The next complete frame's request bytes (without the size prefix), null when more
   * bytes are needed, or a FrameError for an invalid size.
   */
  next(): Buffer | null | FrameError {
    if (this.readyHead === this.ready.length) return null;
    const item = this.ready[this.readyHead]!;
    this.ready[this.readyHead++] = EMPTY;
    if (this.readyHead === this.ready.length) {
      this.ready.length = 0;
      this.readyHead = 0;
    }
    if (!(item instanceof FrameError)) this.readyBytes -= SIZE_PREFIX_BYTES + item.length;
    return item;
  }

  private enqueue(frame: Buffer): void {
    this.ready.push(frame);
    this.readyBytes += SIZE_PREFIX_BYTES + frame.length;
  }
}
