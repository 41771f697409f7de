/**
 * Kafka's Uuid as text: 16 bytes in URL-safe base64 without padding (22 characters),
 * e.g. cluster ids, topic ids and directory ids (`Uuid.toString()` in Kafka).
 *
 * Generation follows `Uuid.randomUuid()`: a random (version 4) UUID, drawn again if it is
 * the all-zero id (reserved as "no id"), the metadata topic id (1), or its text starts
 * with '-' (which command-line tools would take for a flag). Directory ids additionally
 * avoid the first 100 values, which Kafka reserves (UNASSIGNED, LOST, MIGRATING, ...).
 */
import { randomBytes } from 'node:crypto';

export { ZERO_UUID } from '@tributary/protocol';
const RESERVED_PREFIX_ZERO_BYTES = 15; // ids 0..255 have 15 leading zero bytes

export function randomKafkaUuid(): string {
  for (;;) {
    const bytes = randomBytes(16);
    bytes[6] = (bytes[6]! & 0x0f) | 0x40; // version 4
    bytes[8] = (bytes[8]! & 0x3f) | 0x80; // IETF variant
    if (isReserved(bytes)) continue;
    const text = bytes.toString('base64url');
    if (text.startsWith('-')) continue;
    return text;
  }
}

function isReserved(bytes: Buffer): boolean {
  for (let i = 0; i < RESERVED_PREFIX_ZERO_BYTES; i++) if (bytes[i] !== 0) return false;
  return bytes[15]! < 100;
}

/** True when `text` is a well-formed Kafka Uuid string (22 base64url characters, 16 bytes). */
export function isKafkaUuid(text: string): boolean {
  return /^[A-Za-z0-9_-]{22}$/.test(text) && Buffer.from(text, 'base64url').length === 16;
}
