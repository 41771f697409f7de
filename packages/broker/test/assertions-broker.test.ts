// What a broker does when an assertion fires inside a request: a storage assertion on the
// append path answers KAFKA_STORAGE_ERROR for that partition with nothing written, is
// logged with its code, and the broker keeps serving (docs/operations.md, "Assertions").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, encodeBatchSync } from '@tributary/protocol';
import { createLogger, startBroker } from '../src/index.js';
import { RawClient } from './helpers/raw-client.js';

test('a storage assertion during Produce fails that partition only, writes nothing, and is logged with its code', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'trib-assert-'));
  const lines: string[] = [];
  const broker = await startBroker({ dataDir: dir, port: 0, logger: createLogger({ level: 'error', format: 'json', sink: (l) => lines.push(l) }) });
  const client = await RawClient.open(broker.port);
  t.after(async () => { client.close(); await broker.close(); rmSync(dir, { recursive: true, force: true }); });
  const created = await client.request('CreateTopics', 7, { topics: [{ name: 't', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 5000, validateOnly: false });
  assert.equal(created.topics[0]!.errorCode, ErrorCode.NONE);
  const produce = async () => {
    const r = await client.request('Produce', 9, { transactionalId: null, acks: -1, timeoutMs: 5000, topicData: [{ name: 't', partitionData: [{ index: 0, records: encodeBatchSync({ records: [{ value: Buffer.from('v') }] }) }] }] });
    return r.responses[0]!.partitionResponses[0]!;
  };
  assert.equal((await produce()).baseOffset, 0);

  const log = broker.services.logManager.getLog('t', 0)!;
  const segment = log.activeSegment as unknown as { baseOffset: number };
  const size = log.size;
  segment.baseOffset = 1000; // a segment that claims to start past the data it is given
  const failed = await produce();
  assert.equal(failed.errorCode, ErrorCode.KAFKA_STORAGE_ERROR);
  assert.equal(log.size, size, 'nothing was written');
  assert.equal(log.logEndOffset, 1);
  const logged = lines.map((l) => JSON.parse(l) as { err?: { code?: string; message?: string } }).find((l) => l.err?.code === 'TRIB_ERR_ASSERTION');
  assert.ok(logged, lines.join('\n'));
  assert.match(logged.err!.message!, /a segment holds no batch below its base offset \(1000 <= 1 does not hold\)/);

  segment.baseOffset = 0;
  assert.equal((await produce()).baseOffset, 1, 'the broker keeps serving');
});
