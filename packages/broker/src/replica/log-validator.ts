/**
 * The broker's side of Kafka's LogValidator: the topic settings a produced batch is judged
 * by (message.timestamp.*, compression.type) and the recompression of a batch into the
 * topic's codec. The checks themselves are the protocol package's validateBatch.
 *
 * When Kafka rebuilds a batch (UnifiedLog.analyzeAndValidateRecords, BrokerCompressionType):
 * - compression.type=producer (the default): never; the batch is stored as sent.
 * - the topic's codec equals the batch's: never (in-place offsets, as for `producer`).
 * - otherwise: the records are (decompressed and) compressed with the topic's codec,
 *   `uncompressed` included, and the new batch must still fit max.message.bytes
 *   (MESSAGE_TOO_LARGE otherwise, as Kafka's RecordTooLargeException).
 * Every compressed batch is decompressed to be validated whatever the setting, as in Kafka;
 * an uncompressed batch into a `producer`/`uncompressed` topic is validated in place and
 * appended without a copy.
 *
 * Differences from Kafka: compression.gzip.level / lz4.level / zstd.level (KIP-390) are not
 * configurable; each codec uses its library default.
 */
import {
  ErrorCode,
  CompressionType,
  BatchLayout,
  recompressBatch,
  validateBatch,
  type BatchValidation,
  type BatchValidationOptions,
} from '@tributary/protocol';
import type { LogConfig } from '@tributary/storage';

/** A topic's compression.type: keep the producer's codec, or one codec for every batch. */
export type TargetCompression = 'producer' | CompressionType;

const COMPRESSION_BY_NAME: Readonly<Record<LogConfig['compressionType'], TargetCompression>> = {
  producer: 'producer',
  uncompressed: CompressionType.NONE,
  gzip: CompressionType.GZIP,
  snappy: CompressionType.SNAPPY,
  lz4: CompressionType.LZ4,
  zstd: CompressionType.ZSTD,
};

/** The log's compression.type (typed by the config table) as a codec, or `producer`. */
export function targetCompressionOf(config: LogConfig): TargetCompression {
  return COMPRESSION_BY_NAME[config.compressionType];
}

/** Kafka's Long.MAX_VALUE "no limit" arrives as 2^53 - 1 or above (config-def's LONG_MAX_VALUE). */
function limitMs(ms: number): number | undefined {
  return ms >= Number.MAX_SAFE_INTEGER ? undefined : ms;
}

/**
 * message.timestamp.before.max.ms / after.max.ms, each falling back to the deprecated
 * message.timestamp.difference.max.ms while it is left at Long.MAX_VALUE (Kafka 3.6-3.9's
 * LogConfig). `undefined` is "no limit".
 */
export function timestampLimits(config: LogConfig): { beforeMaxMs: number | undefined; afterMaxMs: number | undefined } {
  const difference = limitMs(config.messageTimestampDifferenceMaxMs);
  return {
    beforeMaxMs: limitMs(config.messageTimestampBeforeMaxMs) ?? difference,
    afterMaxMs: limitMs(config.messageTimestampAfterMaxMs) ?? difference,
  };
}

/** Whether a validated batch must be rebuilt in the topic's codec before it is appended. */
export function needsRecompression(validation: BatchValidation, target: TargetCompression): boolean {
  return validation.ok && target !== 'producer' && validation.header.compression !== target;
}

export interface ValidatedAppend {
  validation: BatchValidation;
  /** What to append: the produced bytes, or the batch rebuilt in the topic's codec. */
  records: Buffer;
}

/**
 * validateBatch, then recompression when the topic asks for another codec than the batch has.
 * `validated` is a verdict already reached for these bytes (validateBatchSync), not repeated.
 */
export async function validateForAppend(
  records: Buffer,
  options: BatchValidationOptions,
  target: TargetCompression,
  maxMessageBytes: number,
  validated?: BatchValidation,
): Promise<ValidatedAppend> {
  const validation = validated ?? (await validateBatch(records, 0, options));
  if (!validation.ok || target === 'producer' || !needsRecompression(validation, target)) return { validation, records };
  const header = validation.header;
  const section = validation.decompressed ?? records.subarray(BatchLayout.RECORDS, header.size);
  const rebuilt = await recompressBatch(records, 0, section, target);
  if (rebuilt.length > maxMessageBytes) {
    return {
      validation: {
        ok: false,
        errorCode: ErrorCode.MESSAGE_TOO_LARGE,
        message: `Message batch size is ${rebuilt.length} bytes in append to partition ${options.topicPartition ?? '?'} which exceeds the maximum configured size of ${maxMessageBytes}.`,
      },
      records,
    };
  }
  return { validation, records: rebuilt };
}
