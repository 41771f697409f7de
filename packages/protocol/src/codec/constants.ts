/** Largest int32: the bound of every int32 field (sizes, relative offsets, epochs, sequences, generations). */
export const INT32_MAX = 2147483647;

/** The empty Buffer every decoded "no bytes" default shares (zero-length, so never mutated). */
export const EMPTY_BYTES: Buffer = Buffer.alloc(0);

/** Kafka's Uuid.ZERO_UUID as Uuid.toString() shows it (16 zero bytes, URL-safe base64). */
export const ZERO_UUID = 'AAAAAAAAAAAAAAAAAAAAAA';
