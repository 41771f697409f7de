/**
 * Hands out producer ids for idempotent producers. Ids must never repeat, also across
 * restarts, or a new producer could be mistaken for an old one's duplicate. Like Kafka's
 * controller, the broker reserves ids in blocks: the end of the current block is
 * persisted (written to a temporary file, fsynced, renamed) before any id from the block
 * is used, so a crash can only skip ids, never reuse them.
 *
 * File: `<dataDir>/producer-id-block`, one line: the first id of the next block.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';

const BLOCK_SIZE = 1000;
const FILE_NAME = 'producer-id-block';

export class ProducerIdManager {
  private nextId: number;
  private blockEnd: number;
  private readonly file: string;

  constructor(dataDir: string) {
    this.file = join(dataDir, FILE_NAME);
    let start = 0;
    try {
      const text = readFileSync(this.file, 'utf8').trim();
      const n = Number(text);
      if (Number.isSafeInteger(n) && n >= 0) start = n;
    } catch {
      // First start: ids begin at 0.
    }
    this.nextId = start;
    this.blockEnd = start;
  }

  /** The next unused producer id. */
  next(): Promise<number> {
    return Promise.resolve(this.nextSync());
  }

  private nextSync(): number {
    if (this.nextId >= this.blockEnd) {
      const end = this.nextId + BLOCK_SIZE;
      const tmp = `${this.file}.tmp`;
      const fd = openSync(tmp, 'w');
      try {
        writeSync(fd, `${end}\n`);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, this.file);
      this.blockEnd = end;
    }
    return this.nextId++;
  }
}
