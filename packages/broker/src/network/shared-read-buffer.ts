/**
 * Reads from every client socket into one shared buffer, instead of a new one per read.
 *
 * By default Node allocates a fresh ArrayBuffer for every socket read (64 KiB, then a copy
 * of what was read into one of the exact size). At a few hundred MB/s of requests that is
 * a few hundred MB/s of external memory, and V8 starts a full GC each time external memory
 * has grown by 64 MB: in the 500-connection benchmark that was dozens of mark-compacts a
 * second on a 10 MB heap. Node's `onread` option makes a socket read into a buffer of the
 * caller's instead; all reads happen on the one event-loop thread and each read's callback
 * runs before the next read, so one buffer serves every connection. The callback's bytes
 * are only valid until it returns: the connection frames them at once and copies what it
 * keeps (FrameDecoder's borrowed chunks).
 *
 * `onread` is only offered when a socket is created, and net.Server creates the sockets it
 * accepts itself. So the server is created with `pauseOnConnect` (nothing is read yet),
 * and the accepted socket's handle is moved into a new Socket created with `onread`; the
 * accepted Socket object, left without a handle, is destroyed, which only emits its
 * 'close' and keeps net.Server's connection count right. `_handle` is not public API:
 * if it is missing (another Node version), the accepted socket is used as it is and
 * reads allocate as before.
 */
import { Socket } from 'node:net';

/** Receives each read; `chunk` is a view of the shared buffer, valid only during the call. */
export type ReadCallback = (chunk: Buffer) => void;

const READ_BUFFER_BYTES = 64 * 1024;
const shared = Buffer.allocUnsafeSlow(READ_BUFFER_BYTES);

export interface AdoptedSocket {
  readonly socket: Socket;
  /** False when the socket reads as Node does by default (bytes come as 'data' events). */
  readonly sharedReads: boolean;
  /** A TLS socket: large responses are written in pieces, one write at a time (connection.ts). */
  readonly encrypted?: boolean;
  /** Sets where reads go; reads that come before are dropped (none do: see adoptAccepted). */
  setReader(callback: ReadCallback): void;
}

/**
 * Moves an accepted, paused socket onto the shared read buffer. Reading starts when the
 * returned socket is created, so the reader must be set in the same synchronous turn.
 */
export function adoptAccepted(accepted: Socket): AdoptedSocket {
  const handle = (accepted as unknown as { _handle?: unknown })._handle;
  if (handle === undefined || handle === null) {
    return { socket: accepted, sharedReads: false, setReader: () => {} };
  }
  let reader: ReadCallback | null = null;
  (accepted as unknown as { _handle: unknown })._handle = null;
  accepted.destroy();
  const socket = new Socket({
    handle: handle as never,
    readable: true,
    writable: true,
    onread: {
      buffer: shared,
      callback: (bytes: number, buf: Uint8Array) => {
        reader?.(Buffer.from(buf.buffer, buf.byteOffset, bytes));
      },
    },
  } as ConstructorParameters<typeof Socket>[0]);
  return { socket, sharedReads: true, setReader: (callback) => { reader = callback; } };
}
