/**
 * DescribeLogDirs (api key 35), versions 0-4.
 *
 * Behaviour (Kafka's ReplicaManager.describeLogDirs):
 * - One result per log directory; a Tributary broker has one, its data directory
 *   (absolute path).
 * - topics null describes every partition log on this broker, else only the partitions
 *   named that have a log here (others are left out, not errors); topics with no
 *   partition left are left out too.
 * - Per partition: size of its segments in bytes, offsetLag = max(high watermark - log end
 *   offset, 0) (0 on a leader; Kafka defines it that way for current logs), isFutureKey
 *   false (no AlterReplicaLogDirs moves here).
 * - v4: totalBytes/usableBytes of the volume (statfs); if statfs fails, -1 and the
 *   result is still answered. v3+: top-level error code NONE.
 * - A statfs failure is not a storage error; a log directory is offline only when the
 *   storage layer says so (not modelled yet: KAFKA_STORAGE_ERROR is never answered).
 */
import { statfs } from 'node:fs/promises';
import type {
  DescribeLogDirsResponseDescribeLogDirsPartition, DescribeLogDirsResponseDescribeLogDirsTopic,
} from '@tributary/protocol';
import { ApiKey, ErrorCode } from '@tributary/protocol';
import type { Handler } from './registry.js';

export const describeLogDirsHandler: Handler<'DescribeLogDirs'> = {
  apiKey: ApiKey.DescribeLogDirs,
  name: 'DescribeLogDirs',
  minVersion: 0,
  maxVersion: 4,

  async handle(req, ctx) {
    const wanted = req.topics === null ? null : new Set(req.topics.flatMap((t) => t.partitions.map((p) => `${p}:${t.topic}`)));
    const byTopic = new Map<string, DescribeLogDirsResponseDescribeLogDirsPartition[]>();
    for (const log of ctx.broker.logManager.allLogs()) {
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
        const fsStats = await statfs(ctx.broker.dataDir);
        totalBytes = fsStats.blocks * fsStats.bsize;
        usableBytes = fsStats.bavail * fsStats.bsize;
      } catch (err) {
        ctx.logger.warn('statfs of the log directory failed; answering -1 for its sizes', { dir: ctx.broker.dataDir, err });
      }
    }
    return {
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      results: [{ errorCode: ErrorCode.NONE, logDir: ctx.broker.dataDir, topics, totalBytes, usableBytes }],
    };
  },

  errorResponse(_req, errorCode) {
    return { throttleTimeMs: 0, errorCode, results: [] };
  },
};
