/**
 * What Fetch answers old fetchers (Kafka's KafkaApis.handleFetchRequest, maybeConvertFetchedData):
 * - versions below 10 know no zstd: a partition of a topic whose compression.type is zstd
 *   is answered UNSUPPORTED_COMPRESSION_TYPE without records;
 * - versions 0-3 read message format v0 (Fetch v0-1) or v1 (Fetch v2-3): the v2 batches
 *   read from the log are down-converted (protocol legacy-conversion.ts, as RecordsUtil.downConvert);
 *   a zstd batch among them makes the partition UNSUPPORTED_COMPRESSION_TYPE;
 * - a topic with message.downconversion.enable=false answers consumers on versions 0-3
 *   with UNSUPPORTED_VERSION instead (replica fetches are never converted);
 * - versions 0-5 get NOT_LEADER_OR_FOLLOWER for KAFKA_STORAGE_ERROR, which they cannot read
 *   (maybeDownConvertStorageError).
 *
 * Down-conversion decodes and re-encodes every record it returns, the cost Kafka calls
 * "extremely memory intensive"; docs/benchmarks.md measures it. Compressed batches are
 * decompressed and recompressed with their codec, gzip on libuv's thread pool.
 *
 * Difference from Kafka: Kafka converts lazily while writing to the socket and fills the
 * size it promised up front with an unreadable "overflow" message; here conversion is done
 * before the response is encoded and the result is cut at a message boundary at the same
 * size bound, so no partial trailing message is sent (old clients skip one either way).
 */
import { ErrorCode, downConvertBatches, type FetchRequest, type FetchResponse, type FetchResponsePartitionData } from '@tributary/protocol';
import type { RequestContext } from './registry.js';

/** The first Fetch version that may carry zstd batches (KIP-110). */
export const FIRST_ZSTD_FETCH_VERSION = 10;
/** Fetch v0-3 read message formats v0/v1 only. */
export const LAST_LEGACY_FETCH_VERSION = 3;


/** Fetch v5 and older cannot read KAFKA_STORAGE_ERROR; Kafka answers them NOT_LEADER_OR_FOLLOWER so they refresh metadata and retry. */
const LAST_VERSION_WITHOUT_STORAGE_ERROR = 5;

/** Applies the rules above to a response for a request of `version` (below 10). */
export async function convertForOldFetcher(req: FetchRequest, response: FetchResponse, version: number, ctx: RequestContext): Promise<FetchResponse> {
  const toMagic = version <= 1 ? 0 : 1;
  const fromReplica = (req.replicaId ?? -1) >= 0;
  // Versions 0-3 have no fetch sessions: every partition answered is in the request.
  const asked = new Map<string, { fetchOffset: number; partitionMaxBytes: number }>();
  for (const t of req.topics) for (const p of t.partitions) asked.set(`${t.topic}:${p.partition}`, p);
  const conversions: Promise<void>[] = [];
  for (const topicResponse of response.responses) {
    const topic = topicResponse.topic === undefined ? undefined : ctx.broker.metadata.topic(topicResponse.topic);
    if (topic === undefined) continue;
    const config = ctx.broker.logManager.configFor(topic.name);
    const compression = config.compressionType;
    const downConversionEnabled = config.messageDownconversionEnable;
    for (const data of topicResponse.partitions) {
      // As Kafka's maybeConvertFetchedData, this applies to partitions with errors too.
      if (compression === 'zstd') {
        fail(data, ErrorCode.UNSUPPORTED_COMPRESSION_TYPE);
        continue;
      }
      if (version > LAST_LEGACY_FETCH_VERSION) continue;
      if (!fromReplica && !downConversionEnabled) {
        fail(data, ErrorCode.UNSUPPORTED_VERSION);
        continue;
      }
      const records = data.records;
      if (records === null || records === undefined || records.length === 0) continue;
      const partition = asked.get(`${topicResponse.topic}:${data.partitionIndex}`);
      conversions.push(
        downConvertBatches(records, toMagic, partition?.fetchOffset ?? 0, partition?.partitionMaxBytes ?? 0).then((converted) => {
          if (converted.ok) data.records = converted.records;
          else fail(data, converted.errorCode);
        }),
      );
    }
  }
  await Promise.all(conversions);
  if (version <= LAST_VERSION_WITHOUT_STORAGE_ERROR) {
    for (const t of response.responses) for (const p of t.partitions) if (p.errorCode === ErrorCode.KAFKA_STORAGE_ERROR) p.errorCode = ErrorCode.NOT_LEADER_OR_FOLLOWER;
  }
  return response;
}

/** As Kafka's FetchResponse.partitionResponse(tp, error): no offsets, no records. */
function fail(data: FetchResponsePartitionData, errorCode: number): void {
  data.errorCode = errorCode;
  data.highWatermark = -1;
  data.lastStableOffset = -1;
  data.logStartOffset = -1;
  // Kafka's FetchResponse.partitionResponse: the error alone, records and aborted
  // transactions null.
  data.records = null;
  data.abortedTransactions = null;
}
