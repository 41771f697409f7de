/**
 * Assertions of invariants that must never break: offsets only move forward, the high
 * watermark stays between the log start and end offsets, index entries increase, epochs
 * and generations only grow. Shared by every package (dependencies point protocol ←
 * storage ← broker) so that a failed one looks the same everywhere.
 *
 * They stay on in production, as in TigerBeetle: a broken invariant found at once costs
 * one failed request; found later it costs acknowledged data. Each call is a comparison of
 * numbers and allocates nothing; its message is a constant naming the invariant, and the
 * values are quoted only when it fires.
 *
 * An assertion is about Tributary's own state, never about input: bytes from a client, a
 * peer or the disk are validated and answered with error codes (or truncated, for a torn
 * log), never asserted. A failed assertion is a bug.
 *
 * When one fires it throws AssertionError (code TRIB_ERR_ASSERTION). Inside a request the
 * dispatcher logs it with the request and answers UNKNOWN_SERVER_ERROR (or closes the
 * connection when the API has no error response; a Produce append failing in storage is
 * answered KAFKA_STORAGE_ERROR on its partition, as an I/O error), and the broker keeps
 * serving everyone else; inside a timer or background task the task's error handler logs it. The state it
 * guarded is suspect: a storage assertion on the append path leaves that partition's log
 * as it was before the write (every one is checked before the bytes are written), and the
 * operator should treat the log line like a log directory I/O error.
 */

/** Stable code of every failed assertion, for logs and alerts. */
export const ASSERTION_ERROR_CODE = 'TRIB_ERR_ASSERTION';

export class AssertionError extends Error {
  readonly code = ASSERTION_ERROR_CODE;

  constructor(message: string) {
    super(message);
    this.name = 'AssertionError';
  }
}

/** Throws unless `condition` holds. `invariant` must be a constant string (it is never built). */
export function assert(condition: boolean, invariant: string): asserts condition {
  if (!condition) throw new AssertionError(`Assertion failed: ${invariant}`);
}

/** Throws unless a <= b (false for NaN too). The values are quoted only when it fires. */
export function assertAtMost(a: number, b: number, invariant: string): void {
  if (!(a <= b)) throw new AssertionError(`Assertion failed: ${invariant} (${a} <= ${b} does not hold)`);
}

/** Throws unless a < b (false for NaN too). */
export function assertBelow(a: number, b: number, invariant: string): void {
  if (!(a < b)) throw new AssertionError(`Assertion failed: ${invariant} (${a} < ${b} does not hold)`);
}
