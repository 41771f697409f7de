/**
 * Which partition of `__consumer_offsets` owns a group: Kafka's
 * `Utils.abs(groupId.hashCode()) % offsets.topic.num.partitions`. It must match Kafka bit for
 * bit, because tools that read `__consumer_offsets` (and a cluster mixing implementations)
 * locate a group's records the same way.
 *
 * Java's String.hashCode runs over UTF-16 code units (`s[0]*31^(n-1) + ... + s[n-1]`, wrapping
 * at 32 bits), which is exactly what `charCodeAt` yields. Kafka's Utils.abs is `n & 0x7fffffff`
 * (not Math.abs, which overflows for Integer.MIN_VALUE).
 */
export function javaStringHashCode(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) | 0;
  return h;
}

export function partitionForGroup(groupId: string, numPartitions: number): number {
  if (!Number.isInteger(numPartitions) || numPartitions < 1) {
    throw new RangeError(`offsets.topic.num.partitions must be a positive integer, got ${numPartitions}`);
  }
  return (javaStringHashCode(groupId) & 0x7fffffff) % numPartitions;
}
