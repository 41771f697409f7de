/**
 * The file system calls the storage layer makes, as one object. Production uses node:fs
 * itself; tests pass a wrapper (LogManagerOptions.fileSystem) that fails chosen calls with
 * EIO or ENOSPC, so the code that handles a failed write or fdatasync is the code that
 * runs in production, not a mock of it (TigerBeetle's "disk is injected" rule).
 *
 * Only descriptors and paths cross this seam; a wrapper that fails "every write under this
 * directory" tracks descriptor -> path from its openSync.
 */
import fs from 'node:fs';

export type FileSystem = Pick<
  typeof fs,
  | 'openSync'
  | 'closeSync'
  | 'writeSync'
  | 'readSync'
  | 'fsyncSync'
  | 'fdatasyncSync'
  | 'fsync'
  | 'fdatasync'
  | 'ftruncateSync'
  | 'fstatSync'
  | 'statSync'
  | 'readFileSync'
  | 'renameSync'
  | 'unlinkSync'
  | 'rmSync'
  | 'mkdirSync'
  | 'readdirSync'
  | 'existsSync'
> & { readonly promises: Pick<typeof fs.promises, 'rename' | 'rm'> };

export const nodeFileSystem: FileSystem = fs;

/** An error from a file system call (it carries an errno code or a syscall name), not a bug. */
export function isIoError(err: unknown): boolean {
  const e = err as NodeJS.ErrnoException | null;
  return typeof e?.syscall === 'string' || typeof e?.errno === 'number';
}

/**
 * A full disk (ENOSPC) or quota (EDQUOT) reported by a write, open or truncate. Unlike other
 * I/O errors, a write failing this way is rolled back and answered as a per-request error;
 * the directory stays online (docs/compatibility.md, "Disk failures"). The same codes from
 * fsync/fdatasync are not: a failed fsync may have dropped dirty pages, so what it was
 * meant to make durable can no longer be trusted (fsyncgate), whatever the errno.
 */
export function isNoSpace(err: unknown): boolean {
  const e = err as NodeJS.ErrnoException | null;
  if (e?.code !== 'ENOSPC' && e?.code !== 'EDQUOT') return false;
  return e.syscall !== 'fsync' && e.syscall !== 'fdatasync';
}
