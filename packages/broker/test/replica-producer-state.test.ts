import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeBatchSync } from '@tributary/protocol';
import { LogManager } from '@tributary/storage';
import { ProducerStateTable } from '../src/replica/producer-state.js';

test('producer state is rebuilt from the active segment, across reads of several chunks', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'trib-pstate-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const m = await LogManager.open({ dataDir: dir, schedulers: false, logger: { info: () => undefined, warn: () => undefined } });
  const log = m.createLog('t', 0);
  const value = Buffer.alloc(300 * 1024); // four batches span more than one 1 MiB read
  for (let seq = 0; seq < 4; seq++) {
    log.append(encodeBatchSync({ producerId: 7, producerEpoch: 2, baseSequence: seq, records: [{ value }] }), { leaderEpoch: 0 });
  }
  log.append(encodeBatchSync({ records: [{ value: Buffer.from('no producer') }] }), { leaderEpoch: 0 });
  const table = ProducerStateTable.rebuild(log);
  assert.equal(table.size, 1);
  assert.deepEqual(table.check(7, 2, 3, 0), { kind: 'duplicate', baseOffset: 3 });
  assert.deepEqual(table.check(7, 2, 4, 0), { kind: 'ok' });
  assert.equal(table.check(7, 2, 6, 0).kind, 'error');
  await m.close();
});
