/**
 * ListOffsets lookups on a log: by timestamp (first offset whose timestamp is >= T),
 * earliest (-2), latest (-1) and max timestamp (-3). A timestamp lookup picks the first
 * segment whose largest timestamp reaches T, starts at the time index entry before T,
 * walks batch headers to the first batch whose max timestamp reaches T, and reads that
 * batch's records for the exact offset. Record timestamps need not increase, so "first"
 * means the lowest offset, as in Kafka.
 */
import type { Log } from './log.js';
import type { RecordTimestamp } from './record-timestamps.js';
import { findRecord } from './record-timestamps.js';

export interface TimestampAndOffset { timestamp: number; offset: number }

/** First offset (>= log start) whose record timestamp is >= `timestamp`; null when none. */
export function offsetForTimestamp(log: Log, timestamp: number): TimestampAndOffset | null {
  return log.guardRead('Time lookup', () => offsetForTimestampUnguarded(log, timestamp));
}

function offsetForTimestampUnguarded(log: Log, timestamp: number): TimestampAndOffset | null {
  const logStart = log.logStartOffset;
  for (const seg of log.segments) {
    if (seg.size === 0 || seg.maxTimestampSoFar < timestamp) continue;
    const from = Math.max(seg.timeIndex.lookupBefore(timestamp), logStart);
    const position = seg.offsetIndex.lookup(from).position;
    let answer: TimestampAndOffset | null = null;
    seg.walk(position, seg.size, (h) => h.maxTimestamp >= timestamp && h.lastOffset >= logStart, (h, body) => {
      if (body === null) return true;
      const rec = findRecord(body, (r) => r.timestamp >= timestamp && r.offset >= logStart, log.decompress);
      if (rec === null) return true;
      answer = rec === undefined ? { timestamp: h.maxTimestamp, offset: Math.max(h.baseOffset, logStart) } : rec;
      return false;
    });
    if (answer !== null) return answer;
  }
  return null;
}

/**
 * The record with the largest timestamp (the first such, by offset) and its offset
 * (ListOffsets -3, KIP-734); null when no record carries a timestamp.
 */
export function maxTimestampOffset(log: Log): TimestampAndOffset | null {
  return log.guardRead('Max timestamp lookup', () => maxTimestampOffsetUnguarded(log));
}

function maxTimestampOffsetUnguarded(log: Log): TimestampAndOffset | null {
  let best = -1;
  let bestSeg = -1;
  for (let i = 0; i < log.segments.length; i++) {
    const seg = log.segments[i]!;
    if (seg.size > 0 && seg.maxTimestampSoFar > best) {
      best = seg.maxTimestampSoFar;
      bestSeg = i;
    }
  }
  if (bestSeg < 0) return null;
  const seg = log.segments[bestSeg]!;
  let answer: TimestampAndOffset | null = null;
  const visit = (h: { maxTimestamp: number; lastOffset: number; baseOffset: number }, body: Buffer | null): boolean => {
    if (body === null || h.maxTimestamp !== best || h.lastOffset < log.logStartOffset) return true;
    const rec: RecordTimestamp | null | undefined = findRecord(body, (r) => r.timestamp === best, log.decompress);
    answer = rec === undefined || rec === null ? { timestamp: best, offset: h.lastOffset } : rec;
    return false;
  };
  // The segment remembers the batch that first reached its max; start there, else walk it all.
  const hint = seg.findBatch(seg.offsetOfMaxTimestampSoFar);
  if (hint !== null) seg.walk(hint.position, seg.size, (h) => h.maxTimestamp === best, visit);
  if (answer === null) seg.walk(0, seg.size, (h) => h.maxTimestamp === best, visit);
  return answer;
}
