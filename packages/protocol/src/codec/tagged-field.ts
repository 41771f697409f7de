/**
 * A tagged field this code does not know (a newer peer's addition): kept as raw bytes on
 * decode and written back unchanged on encode, as Kafka's RawTaggedField.
 */
export interface TaggedField {
  tag: number;
  data: Buffer;
}
