import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ASSERTION_ERROR_CODE, AssertionError, assert as invariant, assertAtMost, assertBelow } from '../src/index.js';

test('assertions throw AssertionError with the stable code, quoting values only when they fire', () => {
  invariant(true, 'holds');
  assertAtMost(3, 3, 'equal is at most');
  assertBelow(2, 3, 'below');
  const fired = (fn: () => void, message: RegExp) => assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof AssertionError);
    assert.equal(err.code, ASSERTION_ERROR_CODE);
    assert.equal(err.code, 'TRIB_ERR_ASSERTION');
    assert.match(err.message, message);
    return true;
  });
  fired(() => invariant(false, 'the invariant'), /^Assertion failed: the invariant$/);
  fired(() => assertAtMost(5, 4, 'high watermark <= log end offset'), /high watermark <= log end offset \(5 <= 4 does not hold\)/);
  fired(() => assertBelow(4, 4, 'entries increase'), /entries increase \(4 < 4 does not hold\)/);
  fired(() => assertAtMost(Number.NaN, 4, 'NaN never passes'), /NaN <= 4/);
  fired(() => assertBelow(1, Number.NaN, 'NaN never passes'), /1 < NaN/);
});
