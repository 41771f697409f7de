/**
 * Splits a TCP byte stream into Kafka request frames.
 *
 *   frame := size int32 (big-endian, bytes that follow) | request bytes (size bytes)
 *
 * A size below 0 or above `socket.request.max.bytes` is a protocol violation (Kafka's
 * InvalidReceiveException): `next()` then reports a FrameError and the connection must be
 * closed, since nothing after a bad size can be framed again. A size of 0 is framed here
 * and rejected by the request decoder (a request needs a header).
 *
 * Frames are pulled, not pushed: the connection takes frames only while it has room for
 * more requests in flight, so bytes the socket already delivered wait here (at most one
 * read chunk plus one partial frame) while reading from the socket is paused.
 * A frame that lies inside one received chunk is returned as a slice of it (no copy);
 * a frame spread over several chunks is copied once into its own buffer.
 *
 * A chunk pushed as `borrowed` is memory the caller reuses once it regains control (the
 * socket's shared read buffer, see shared-read-buffer.ts): frames taken from it are
 * always copied into a buffer of their own, and `detach()` copies whatever of it is left
 * unconsumed before the caller lets go of it.
 */
export class FrameError extends Error {
  readonly code = 'TRIB_ERR_FRAME_SIZE';
  constructor(message: string) {
    super(message);
    this.name = 'FrameError';
  }
}

const SIZE_PREFIX_BYTES = 4;

export class FrameDecoder {
  private chunks: Buffer[] = [];
  /** The last chunk pushed is borrowed (only ever the last: detach() runs before the next push). */
  private lastBorrowed = false;
  /** Unconsumed bytes across `chunks` (the first chunk may be partly consumed). */
  private buffered = 0;
  /** Bytes of chunks[0] already consumed. */
  private headOffset = 0;

  constructor(private readonly maxFrameBytes: number) {}

  get bufferedBytes(): number {
    return this.buffered;
  }

  push(chunk: Buffer, borrowed = false): void {
    if (chunk.length === 0) return;
    if (this.lastBorrowed) this.detach();
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    this.lastBorrowed = borrowed;
  }

  /** Replaces the unconsumed part of a borrowed chunk with a copy the decoder owns. */
  detach(): void {
    if (!this.lastBorrowed) return;
    this.lastBorrowed = false;
    const last = this.chunks.length - 1;
    if (last < 0) return;
    const start = last === 0 ? this.headOffset : 0;
    const chunk = this.chunks[last]!;
    const copy = Buffer.allocUnsafeSlow(chunk.length - start);
    chunk.copy(copy, 0, start);
    this.chunks[last] = copy;
    if (last === 0) this.headOffset = 0;
  }

  /**
   * The next complete frame's request bytes (without the size prefix), null when more
   * bytes are needed, or a FrameError for an invalid size.
   */
  next(): Buffer | null | FrameError {
    if (this.buffered < SIZE_PREFIX_BYTES) return null;
    const size = this.peekInt32();
    if (size < 0 || size > this.maxFrameBytes) {
      return new FrameError(size < 0
        ? `Invalid request size ${size}: a frame size must not be negative`
        : `Request size ${size} is larger than socket.request.max.bytes (${this.maxFrameBytes})`);
    }
    if (this.buffered < SIZE_PREFIX_BYTES + size) return null;
    this.consume(SIZE_PREFIX_BYTES);
    return this.take(size);
  }

  private peekInt32(): number {
    const head = this.chunks[0]!;
    if (head.length - this.headOffset >= SIZE_PREFIX_BYTES) return head.readInt32BE(this.headOffset);
    const bytes = Buffer.allocUnsafe(SIZE_PREFIX_BYTES);
    let filled = 0;
    let offset = this.headOffset;
    for (const chunk of this.chunks) {
      const n = Math.min(chunk.length - offset, SIZE_PREFIX_BYTES - filled);
      chunk.copy(bytes, filled, offset, offset + n);
      filled += n;
      offset = 0;
      if (filled === SIZE_PREFIX_BYTES) break;
    }
    return bytes.readInt32BE(0);
  }

  private consume(n: number): void {
    this.buffered -= n;
    while (n > 0) {
      const head = this.chunks[0]!;
      const available = head.length - this.headOffset;
      if (n < available) {
        this.headOffset += n;
        return;
      }
      n -= available;
      this.chunks.shift();
      this.headOffset = 0;
    }
  }

  private take(size: number): Buffer {
    const head = this.chunks[0];
    if (size === 0) return Buffer.alloc(0);
    if (head !== undefined && head.length - this.headOffset >= size && !(this.lastBorrowed && this.chunks.length === 1)) {
      const frame = head.subarray(this.headOffset, this.headOffset + size);
      this.consume(size);
      return frame;
    }
    // Its own memory (not a pool slice): the read cache may keep views of it.
    const frame = Buffer.allocUnsafeSlow(size);
    let filled = 0;
    while (filled < size) {
      const chunk = this.chunks[0]!;
      const n = Math.min(chunk.length - this.headOffset, size - filled);
      chunk.copy(frame, filled, this.headOffset, this.headOffset + n);
      filled += n;
      this.consume(n);
    }
    return frame;
  }
}
