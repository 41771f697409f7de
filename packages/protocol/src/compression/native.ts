/**
 * The native compression libraries, loaded on first use. Each costs a few MiB of resident
 * memory once loaded, and a broker whose clients never compress (or use only gzip, which
 * is in node:zlib) should not pay for them.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

let snappy: typeof import('snappy') | undefined;
let lz4: typeof import('lz4-napi') | undefined;
let zstd: typeof import('@mongodb-js/zstd') | undefined;

export function snappyLib(): typeof import('snappy') {
  return (snappy ??= require('snappy') as typeof import('snappy'));
}

export function lz4Lib(): typeof import('lz4-napi') {
  return (lz4 ??= require('lz4-napi') as typeof import('lz4-napi'));
}

export function zstdLib(): typeof import('@mongodb-js/zstd') {
  return (zstd ??= require('@mongodb-js/zstd') as typeof import('@mongodb-js/zstd'));
}
