/**
 * Raw looks at what transactions leave behind, for the transaction compat tests: every batch
 * of a partition (markers included, which clients hide), and DescribeTransactions.
 */
import { decodeBatchSync, decodeControlRecordKey, forEachBatch, readBatchHeader } from '@tributary/protocol';
import { RawClient } from '../../packages/broker/test/helpers/raw-client.js';

export interface Entry { control: number | null; value: string | null; producerId: number }

/** Every batch of a partition in log order: control marker type, or the data record values. */
export async function logOf(port: number, topic: string, partition: number): Promise<Entry[]> {
  const client = await RawClient.open(port);
  try {
    const r = await client.request('Fetch', 12, {
      replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 8 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
      topics: [{ topic, partitions: [{ partition, currentLeaderEpoch: -1, fetchOffset: 0, lastFetchedEpoch: -1, logStartOffset: -1, partitionMaxBytes: 8 << 20 }] }],
      forgottenTopicsData: [], rackId: '',
    });
    const records = r.responses[0]!.partitions[0]!.records;
    const out: Entry[] = [];
    if (records === null) return out;
    forEachBatch(records, (at, size) => {
      const h = readBatchHeader(records, at);
      const { records: rs } = decodeBatchSync(records.subarray(at, at + size));
      if (h.isControl) out.push({ control: decodeControlRecordKey(rs[0]!.key).type, value: null, producerId: h.producerId });
      else for (const x of rs) out.push({ control: null, value: x.value?.toString() ?? null, producerId: h.producerId });
    });
    return out;
  } finally {
    client.close();
  }
}

export async function describeTxn(port: number, transactionalId: string) {
  const client = await RawClient.open(port);
  try {
    return (await client.request('DescribeTransactions', 0, { transactionalIds: [transactionalId] })).transactionStates[0]!;
  } finally {
    client.close();
  }
}
