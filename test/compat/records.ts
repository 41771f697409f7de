/**
 * The record set every client round-trip test produces and expects back: N keyed records
 * with distinct keys and values (so reordering, loss or duplication is visible), values
 * of mixed sizes (so batches hold different numbers of records), and a header.
 */
import assert from 'node:assert/strict';

/**
 * 10,000 records already span many produce requests, fetch responses and batch sizes; long
 * mode (TRIBUTARY_LONG=1, scripts/test.sh --long) round-trips 100,000 as the suite once did.
 */
export const RECORD_COUNT = process.env['TRIBUTARY_LONG'] === '1' ? 100_000 : 10_000;
export const HEADER_KEY = 'trace';
export const HEADER_VALUE = 'tributary-compat';

export function keyOf(i: number): string {
  return `key-${i}`;
}

/** Printable, tab- and newline-free (line-based tools carry them), 20..~220 bytes. */
export function valueOf(i: number): string {
  return `value-${i}-${'abcdefghij'.repeat((i * 7919) % 21)}`;
}

/** `key\tvalue\n` lines, as kcat -K '\t' reads them. */
export function keyValueLines(count = RECORD_COUNT): string {
  const parts: string[] = [];
  for (let i = 0; i < count; i++) parts.push(`${keyOf(i)}\t${valueOf(i)}\n`);
  return parts.join('');
}

export interface ConsumedRecord {
  key: string;
  value: string;
  offset: number;
  headers?: Record<string, string>;
}

/** Asserts the records are exactly the expected set, in order, at contiguous offsets from `firstOffset`. */
export function assertRoundTrip(records: readonly ConsumedRecord[], opts: { count?: number; firstOffset?: number; headers?: boolean } = {}): void {
  const count = opts.count ?? RECORD_COUNT;
  const first = opts.firstOffset ?? 0;
  assert.equal(records.length, count, `expected ${count} records, got ${records.length}`);
  for (let i = 0; i < count; i++) {
    const r = records[i]!;
    if (r.key !== keyOf(i) || r.value !== valueOf(i) || r.offset !== first + i) {
      assert.fail(`record ${i}: got key=${r.key} offset=${r.offset} value=${r.value.slice(0, 40)}; expected key=${keyOf(i)} offset=${first + i}`);
    }
    if (opts.headers !== false) {
      assert.equal(r.headers?.[HEADER_KEY], HEADER_VALUE, `record ${i} lost its header`);
    }
  }
}
