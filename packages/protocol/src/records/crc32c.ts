import { crc32c as nativeCrc32c } from '@node-rs/crc32';

/**
 * CRC-32C (Castagnoli), the checksum of record batches (magic 2). The prebuilt native
 * implementation runs at ~5 GB/s on 1 MiB against ~0.9 GB/s for the best pure-JS table
 * version, and the broker computes it over every byte it accepts, so the dependency pays.
 *
 * `initial` continues a running checksum: crc32c(b, crc32c(a)) === crc32c(a ++ b).
 */
export function crc32c(buf: Uint8Array, initial?: number): number {
  // The binding returns the unsigned value already; `>>> 0` documents and enforces it.
  return nativeCrc32c(buf, initial ?? 0) >>> 0;
}
