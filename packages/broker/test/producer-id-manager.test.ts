// Producer ids never repeat: not across restarts, and not across brokers of one cluster.
// Regression test for a bug the fault suite found (test/fault/): every broker counted from
// 0, so two idempotent producers that asked different brokers shared producer id 0 and
// their sequences collided (OUT_OF_ORDER_SEQUENCE_NUMBER, fatal for librdkafka).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProducerIdManager, PRODUCER_ID_NODE_STRIDE } from '../src/transaction/producer-id-manager.js';

function dir(t: { after(fn: () => void): void }): string {
  const d = mkdtempSync(join(tmpdir(), 'trib-pid-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

test('brokers with different node ids never hand out the same producer id', async (t) => {
  const seen = new Map<number, number>();
  for (const nodeId of [0, 1, 2, 3]) {
    const m = new ProducerIdManager(dir(t), nodeId);
    for (let i = 0; i < 2500; i++) {
      const id = await m.next();
      assert.ok(Number.isSafeInteger(id) && id >= 0);
      assert.equal(seen.get(id), undefined, `id ${id} from broker ${nodeId} was already given by broker ${seen.get(id)}`);
      seen.set(id, nodeId);
    }
  }
});

test('a restart never reuses an id, and neither does an upgrade from unstrided ids', async (t) => {
  const d = dir(t);
  const first = new ProducerIdManager(d, 2);
  const before = [await first.next(), await first.next()];
  const again = new ProducerIdManager(d, 2);
  const after = await again.next();
  assert.ok(after > Math.max(...before), `${after} after ${before}`);
  // A data directory from before the stride: ids 0..999 were handed out, the file says 1000.
  const old = dir(t);
  writeFileSync(join(old, 'producer-id-block'), '1000\n');
  assert.ok((await new ProducerIdManager(old, 0).next()) >= 1000);
  assert.throws(() => new ProducerIdManager(dir(t), PRODUCER_ID_NODE_STRIDE), RangeError);
});
