/**
 * The process-wide budget of read-aheads (LogSegment.readAhead): bytes read from a segment
 * before a Fetch asks for them, for a consumer's next Fetch while it is still busy with the
 * response before it. At most READ_AHEAD_MAX_BYTES are held across the process. When they
 * are all taken, a read-ahead older than READ_AHEAD_MAX_AGE_MS is dropped for a new one,
 * else the new one is not made: with many consumers reading backlogs at once, read-aheads
 * dropped before use would be reads made twice, so the ones made stay until used or old.
 * One that no Fetch came for within READ_AHEAD_MAX_AGE_MS is dropped by a timer, so an idle
 * broker holds none.
 */
export const READ_AHEAD_MAX_BYTES = 16 * 1024 * 1024;
/** A consumer that has not asked for its read-ahead after this long is not coming for it soon. */
export const READ_AHEAD_MAX_AGE_MS = 1000;

/** What holds one read-ahead at a time (a segment); dropping it calls readAheadReleased. */
export interface ReadAheadHolder {
  dropReadAhead(): void;
}

interface Held {
  readonly holder: ReadAheadHolder;
  readonly bytes: number;
  readonly madeAtMs: number;
}

/** Read-aheads held now, oldest first, and their bytes. */
const held: Held[] = [];
let heldBytes = 0;
/** Armed while any read-ahead is held; never keeps the process alive. */
let expiry: NodeJS.Timeout | undefined;

/**
 * Makes room for a read-ahead of `length` bytes, dropping read-aheads older than
 * READ_AHEAD_MAX_AGE_MS (oldest first) while the budget is short; whether it fits now.
 */
export function roomForReadAhead(length: number, nowMs: number): boolean {
  while (held.length > 0 && heldBytes + length > READ_AHEAD_MAX_BYTES && nowMs - held[0]!.madeAtMs > READ_AHEAD_MAX_AGE_MS) held[0]!.holder.dropReadAhead();
  return heldBytes + length <= READ_AHEAD_MAX_BYTES;
}

/** `holder` now holds a read-ahead of `bytes` bytes, made at `nowMs` (performance.now()). */
export function readAheadTaken(holder: ReadAheadHolder, bytes: number, nowMs: number): void {
  held.push({ holder, bytes, madeAtMs: nowMs });
  heldBytes += bytes;
  expiry ??= setTimeout(expire, READ_AHEAD_MAX_AGE_MS).unref();
}

/** `holder` let go of its read-ahead (used, replaced, dropped, expired). */
export function readAheadReleased(holder: ReadAheadHolder): void {
  const i = held.findIndex((h) => h.holder === holder);
  if (i < 0) return;
  heldBytes -= held[i]!.bytes;
  held.splice(i, 1);
}

function expire(): void {
  expiry = undefined;
  const nowMs = performance.now();
  while (held.length > 0 && nowMs - held[0]!.madeAtMs > READ_AHEAD_MAX_AGE_MS) held[0]!.holder.dropReadAhead();
  if (held.length > 0) expiry = setTimeout(expire, READ_AHEAD_MAX_AGE_MS).unref();
}
