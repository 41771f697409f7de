/**
 * Hands out producer ids for idempotent producers. Ids must never repeat, also across
 * restarts, or a new producer could be mistaken for an old one's duplicate. Like Kafka's
 * controller, the broker reserves ids in blocks: the end of the current block is
 * persisted (written to a temporary file, fsynced, renamed) before any id from the block
 * is used, so a crash can only skip ids, never reuse them.
 *
 * File: `<dataDir>/producer-id-block`, one line: the first id of the next block.
 *
 * Ids are unique across the cluster without asking anyone: each broker's local sequence
 * n is handed out as n × PRODUCER_ID_NODE_STRIDE + node.id, so two brokers never give the
 * same id (Kafka gets the same guarantee from blocks the controller allocates). Found by
 * the fault suite (test/fault/): two producers that asked different brokers both got id 0,
 * and their sequences collided on a partition (OUT_OF_ORDER_SEQUENCE_NUMBER, a fatal
 * error for librdkafka). An upgraded data directory stays safe: new ids are at least
 * n × stride ≥ n, above every id handed out before.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';

const BLOCK_SIZE = 1000;
const FILE_NAME = 'producer-id-block';
/**
 * Room for node ids 0 .. 2^21 − 1 (Kafka allows larger ones; a broker outside the range
 * refuses to start rather than risk a shared id), leaving 2^32 ids per broker below 2^53.
 */
export const PRODUCER_ID_NODE_STRIDE = 2 ** 21;

export class ProducerIdManager {
  private nextId: number;
  private blockEnd: number;
  private readonly file: string;

  constructor(dataDir: string, private readonly nodeId = 0) {
    if (!Number.isSafeInteger(nodeId) || nodeId < 0 || nodeId >= PRODUCER_ID_NODE_STRIDE) {
      throw new RangeError(`node.id ${nodeId} is outside 0..${PRODUCER_ID_NODE_STRIDE - 1}, the range producer ids are made unique over`);
    }
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
    return this.nextId++ * PRODUCER_ID_NODE_STRIDE + this.nodeId;
  }
}
