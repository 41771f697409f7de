/**
 * Old Go clients from Debian against a broker started like `npm start` (main.ts as a child
 * process): kafka-go 0.2 (Produce v2 / Fetch v2 / ListOffsets v1, message format v1) and
 * Sarama 1.22 in its default configuration (protocol version 0.8.2: Metadata v0, Produce
 * v0 / Fetch v0 / ListOffsets v0, message format v0). Each produces keyed messages in every
 * codec it offers and reads them back; Sarama also reads what a modern client (KafkaJS,
 * gzip v2 batches with headers) wrote, through down-conversion.
 *
 * The Go programs (test/compat/go/) are built with Debian's Go in GOPATH mode against the
 * Debian packages (no module proxy), into a directory keyed by the hash of their sources,
 * so a re-run reuses them. A missing Go toolchain fails the test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CompressionTypes, Kafka, logLevel } from 'kafkajs';
import { REPO_ROOT, freePort, requireTool, run, spawnBroker, tempDir } from './kit.js';

const GO_SOURCES = join(REPO_ROOT, 'test/compat/go');
const PROGRAMS = ['kafkago02', 'sarama'] as const;
/** Where Debian's golang-*-dev packages put their sources (GOPATH layout). */
const DEBIAN_GOPATH = '/usr/share/gocode';
const COUNT = 500;

interface Line {
  offset: number;
  key: string;
  value: string;
  timestampMs: number;
}

/** Builds (or reuses) the Go programs; returns the directory holding the binaries. */
async function buildPrograms(): Promise<string> {
  requireTool('go');
  const hash = createHash('sha256');
  for (const program of PROGRAMS) {
    for (const file of readdirSync(join(GO_SOURCES, program)).sort()) {
      hash.update(`${program}/${file}\0`).update(readFileSync(join(GO_SOURCES, program, file)));
    }
  }
  const dir = join(tmpdir(), `tributary-go-clients-${hash.digest('hex').slice(0, 16)}`);
  mkdirSync(dir, { recursive: true });
  for (const program of PROGRAMS) {
    const binary = join(dir, program);
    if (existsSync(binary)) continue;
    const env = { GO111MODULE: 'off', GOPATH: `${join(dir, 'gopath')}:${DEBIAN_GOPATH}`, GOCACHE: join(dir, 'cache'), GOFLAGS: '' };
    const built = await run('go', ['build', '-o', `${binary}.tmp`, '.'], { cwd: join(GO_SOURCES, program), env, timeoutMs: 300_000 });
    assert.equal(built.code, 0, `go build ${program} failed:\n${built.stderr}`);
    renameSync(`${binary}.tmp`, binary);
  }
  return dir;
}

function parseLines(stdout: Buffer): Line[] {
  return stdout.toString('utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Line);
}

function assertMessages(lines: readonly Line[], count: number, what: string, value = (i: number) => `value-${i}`): void {
  assert.equal(lines.length, count, `${what}: expected ${count} messages, got ${lines.length}`);
  for (let i = 0; i < count; i++) {
    const l = lines[i]!;
    assert.deepEqual([l.offset, l.key, l.value], [i, `key-${i}`, value(i)], `${what}: message ${i}`);
  }
}

test('kafka-go 0.2 and Sarama 1.22 (default protocol 0.8.2) produce and consume through the broker', { timeout: 600_000 }, async (t) => {
  const bin = await buildPrograms();
  const port = await freePort();
  const broker = await spawnBroker(t, { dataDir: tempDir(t), port });
  const admin = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  t.after(() => admin.disconnect());

  const runs = [
    ...['none', 'gzip', 'snappy', 'lz4'].map((codec) => ({ program: 'kafkago02', codec, args: [] as string[] })),
    { program: 'kafkago02', codec: 'gzip', args: ['-group', 'kafka-go-group'] },
    ...['none', 'gzip', 'snappy'].map((codec) => ({ program: 'sarama', codec, args: [] as string[] })),
    // Then commits the next offset (FindCoordinator v0, OffsetCommit v1) and reads it back
    // (OffsetFetch v1); the program fails if it does not come back as committed.
    { program: 'sarama', codec: 'none', args: ['-group', 'sarama-group'] },
  ];
  for (const r of runs) {
    const topic = `${r.program}-${r.codec}${r.args.length > 0 ? '-group' : ''}`;
    assert.equal(await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true }), true);
    const startMs = Date.now();
    const out = await run(join(bin, r.program), ['-broker', broker.bootstrap, '-topic', topic, '-n', String(COUNT), '-codec', r.codec, ...r.args], { timeoutMs: 120_000 });
    assert.equal(out.code, 0, `${topic}: ${r.program} failed:\n${out.stderr}`);
    const lines = parseLines(out.stdout);
    assertMessages(lines, COUNT, topic);
    if (r.program === 'sarama' && r.args.length > 0) assert.match(out.stderr, new RegExp(`committed offset ${COUNT} read back`), topic);
    if (r.program === 'kafkago02') {
      // Message format v1 carries the producer's timestamps through (CreateTime).
      for (const l of lines) assert.ok(l.timestampMs >= startMs - 1000 && l.timestampMs <= Date.now() + 1000, `${topic}: timestamp ${l.timestampMs}`);
    }
  }

  // What a modern client wrote (v2 batches, gzip, headers) reaches Sarama's Fetch v0 as
  // down-converted magic 0 messages.
  const topic = 'kafkajs-to-sarama';
  assert.equal(await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true }), true);
  const producer = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING }).producer();
  await producer.connect();
  t.after(() => producer.disconnect());
  for (let from = 0; from < COUNT; from += 100) {
    const messages = Array.from({ length: 100 }, (_, j) => ({ key: `key-${from + j}`, value: `modern-${from + j}`, headers: { trace: 'x' } }));
    await producer.send({ topic, messages, compression: CompressionTypes.GZIP, acks: -1 });
  }
  const out = await run(join(bin, 'sarama'), ['-broker', broker.bootstrap, '-topic', topic, '-n', String(COUNT), '-produce=false'], { timeoutMs: 120_000 });
  assert.equal(out.code, 0, `sarama reading ${topic} failed:\n${out.stderr}`);
  assertMessages(parseLines(out.stdout), COUNT, topic, (i) => `modern-${i}`);
});
