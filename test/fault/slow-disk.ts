/**
 * A test hook loaded into each fault-suite broker with `--import` (harness.ts), like
 * clock-skew.ts: when TRIBUTARY_TEST_SLOW_DISK_FILE and TRIBUTARY_TEST_SLOW_DISK_DIR are
 * set, file system calls on files under that directory (the broker's log directory) are
 * slowed by the delays in the file, re-read every POLL_MS: "<syncMs> <writeMs>".
 *
 *  - fsync / fdatasync, sync and async: `syncMs` more. The sync forms block the calling
 *    thread as a slow device's flush does (the event loop, for the checkpoints' fsyncs); the
 *    async forms (group commit on libuv's pool) answer `syncMs` later.
 *  - writeSync: `writeMs` more, blocking: a device whose write-back cannot keep up makes
 *    the kernel throttle writers (dirty page limits).
 *
 * A slow disk, not a failing one: every call still does what it did (the failing disk is
 * the tmpfs filled to ENOSPC, inject.ts 'disk-full'). The storage layer calls node:fs through
 * its FileSystem seam (packages/storage/src/file-system.ts, `nodeFileSystem` is node:fs
 * itself), so patching node:fs here reaches every call it makes — with no broker code and
 * no broker configuration for a test-only behaviour. The kernel's dm-delay would be the real
 * path, but this machine's kernel has no device-mapper (`dmsetup targets` fails).
 * Without the variables this module does nothing.
 */
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { resolve, sep } from 'node:path';

/** How often the delay file is re-read: a slow-down starts and ends within this. */
const POLL_MS = 100;

const file = process.env['TRIBUTARY_TEST_SLOW_DISK_FILE'];
const dirEnv = process.env['TRIBUTARY_TEST_SLOW_DISK_DIR'];
if (file !== undefined && file !== '' && dirEnv !== undefined && dirEnv !== '') {
  const dir = resolve(dirEnv) + sep;
  let syncMs = 0;
  let writeMs = 0;
  const read = (): void => {
    try {
      const [s, w] = fs.readFileSync(file, 'utf8').trim().split(/\s+/).map(Number);
      syncMs = Number.isFinite(s) ? s! : 0;
      writeMs = Number.isFinite(w) ? w! : 0;
    } catch {
      syncMs = 0;
      writeMs = 0;
    }
  };
  read();
  setInterval(read, POLL_MS).unref();

  /** Descriptors opened on files under `dir` (closed ones are forgotten). */
  const slowFds = new Set<number>();
  const blocker = new Int32Array(new SharedArrayBuffer(4));
  const block = (ms: number): void => {
    if (ms > 0) Atomics.wait(blocker, 0, 0, ms);
  };

  const realOpenSync = fs.openSync;
  const realCloseSync = fs.closeSync;
  const realWriteSync = fs.writeSync;
  const realFsyncSync = fs.fsyncSync;
  const realFdatasyncSync = fs.fdatasyncSync;
  const realFsync = fs.fsync;
  const realFdatasync = fs.fdatasync;

  fs.openSync = ((path: fs.PathLike, ...rest: unknown[]) => {
    const fd = (realOpenSync as (...a: unknown[]) => number)(path, ...rest);
    if (resolve(String(path)).startsWith(dir) || resolve(String(path)) + sep === dir) slowFds.add(fd);
    else slowFds.delete(fd);
    return fd;
  }) as typeof fs.openSync;
  fs.closeSync = ((fd: number) => {
    slowFds.delete(fd);
    realCloseSync(fd);
  }) as typeof fs.closeSync;
  fs.writeSync = ((fd: number, ...rest: unknown[]) => {
    if (slowFds.has(fd)) block(writeMs);
    return (realWriteSync as (...a: unknown[]) => number)(fd, ...rest);
  }) as typeof fs.writeSync;
  fs.fsyncSync = ((fd: number) => {
    if (slowFds.has(fd)) block(syncMs);
    realFsyncSync(fd);
  }) as typeof fs.fsyncSync;
  fs.fdatasyncSync = ((fd: number) => {
    if (slowFds.has(fd)) block(syncMs);
    realFdatasyncSync(fd);
  }) as typeof fs.fdatasyncSync;
  const later = (real: typeof fs.fsync) => ((fd: number, cb: fs.NoParamCallback) => {
    const ms = slowFds.has(fd) ? syncMs : 0;
    real(fd, (err) => {
      if (ms > 0) setTimeout(() => cb(err), ms);
      else cb(err);
    });
  }) as typeof fs.fsync;
  fs.fsync = later(realFsync);
  fs.fdatasync = later(realFdatasync);
  // Named imports of node:fs (`import { writeSync } from 'node:fs'`) see the patched functions too.
  syncBuiltinESMExports();
}
