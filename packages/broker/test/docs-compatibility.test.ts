// The compatibility matrix in docs/ is generated from the handler registry; this keeps it true.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';

test('docs/compatibility.md matches the handler registry', () => {
  const script = resolve(import.meta.dirname, '../scripts/compat-doc.ts');
  const r = spawnSync(process.execPath, ['--conditions=source', '--import', 'tsx', script, '--check'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr + r.stdout);
});
