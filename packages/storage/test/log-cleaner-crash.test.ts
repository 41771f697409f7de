// A crash at every step of a clean (issue #18, "Must hold"). Every file call a clean makes
// (open, write, fdatasync, rename, unlink, directory fsync) is synchronous and either
// happened or did not, so stopping the process at the N-th call leaves on disk exactly
// what a kill -9 there leaves. The test runs the same clean once per N: the N-th mutating
// call throws, the LogManager is abandoned (no flush, no marker, no checkpoint), and the
// directory is opened again with the real file system. It must then hold a readable,
// consistent log with every key's latest value, records at their original offsets, the
// same log end offset, and a later clean must work.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { decodeBatchSync, encodeBatch, splitBatches } from '@tributary/protocol';
import { LogManager, fromProperties } from '@tributary/storage';
import type { FileSystem, Log } from '@tributary/storage';
import { FakeClock, quietLogger, tempDir } from './helpers.js';

const RAW_CONFIG = {
  'cleanup.policy': 'compact',
  'segment.bytes': '1500',
  'index.interval.bytes': '100',
  'file.delete.delay.ms': '0',
  'delete.retention.ms': '1000',
  'min.cleanable.dirty.ratio': '0',
};
const CONFIG = fromProperties(RAW_CONFIG);
/** What the broker passes at start-up: storage does not persist topic configs. */
const topicConfigs = new Map([['x', CONFIG]]);

/** node:fs whose N-th mutating call (counted once armed) fails as a crash there would stop it. */
function crashingFs(): { fs: FileSystem; arm(n: number): void; disarm(): void; readonly calls: number; readonly crashed: string | null } {
  let armed = false;
  let target = 0;
  let calls = 0;
  let crashed: string | null = null;
  const step = (what: string): void => {
    if (!armed || crashed !== null) {
      if (crashed !== null) throw Object.assign(new Error(`after crash: ${what}`), { code: 'EIO', errno: -5, syscall: 'crashed' });
      return;
    }
    if (calls++ === target) {
      crashed = what;
      throw Object.assign(new Error(`crash at step ${target}: ${what}`), { code: 'EIO', errno: -5, syscall: 'crash' });
    }
  };
  const wrapped: FileSystem = {
    ...fs,
    promises: fs.promises,
    openSync: ((file: fs.PathLike, flags?: fs.OpenMode, mode?: fs.Mode) => {
      if (flags !== 'r' && flags !== fs.constants.O_RDONLY && flags !== undefined) step(`open ${String(file)}`);
      return fs.openSync(file, flags ?? 'r', mode);
    }) as typeof fs.openSync,
    writeSync: ((fd: number, ...rest: unknown[]) => {
      step(`write fd ${fd}`);
      return (fs.writeSync as (...a: unknown[]) => number)(fd, ...rest);
    }) as typeof fs.writeSync,
    fsyncSync: (fd) => {
      step(`fsync fd ${fd}`);
      fs.fsyncSync(fd);
    },
    fdatasyncSync: (fd) => {
      step(`fdatasync fd ${fd}`);
      fs.fdatasyncSync(fd);
    },
    renameSync: (from, to) => {
      step(`rename ${String(from)} -> ${String(to)}`);
      fs.renameSync(from, to);
    },
    unlinkSync: (file) => {
      step(`unlink ${String(file)}`);
      fs.unlinkSync(file);
    },
    rmSync: (file, options) => {
      step(`rm ${String(file)}`);
      fs.rmSync(file, options);
    },
  };
  return {
    fs: wrapped,
    arm(n: number) {
      armed = true;
      target = n;
      calls = 0;
    },
    disarm() {
      armed = false;
    },
    get calls() {
      return calls;
    },
    get crashed() {
      return crashed;
    },
  };
}

interface Rec { offset: number; key: string; value: string | null }

function readAll(log: Log): Rec[] {
  const r = log.read(log.logStartOffset, 1 << 30, { minOneBatch: true });
  assert.equal(r.kind, 'ok');
  const out: Rec[] = [];
  if (r.kind !== 'ok') return out;
  for (const buf of r.records) {
    const headers = splitBatches(buf);
    if (typeof headers === 'string') continue;
    for (const h of headers) {
      for (const x of decodeBatchSync(buf, h.position).records) out.push({ offset: x.offset, key: x.key!.toString(), value: x.value === null ? null : x.value.toString() });
    }
  }
  return out;
}

function checkConsistent(log: Log, model: Rec[], endOffset: number, where: string): void {
  const byOffset = new Map(model.map((m) => [m.offset, m]));
  const latest = new Map<string, Rec>();
  for (const m of model) latest.set(m.key, m);
  const present = readAll(log);
  let previous = -1;
  const lastPresent = new Map<string, Rec>();
  for (const rec of present) {
    assert.ok(rec.offset > previous, `${where}: offsets increase`);
    previous = rec.offset;
    assert.deepEqual(rec, byOffset.get(rec.offset), `${where}: record at ${rec.offset} is the one written there`);
    lastPresent.set(rec.key, rec);
  }
  for (const [key, m] of latest) {
    if (m.value !== null) assert.deepEqual(lastPresent.get(key), m, `${where}: latest value of ${key}`);
    else assert.ok(lastPresent.get(key) === undefined || lastPresent.get(key)!.value === null, `${where}: ${key} stays deleted`);
  }
  assert.equal(log.logEndOffset, endOffset, `${where}: log end offset`);
}

test('a crash at every step of a clean leaves a consistent log', async (t) => {
  // tmpfs when there is one: the test makes ~1,000 fsyncs, which prove nothing here (a
  // crash is a process stop, page cache kept) and cost ~15 ms each on a shared disk.
  const root = fs.existsSync('/dev/shm') ? fs.mkdtempSync('/dev/shm/tributary-cleaner-crash-') : tempDir(t);
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const base = `${root}/base`;
  const clock = new FakeClock();
  // The starting state: a first clean (tombstones get their delete horizon), more data,
  // then time past the horizon, so the clean under test removes records and tombstones.
  const model: Rec[] = [];
  {
    const m = await LogManager.open({ dataDir: base, clock, schedulers: false, logger: quietLogger, cleanerInline: true, topicConfigs });
    const log = m.createLog('x', 0, CONFIG);
    const append = async (i: number): Promise<void> => {
      const key = `k${i % 7}`;
      const value = i % 11 === 3 ? null : `v${i}`;
      const r = log.append(await encodeBatch({ records: [{ key: Buffer.from(key), value: value === null ? null : Buffer.from(value) }], timestamp: clock.ms }), { leaderEpoch: 0 });
      model.push({ offset: r.baseOffset, key, value });
    };
    for (let i = 0; i < 60; i++) await append(i);
    log.roll();
    await log.flush();
    log.updateHighWatermark(log.logEndOffset);
    assert.ok((await m.cleaner.cleanLogNow(log))?.swapped);
    for (let i = 60; i < 120; i++) await append(i);
    log.roll();
    await log.flush();
    log.updateHighWatermark(log.logEndOffset);
    await m.close();
  }
  clock.ms += 5000;
  const endOffset = model.length;

  let steps = 0;
  const crashedAt = new Set<string>();
  for (let n = 0; ; n++) {
    const dataDir = `${root}/crash-${n}`;
    fs.cpSync(base, dataDir, { recursive: true });
    const faulty = crashingFs();
    const m = await LogManager.open({ dataDir, clock, schedulers: false, logger: quietLogger, cleanerInline: true, topicConfigs, fileSystem: faulty.fs });
    const log = m.getLog('x', 0)!;
    faulty.arm(n);
    let stats = null;
    try {
      stats = await m.cleaner.cleanLogNow(log);
    } catch {
      // The swap's I/O error took the log offline: what a crash there looks like to the rest.
    }
    faulty.disarm();
    if (faulty.crashed === null) {
      // Past the last step: the clean completed; the loop has covered every step before it.
      assert.ok(stats?.swapped, 'the uninterrupted clean swaps');
      checkConsistent(log, model, endOffset, 'uninterrupted');
      await m.close();
      steps = n;
      break;
    }
    crashedAt.add(faulty.crashed.replace(/\d{20}/g, 'N').replace(/fd \d+/, 'fd').replace(/crash-\d+/g, ''));
    m.abandon();
    fs.rmSync(`${dataDir}/.kafka_cleanshutdown`, { force: true });
    const reopened = await LogManager.open({ dataDir, clock, schedulers: false, logger: quietLogger, cleanerInline: true, topicConfigs });
    const again = reopened.getLog('x', 0)!;
    checkConsistent(again, model, endOffset, `crash at step ${n} (${faulty.crashed})`);
    for (const name of fs.readdirSync(again.dir)) assert.ok(!/\.(cleaned|swap)$/.test(name), `crash at step ${n}: ${name} left behind`);
    again.updateHighWatermark(again.logEndOffset);
    await again.flush();
    await reopened.cleaner.cleanLogNow(again);
    checkConsistent(again, model, endOffset, `clean after the crash at step ${n}`);
    await reopened.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  assert.ok(steps >= 10, `a clean has at least 10 file steps (saw ${steps})`);
  const kinds = [...crashedAt].join('\n');
  for (const expected of ['.log.cleaned', 'rename', '.swap', '.deleted']) assert.ok(kinds.includes(expected), `crashed during a step naming ${expected}:\n${kinds}`);
});
