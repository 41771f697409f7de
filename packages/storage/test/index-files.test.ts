import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { OffsetIndex } from '../src/offset-index.js';
import { TimeIndex } from '../src/time-index.js';
import { tempDir } from './helpers.js';

// After a truncation the in-memory index is shorter than the file. A persist without
// fsync (the flush path of the active segment) must still cut the file: the stale
// entries past the new end would otherwise survive in it, and a later load would see
// offsets the log no longer holds.
test('a truncated index is dirty until its file is cut to the new length', (t) => {
  const dir = tempDir(t);
  const offsetFile = `${dir}/0.index`;
  const timeFile = `${dir}/0.timeindex`;
  const offsets = new OffsetIndex(0, 1 << 20);
  const times = new TimeIndex(0, 1 << 20);
  for (let i = 0; i < 10; i++) {
    offsets.append(i * 10, i * 1000);
    times.maybeAppend(1000 + i, i * 10);
  }
  offsets.persist(offsetFile, false);
  times.persist(timeFile, false);
  assert.equal(offsets.isDirty(), false);
  assert.equal(fs.statSync(offsetFile).size, 10 * 8);
  assert.equal(fs.statSync(timeFile).size, 10 * 12);

  offsets.truncate(45, 4500);
  times.truncate(45);
  assert.equal(offsets.isDirty(), true, 'the offset index file holds entries past the new end');
  assert.equal(times.isDirty(), true, 'the time index file holds entries past the new end');
  offsets.persist(offsetFile, false);
  times.persist(timeFile, false);
  assert.equal(fs.statSync(offsetFile).size, 5 * 8);
  assert.equal(fs.statSync(timeFile).size, 5 * 12);
  assert.equal(offsets.isDirty(), false);
  assert.equal(times.isDirty(), false);
});
