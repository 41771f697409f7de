// Test kit: builds valid v2 record batches and temporary data dirs. Not imported by src/.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BatchLayout, crc32c, writeInt64 } from '@tributary/protocol';

function zigzag(n: number): number[] {
  // Small values only (test data): zig-zag then base-128.
  let v = n >= 0 ? n * 2 : -n * 2 - 1;
  const out: number[] = [];
  while (v >= 128) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

export interface BatchSpec {
  /** Timestamps of the records (one record each). */
  timestamps: number[];
  valueBytes?: number;
  baseOffset?: number;
  /** Fill byte of values, to tell batches apart. */
  fill?: number;
}

export function makeBatch(spec: BatchSpec): Buffer {
  const base = spec.timestamps[0] ?? 0;
  const records: Buffer[] = spec.timestamps.map((ts, i) => {
    const value = Buffer.alloc(spec.valueBytes ?? 10, spec.fill ?? i);
    const body = Buffer.from([
      0, // attributes
      ...zigzag(ts - base),
      ...zigzag(i),
      ...zigzag(-1), // null key
      ...zigzag(value.length),
      ...value,
      ...zigzag(0), // headers
    ]);
    return Buffer.concat([Buffer.from(zigzag(body.length)), body]);
  });
  const recordBytes = Buffer.concat(records);
  const buf = Buffer.alloc(BatchLayout.HEADER_SIZE + recordBytes.length);
  writeInt64(buf, BatchLayout.BASE_OFFSET, spec.baseOffset ?? 0);
  buf.writeInt32BE(buf.length - BatchLayout.LOG_OVERHEAD, BatchLayout.BATCH_LENGTH);
  buf.writeInt32BE(-1, BatchLayout.PARTITION_LEADER_EPOCH);
  buf.writeInt8(2, BatchLayout.MAGIC);
  buf.writeInt16BE(0, BatchLayout.ATTRIBUTES);
  buf.writeInt32BE(spec.timestamps.length - 1, BatchLayout.LAST_OFFSET_DELTA);
  writeInt64(buf, BatchLayout.BASE_TIMESTAMP, base);
  writeInt64(buf, BatchLayout.MAX_TIMESTAMP, Math.max(...spec.timestamps));
  writeInt64(buf, BatchLayout.PRODUCER_ID, -1);
  buf.writeInt16BE(-1, BatchLayout.PRODUCER_EPOCH);
  buf.writeInt32BE(-1, BatchLayout.BASE_SEQUENCE);
  buf.writeInt32BE(spec.timestamps.length, BatchLayout.RECORD_COUNT);
  recordBytes.copy(buf, BatchLayout.RECORDS);
  buf.writeUInt32BE(crc32c(buf.subarray(BatchLayout.CRC_START)) >>> 0, BatchLayout.CRC);
  return buf;
}

export function tempDir(t: { after(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-storage-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export class FakeClock {
  constructor(public ms = 1_700_000_000_000) {}
  now(): number {
    return this.ms;
  }
}

export const quietLogger = { info: () => undefined, warn: () => undefined };
