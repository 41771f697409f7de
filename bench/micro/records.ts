// CRC-32C vs. produce-path validation over the same bytes: one uncompressed 1 MiB batch of
// 1 KiB records. Target (the issue's): validation at >= 50% of CRC-32C alone.
// Run: node --conditions=source --import tsx bench/micro/records.ts
import { crc32c } from '../../packages/protocol/src/records/crc32c.js';
import { encodeBatchSync } from '../../packages/protocol/src/records/batch-encode.js';
import { validateBatch } from '../../packages/protocol/src/records/batch-validate.js';
import { decodeRecordsSync } from '../../packages/protocol/src/records/batch-decode.js';
import { BatchLayout } from '../../packages/protocol/src/records/batch-layout.js';
import { measure, row } from './measure.js';

const value = Buffer.alloc(1000, 'x');
const records = Array.from({ length: 1024 }, (_, i) => ({ key: Buffer.from(`key-${i}`), value, timestamp: 1_700_000_000_000 + i }));
const batch = encodeBatchSync({ records });
const crcBytes = batch.subarray(BatchLayout.CRC_START);
const oneMiB = Buffer.alloc(1024 * 1024, 7);

console.log(`node ${process.version}; batch ${batch.length} bytes, ${records.length} records`);
const crc1M = await measure(oneMiB.length, () => crc32c(oneMiB));
row('crc32c, 1 MiB buffer', crc1M);
const crcBatch = await measure(batch.length, () => crc32c(crcBytes));
row('crc32c, same bytes as the batch', crcBatch);
const validate = await measure(batch.length, async () => {
  const result = await validateBatch(batch, 0);
  if (!result.ok) throw new Error(result.message);
});
row('validateBatch (CRC + record walk), 1 MiB', validate, `${((validate / crcBatch) * 100).toFixed(0)}% of CRC alone (target >= 50%)`);
const decode = await measure(batch.length, () => decodeRecordsSync(batch));
row('decodeRecordsSync (objects per record), 1 MiB', decode);
