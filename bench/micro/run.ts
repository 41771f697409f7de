// Runs every micro-benchmark (records, compression, protocol), prints one table, and
// rewrites the micro section of docs/benchmarks.md: the text between
// `<!-- micro:begin -->` and `<!-- micro:end -->` (created at the end of the file when
// missing; every other section is left alone).
//
// Run: (cd bench && npm run micro)
//   or node --conditions=source --import tsx bench/micro/run.ts [--no-docs] [--docs PATH] [--max-wait-s N]
//
// Each benchmark runs in its own Node process, so one's JIT state and garbage do not
// colour the next. The machines are shared: before starting, the runner waits (up to
// --max-wait-s, default 300) for the 1-minute load average to drop below QUIET_LOAD, and
// when it never does it runs anyway and says so in the section.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { availableParallelism, loadavg, release, totalmem } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const BENCHMARKS = ['records', 'compression', 'protocol'] as const;
/** Below this 1-minute load average a 2-core machine has a core to spare for the run. */
const QUIET_LOAD = 1.5;
const LOAD_POLL_MS = 15_000;
const BEGIN_MARKER = '<!-- micro:begin -->';
const END_MARKER = '<!-- micro:end -->';
const VALIDATE_ROW = 'validateBatch (CRC + record walk), 1 MiB';
const CRC_ROW = 'crc32c, same bytes as the batch';
/** The target for batch validation as a share of CRC-32C alone. */
const VALIDATE_TARGET = 0.5;

const here = import.meta.dirname;
const repoRoot = resolve(here, '..', '..');
const { values: args } = parseArgs({
  options: {
    'no-docs': { type: 'boolean', default: false },
    docs: { type: 'string', default: join(repoRoot, 'docs', 'benchmarks.md') },
    'max-wait-s': { type: 'string', default: '300' },
  },
});

interface Row {
  bench: string;
  name: string;
  mbPerSecond: number;
  note: string;
}

/** Parses the `name  123 MB/s  note` lines that measure.ts's row() prints. */
function parseRows(bench: string, stdout: string): { rows: Row[]; context: string[] } {
  const rows: Row[] = [];
  const context: string[] = [];
  for (const line of stdout.split('\n')) {
    const m = /^(.+?)\s+(\d+) MB\/s(?:\s+(.*))?$/.exec(line);
    if (m) rows.push({ bench, name: m[1]!.trim(), mbPerSecond: Number(m[2]), note: (m[3] ?? '').trim() });
    else if (line.trim() !== '') context.push(line.trim());
  }
  return { rows, context };
}

function runBenchmark(name: string): Promise<string> {
  const file = join(here, `${name}.ts`);
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', file], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      process.stdout.write(d);
    });
    child.once('error', rej);
    child.once('close', (code) => (code === 0 ? res(out) : rej(new Error(`micro/${name}.ts exited with ${code}`))));
  });
}

async function waitForQuiet(maxWaitMs: number): Promise<{ load: number; waitedMs: number }> {
  const start = performance.now();
  for (;;) {
    const load = loadavg()[0]!;
    const waitedMs = performance.now() - start;
    if (load < QUIET_LOAD || waitedMs >= maxWaitMs) return { load, waitedMs };
    console.log(`load average ${load.toFixed(2)} >= ${QUIET_LOAD}; waiting (${Math.round(waitedMs / 1000)} of ${maxWaitMs / 1000} s)`);
    await new Promise((r) => setTimeout(r, LOAD_POLL_MS));
  }
}

function machine(): string {
  let cpuModel = 'unknown CPU';
  try {
    cpuModel = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpuModel;
  } catch {
    // Not Linux: the model stays unknown rather than failing the run.
  }
  const memGiB = (totalmem() / 2 ** 30).toFixed(1);
  return `${availableParallelism()} CPUs (nproc), ${cpuModel}, ${memGiB} GiB memory, Linux ${release()}, Node ${process.version}`;
}

function table(rows: Row[]): string[] {
  const lines = ['| benchmark | measurement | MB/s | notes |', '|---|---|---:|---|'];
  for (const r of rows) lines.push(`| ${r.bench} | ${r.name} | ${r.mbPerSecond.toLocaleString('en-US')} | ${r.note.replaceAll('|', '\\|')} |`);
  return lines;
}

function writeSection(path: string, section: string): void {
  mkdirSync(dirname(path), { recursive: true });
  let text = existsSync(path) ? readFileSync(path, 'utf8') : '# Benchmarks\n\nFigures measured by the harnesses in `bench/` (see bench/README.md).\n';
  const begin = text.indexOf(BEGIN_MARKER);
  const end = text.indexOf(END_MARKER);
  if (begin >= 0 && end > begin) text = text.slice(0, begin) + section + text.slice(end + END_MARKER.length);
  else text = `${text.replace(/\s*$/, '')}\n\n${section}\n`;
  writeFileSync(path, text);
}

const maxWaitMs = Number(args['max-wait-s']) * 1000;
const quiet = await waitForQuiet(maxWaitMs);
const startedAt = new Date();
const rows: Row[] = [];
const context: string[] = [];
for (const name of BENCHMARKS) {
  console.log(`\n== micro/${name}.ts`);
  const parsed = parseRows(name, await runBenchmark(name));
  rows.push(...parsed.rows);
  context.push(...parsed.context.map((c) => `${name}: ${c}`));
}
const loadAfter = loadavg()[0]!;

const validate = rows.find((r) => r.name === VALIDATE_ROW);
const crc = rows.find((r) => r.name === CRC_ROW);
if (validate === undefined || crc === undefined) throw new Error(`records.ts printed no '${VALIDATE_ROW}' or '${CRC_ROW}' row`);
const ratio = validate.mbPerSecond / crc.mbPerSecond;
const ratioLine = `Batch validation (CRC-32C + record walk) runs at **${(ratio * 100).toFixed(0)}%** of CRC-32C alone over the same 1 MiB batch ` +
  `(${validate.mbPerSecond.toLocaleString('en-US')} vs ${crc.mbPerSecond.toLocaleString('en-US')} MB/s; target >= ${VALIDATE_TARGET * 100}%: ${ratio >= VALIDATE_TARGET ? 'met' : 'NOT met'}).`;

console.log('\n' + table(rows).join('\n'));
console.log(`\n${ratioLine.replaceAll('**', '')}`);

const quietNote = quiet.load < QUIET_LOAD
  ? `1-minute load average ${quiet.load.toFixed(2)} at the start (quiet: < ${QUIET_LOAD}), ${loadAfter.toFixed(2)} at the end.`
  : `**The machine was not quiet**: 1-minute load average ${quiet.load.toFixed(2)} at the start after waiting ${Math.round(quiet.waitedMs / 1000)} s ` +
    `(wanted < ${QUIET_LOAD}), ${loadAfter.toFixed(2)} at the end; other work shared the CPUs, so these figures are low and noisy.`;
const section = [
  BEGIN_MARKER,
  '## Micro-benchmarks',
  '',
  `Command: \`cd bench && npm run micro\` (that is, \`node --conditions=source --import tsx bench/micro/run.ts\`), ` +
    `run ${startedAt.toISOString()}. Machine: ${machine()}. ${quietNote}`,
  '',
  'Each figure is the median of 50 ms batches over ~1.5 s after warm-up, one Node process per benchmark file. ' +
    'MB/s = 10^6 bytes per second of the input (or the encoded frame); ops/s = messages per second.',
  '',
  ratioLine,
  '',
  ...table(rows),
  '',
  ...context.map((c) => `- ${c}`),
  END_MARKER,
].join('\n');

if (!args['no-docs']) {
  writeSection(args.docs!, section);
  console.log(`wrote the micro section of ${relative(process.cwd(), args.docs!) || args.docs}`);
}
