// One lane of scripts/test.sh: runs test files with Node's test runner (node:test's run(),
// which is what `node --test` uses) in the order given, `concurrency` at a time. The CLI sorts
// its files by path, so a long file whose path sorts late starts last and ends the lane alone;
// here the caller puts the long files first and the short ones fill in around them.
//
//   node --conditions=source --import tsx scripts/test-lane.mjs CONCURRENCY SHOWN TAP_FILE FILE...
//
// SHOWN is the reporter written to stdout (spec or tap); a TAP copy goes to TAP_FILE (test.sh adds the totals up from it). The
// children inherit this process's --conditions=source and --import tsx, as under `node --test`.
// At the end the lane prints its ten slowest files (sum of their top-level tests' durations),
// so a CI log shows where the time went. The exit status is 1 when any test failed, or a file
// failed outside its tests (a crash, a non-zero exit).
import { createWriteStream } from 'node:fs';
import { relative } from 'node:path';
import { finished } from 'node:stream/promises';
import { run } from 'node:test';
import { spec, tap } from 'node:test/reporters';

const [concurrencyArg, shown, tapFile, ...files] = process.argv.slice(2);
const concurrency = Number(concurrencyArg);
if (!Number.isInteger(concurrency) || concurrency < 1 || (shown !== 'spec' && shown !== 'tap') || !tapFile || files.length === 0) {
  console.error('usage: test-lane.mjs CONCURRENCY spec|tap TAP_FILE FILE...');
  process.exit(2);
}

/** How many of the slowest files the closing lines name. */
const SLOWEST_SHOWN = 10;

const stream = run({ files, concurrency });
const perFileMs = new Map();
let failed = false;
stream.on('test:pass', (d) => {
  if (d.nesting === 0 && d.file) perFileMs.set(d.file, (perFileMs.get(d.file) ?? 0) + (d.details?.duration_ms ?? 0));
});
stream.on('test:fail', (d) => {
  if (d.nesting === 0 && d.todo === undefined) failed = true;
  if (d.nesting === 0 && d.file) perFileMs.set(d.file, (perFileMs.get(d.file) ?? 0) + (d.details?.duration_ms ?? 0));
});

const shownStream = stream.compose(shown === 'spec' ? spec : tap);
shownStream.pipe(process.stdout, { end: false });
const tapOut = createWriteStream(tapFile);
stream.compose(tap).pipe(tapOut);
await Promise.all([finished(shownStream), finished(tapOut)]);
const slowest = [...perFileMs].sort((a, b) => b[1] - a[1]).slice(0, SLOWEST_SHOWN);
/** A bundled test file (scripts/bundle-tests.mjs, `.test-bundles.XXXXXX/<path>.mjs`) is named by its source. */
const sourceOf = (file) => relative(process.cwd(), file).replace(/^\.test-bundles\.[^/]+\/(.*)\.mjs$/, '$1.ts');
for (const [file, ms] of slowest) process.stdout.write(`# slowest file: ${(ms / 1000).toFixed(1)} s ${sourceOf(file)}\n`);
process.exitCode = failed ? 1 : 0;
