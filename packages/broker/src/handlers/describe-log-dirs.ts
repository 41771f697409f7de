/**
 * DescribeLogDirs (api key 35), versions 0-4.
 *
 * Behaviour (Kafka's ReplicaManager.describeLogDirs):
 * - One result per log directory (log.dirs, absolute paths, in configured order).
 * - A directory taken offline by an I/O error answers KAFKA_STORAGE_ERROR with no topics
 *   and -1 sizes (Kafka: a KafkaStorageException per offline dir).
 * - topics null describes every partition log on this broker, else only the partitions
 *   named that have a log here (others are left out, not errors); topics with no
 *   partition left are left out too.
 * - Per partition: size of its segments in bytes, offsetLag = max(high watermark - log end
 *   offset, 0) (0 on a leader; Kafka defines it that way for current logs), isFutureKey
 *   false (no AlterReplicaLogDirs moves here).
 * - v4: totalBytes/usableBytes of the volume (statfs); if statfs fails, -1 and the
 *   result is still answered. v3+: top-level error code NONE.
 * - A statfs failure is not a storage error; a log directory is offline only when the
 *   storage layer says so.
 */
import { statfs } from 'node:fs/promises';
import type {
  DescribeLogDirsResponseDescribeLogDirsPartition, DescribeLogDirsResponseDescribeLogDirsResult, DescribeLogDirsResponseDescribeLogDirsTopic,
} from '@tributary/protocol';
import { ApiKey, ErrorCode } from '@tributary/protocol';
import type { Handler, RequestContext } from './registry.js';
import type { Log } from '@tributary/storage';

export const describeLogDirsHandler: Handler<'DescribeLogDirs'> = {
  apiKey: ApiKey.DescribeLogDirs,
  name: 'DescribeLogDirs',
  minVersion: 0,
  maxVersion: 4,

  async handle(req, ctx) {
    const wanted = req.topics === null ? null : new Set(req.topics.flatMap((t) => t.partitions.map((p) => `${p}:${t.topic}`)));
    const manager = ctx.broker.logManager;
    const dirs = manager.logDirs;
    const results: DescribeLogDirsResponseDescribeLogDirsResult[] = [];
    for (const dir of dirs) {
      if (!manager.isLogDirOnline(dir)) {
        results.push({ errorCode: ErrorCode.KAFKA_STORAGE_ERROR, logDir: dir, topics: [], totalBytes: -1, usableBytes: -1 });
        continue;
      }
      results.push(await describeDir(dir, manager.logsIn(dir), wanted, ctx));
    }
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, results };
  },

  errorResponse(_req, errorCode) {
    return { throttleTimeMs: 0, errorCode, results: [] };
  },
};

async function describeDir(dir: string, logs: readonly Log[], wanted: Set<string> | null, ctx: RequestContext): Promise<DescribeLogDirsResponseDescribeLogDirsResult> {
  const byTopic = new Map<string, DescribeLogDirsResponseDescribeLogDirsPartition[]>();
  for (const log of logs) {
    if (wanted !== null && !wanted.has(`${log.partition}:${log.topic}`)) continue;
    let partitions = byTopic.get(log.topic);
    if (!partitions) byTopic.set(log.topic, (partitions = []));
    partitions.push({
      partitionIndex: log.partition,
      partitionSize: log.size,
      offsetLag: Math.max(log.highWatermark - log.logEndOffset, 0),
      isFutureKey: false,
    });
  }
  const topics: DescribeLogDirsResponseDescribeLogDirsTopic[] = [...byTopic.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, partitions]) => ({ name, partitions: partitions.sort((a, b) => a.partitionIndex - b.partitionIndex) }));
  let totalBytes = -1;
  let usableBytes = -1;
  if (ctx.header.apiVersion >= 4) {
    try {
      const fsStats = await statfs(dir);
      totalBytes = fsStats.blocks * fsStats.bsize;
      usableBytes = fsStats.bavail * fsStats.bsize;
    } catch (err) {
      ctx.logger.warn('statfs of the log directory failed; answering -1 for its sizes', { dir, err });
    }
  }
  return { errorCode: ErrorCode.NONE, logDir: dir, topics, totalBytes, usableBytes };
}
