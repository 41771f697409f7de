// Test kit: a FileSystem (src/file-system.ts) over node:fs that fails chosen calls the way
// the kernel does (an Error with code, errno and syscall), so the storage layer's real
// error handling runs. Not imported by src/. The broker tests use it too.
import fs from 'node:fs';
import type { FileSystem } from '@tributary/storage';

/** The calls a rule can fail; `write` covers segment and index writes, `open` a roll. */
export type FaultOp = 'open' | 'write' | 'read' | 'fsync' | 'fdatasync' | 'ftruncate' | 'rename' | 'unlink' | 'mkdir';

const ERRNO: Record<string, number> = { EIO: -5, ENOSPC: -28, EDQUOT: -122 };

export interface FaultRule {
  op: FaultOp;
  code: 'EIO' | 'ENOSPC' | 'EDQUOT';
  /** Which file (the path a descriptor was opened with); every file when absent. */
  match?: (file: string) => boolean;
  /** For `write`: bytes the call really writes before the following call fails (a partial write). */
  partialBytes?: number;
  /** How many calls fail; every call when absent. */
  times?: number;
}

export class FaultyFileSystem {
  readonly fs: FileSystem;
  private readonly paths = new Map<number, string>();
  private rules: FaultRule[] = [];
  /** Calls failed so far, as `op path`. */
  readonly failures: string[] = [];

  constructor() {
    const self = this;
    const check = (op: FaultOp, file: string): void => {
      const err = self.fault(op, file);
      if (err) throw err;
    };
    const fdPath = (fd: number): string => this.paths.get(fd) ?? `<fd ${fd}>`;
    const wrapped: FileSystem = {
      ...fs,
      promises: {
        rename: async (from, to) => {
          check('rename', String(from));
          return fs.promises.rename(from, to);
        },
        rm: (p, o) => fs.promises.rm(p, o),
      },
      openSync: ((file: fs.PathLike, flags?: fs.OpenMode, mode?: fs.Mode) => {
        check('open', String(file));
        const fd = fs.openSync(file, flags ?? 'r', mode);
        self.paths.set(fd, String(file));
        return fd;
      }) as typeof fs.openSync,
      closeSync: (fd) => {
        self.paths.delete(fd);
        fs.closeSync(fd);
      },
      writeSync: ((fd: number, buffer: NodeJS.ArrayBufferView | string, ...rest: unknown[]) => {
        const file = fdPath(fd);
        const rule = self.ruleFor('write', file);
        if (rule !== undefined && rule.partialBytes !== undefined && rule.partialBytes > 0 && typeof buffer !== 'string') {
          // A short write first (what a filling disk does), then the failure on the next call.
          const [offset, length, position] = rest as [number, number, number];
          const n = Math.min(rule.partialBytes, length);
          rule.partialBytes = 0;
          return fs.writeSync(fd, buffer, offset, n, position);
        }
        check('write', file);
        return (fs.writeSync as (...args: unknown[]) => number)(fd, buffer, ...rest);
      }) as typeof fs.writeSync,
      readSync: ((fd: number, ...rest: unknown[]) => {
        check('read', fdPath(fd));
        return (fs.readSync as (...args: unknown[]) => number)(fd, ...rest);
      }) as typeof fs.readSync,
      fsyncSync: (fd) => {
        check('fsync', fdPath(fd));
        fs.fsyncSync(fd);
      },
      fdatasyncSync: (fd) => {
        check('fdatasync', fdPath(fd));
        fs.fdatasyncSync(fd);
      },
      fsync: ((fd: number, cb: (err: NodeJS.ErrnoException | null) => void) => {
        const err = self.fault('fsync', fdPath(fd));
        if (err) setImmediate(() => cb(err));
        else fs.fsync(fd, cb);
      }) as typeof fs.fsync,
      fdatasync: ((fd: number, cb: (err: NodeJS.ErrnoException | null) => void) => {
        const err = self.fault('fdatasync', fdPath(fd));
        if (err) setImmediate(() => cb(err));
        else fs.fdatasync(fd, cb);
      }) as typeof fs.fdatasync,
      ftruncateSync: (fd, len) => {
        check('ftruncate', fdPath(fd));
        fs.ftruncateSync(fd, len);
      },
      renameSync: (from, to) => {
        check('rename', String(from));
        fs.renameSync(from, to);
      },
      unlinkSync: (p) => {
        check('unlink', String(p));
        fs.unlinkSync(p);
      },
      mkdirSync: ((p: fs.PathLike, o?: fs.MakeDirectoryOptions) => {
        check('mkdir', String(p));
        return fs.mkdirSync(p, o);
      }) as typeof fs.mkdirSync,
    };
    this.fs = wrapped;
  }

  /** Adds a failure rule; returns this for chaining. */
  fail(rule: FaultRule): this {
    this.rules.push({ ...rule });
    return this;
  }

  /** Removes every rule: the disk "works" again (which must not make the broker trust it). */
  heal(): void {
    this.rules = [];
  }

  private ruleFor(op: FaultOp, file: string): FaultRule | undefined {
    return this.rules.find((r) => r.op === op && (r.match === undefined || r.match(file)) && (r.times === undefined || r.times > 0));
  }

  private fault(op: FaultOp, file: string): NodeJS.ErrnoException | null {
    const rule = this.ruleFor(op, file);
    if (rule === undefined) return null;
    if (rule.times !== undefined) rule.times--;
    this.failures.push(`${op} ${file}`);
    return injected(rule.code, op, file);
  }
}

export function injected(code: string, syscall: string, file: string): NodeJS.ErrnoException {
  const err = new Error(`${code}: injected failure, ${syscall} '${file}'`) as NodeJS.ErrnoException;
  err.code = code;
  err.errno = ERRNO[code] ?? -5;
  err.syscall = syscall;
  err.path = file;
  return err;
}
