/**
 * Kafka's offset checkpoint files (recovery-point-offset-checkpoint,
 * log-start-offset-checkpoint, replication-offset-checkpoint), text, one per data dir:
 *
 *   0                      version
 *   2                      number of entries
 *   orders 0 1234          topic, partition, offset (space separated)
 *   orders 1 99
 *
 * Written atomically: the new content goes to `<name>.tmp`, is fsynced, renamed over the
 * old file, and the directory is fsynced so the rename itself survives a power loss.
 */
import type { FileSystem } from './file-system.js';
import { nodeFileSystem } from './file-system.js';
import path from 'node:path';
import { StorageError, StorageErrorCode } from './errors.js';
import { fsyncAsync } from './index-file.js';

export const RECOVERY_POINT_CHECKPOINT = 'recovery-point-offset-checkpoint';
export const LOG_START_OFFSET_CHECKPOINT = 'log-start-offset-checkpoint';
export const REPLICATION_OFFSET_CHECKPOINT = 'replication-offset-checkpoint';

const CHECKPOINT_VERSION = 0;

/** Key of a partition in checkpoint maps: `topic partition`, the format of the file line prefix. */
export function checkpointKey(topic: string, partition: number): string {
  return `${topic} ${partition}`;
}

export function formatCheckpoint(entries: ReadonlyMap<string, number>): string {
  const lines = [String(CHECKPOINT_VERSION), String(entries.size)];
  for (const [key, offset] of entries) lines.push(`${key} ${offset}`);
  return lines.join('\n') + '\n';
}

function corrupt(file: string, why: string): StorageError {
  return new StorageError(StorageErrorCode.CORRUPT_CHECKPOINT, `Checkpoint file ${file} is malformed: ${why}`);
}

export function parseCheckpoint(text: string, file = '<checkpoint>'): Map<string, number> {
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  if (lines.length < 2) throw corrupt(file, `expected version and count lines, found ${lines.length} lines`);
  if (lines[0]!.trim() !== String(CHECKPOINT_VERSION)) throw corrupt(file, `expected version 0, found ${JSON.stringify(lines[0])}`);
  const count = Number(lines[1]!.trim());
  if (!Number.isInteger(count) || count < 0) throw corrupt(file, `bad entry count ${JSON.stringify(lines[1])}`);
  if (lines.length - 2 !== count) throw corrupt(file, `expected ${count} entries, found ${lines.length - 2}`);
  const out = new Map<string, number>();
  for (let i = 2; i < lines.length; i++) {
    const parts = lines[i]!.trim().split(/\s+/);
    if (parts.length !== 3 || !/^\d+$/.test(parts[1]!) || !/^-?\d+$/.test(parts[2]!)) {
      throw corrupt(file, `line ${i + 1} is not "topic partition offset": ${JSON.stringify(lines[i])}`);
    }
    const offset = Number(parts[2]);
    if (!Number.isSafeInteger(offset)) throw corrupt(file, `offset ${parts[2]} on line ${i + 1} is out of range`);
    out.set(checkpointKey(parts[0]!, Number(parts[1])), offset);
  }
  return out;
}

/** Reads a checkpoint; a missing file is an empty map. A malformed one throws CORRUPT_CHECKPOINT. */
export function readCheckpointFile(file: string, fs: FileSystem = nodeFileSystem): Map<string, number> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw err;
  }
  return parseCheckpoint(text, file);
}

/** Makes a rename, creation or deletion of an entry of `dir` durable. */
export function fsyncDir(dir: string, fs: FileSystem = nodeFileSystem): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** fsyncDir with the fsync on libuv's threadpool. */
export async function fsyncDirAsync(dir: string, fs: FileSystem = nodeFileSystem): Promise<void> {
  const fd = fs.openSync(dir, 'r');
  try {
    await fsyncAsync(fs, fd);
  } finally {
    fs.closeSync(fd);
  }
}

export function writeCheckpointFile(file: string, entries: ReadonlyMap<string, number>, fs: FileSystem = nodeFileSystem): void {
  writeFileDurably(file, formatCheckpoint(entries), fs);
}

/**
 * Replaces `file` with `data` so that a crash leaves either the old contents or the new:
 * write `<file>.tmp`, fsync it, rename it over `file`, fsync the directory. Every small
 * file Tributary rewrites whole (checkpoints, meta.properties, the compacted metadata log)
 * goes through here.
 */
export function writeFileDurably(file: string, data: string | Buffer, fs: FileSystem = nodeFileSystem): void {
  const tmp = file + '.tmp';
  const fd = fs.openSync(tmp, 'w');
  try {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let written = 0;
    while (written < bytes.length) written += fs.writeSync(fd, bytes, written, bytes.length - written);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  fsyncDir(path.dirname(file), fs);
}
