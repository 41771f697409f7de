// TLS against PLAINTEXT in the same run (issue 19): one broker process with a PLAINTEXT and
// an SSL listener; a client (TLS_BENCH_CLIENT, default tribload) produces then consumes COUNT
// records of 1 KiB over each, alternating which goes first, ROUNDS times. Prints msgs/s and
// MB/s per round, CPU microseconds per record of the broker and of the client, and the
// TLS/PLAINTEXT ratio of the medians. Throwaway certificates come from openssl in a temp dir.
//
//   bash bench/setup.sh   (builds bench/.build/tribload)
//   node bench/macro/tls.mjs [count=200000] [rounds=3]
//
// Clients (TLS_BENCH_CLIENT; create and delete are tribload's in every case):
//   tribload  librdkafka 2.0.2 (bench/loadgen/tribload.c). Against librdkafka's defaults:
//             acks=1, queue.buffering.max.kbytes=65536, queue.buffering.max.messages=1000000,
//             socket.nagle.disable=true (linger.ms=5 and batch.size=1000000 are the defaults);
//             the consumer is group-less (consume_start at offset 0) with
//             queued.min.messages=200000, fetch.wait.max.ms=100.
//             TLS_BENCH_RDKAFKA_CONFIG='message.copy.max.bytes=... batch.size=...' adds -X
//             properties to its produce and consume on BOTH protocols. No librdkafka 2.0.2
//             setting makes it copy every uncompressed value into its request buffer (counted
//             with TLS_BENCH_SYSCALLS=perf, client writes per record over SSL: defaults 0.47,
//             message.copy.max.bytes=1048576 0.47, =0 2.0, batch.size=65536 0.99;
//             compression.type=lz4 0.03, one compressed piece per batch): the request buffer
//             grows in segments of half its size so far, a value is copied only while the
//             buffer has more room left than the value, and a value pushed by reference
//             splits the segment, so the next values are pushed too until the record headers
//             fill the split-off tail. Over SSL each piece is its own SSL_write, TLS record
//             and write(2); over PLAINTEXT the pieces go out in one sendmsg.
//   sarama    Sarama 1.22 (bench/loadgen/saramaload, Go; built here on first use with Debian's
//             golang-go and golang-github-shopify-sarama-dev in GOPATH mode): its defaults but
//             Version=V2_1_0_0, Producer.Return.Successes; TLS via config.Net.TLS.
//   kafkajs   KafkaJS 2.2.4 (bench/loadgen/kafkajsload.mjs): send() of 1000 records, 4 in
//             flight, acks=1; a group consumer (eachBatch, KafkaJS's defaults) timed from its
//             first record.
//   python    confluent-kafka-python 1.7.0 (Debian's, on librdkafka 2.0.2; bench/loadgen/pyload.py):
//             librdkafka's defaults but acks=1 and socket.nagle.disable; assign() consumer.
//   TLS_BENCH_CLIENT_ARGS='...' passes arguments to sarama/kafkajs/python on both protocols
//   (e.g. '-fetch-bytes 1048576' for Sarama, '--batch 200 --inflight 8' for KafkaJS).
//
// Environment: TLS_BENCH_PROTOCOLS=SSL (or PLAINTEXT) runs one side only;
// TLS_BENCH_NODE_ARGS='--max-semi-space-size=32' passes options to the broker's node; with
// '--trace-gc' (and '--trace-incremental-marking' for why each full GC's marking started) each
// timed run prints the broker's scavenges and mark-compacts per MiB of values, their pauses and
// the full GCs' reasons (the broker's stdout goes to a file, line-buffered by stdbuf);
// TLS_BENCH_CPU_PROF=<dir> runs the broker under `node --cpu-prof` writing its profile there
// (read it with bench/macro/lib/cpuprofile-top.mjs or Chrome's DevTools);
// TLS_BENCH_SSL_CONFIG='ssl.cipher.suites=TLS_AES_256_GCM_SHA384' sets SSL listener keys
// (space-separated key=value) to compare settings;
// TLS_BENCH_SYSCALLS=perf counts the client's and the broker's read/write system calls per
// record in each timed run (perf stat on the syscall tracepoints: cheap enough to leave the
// figures near a plain run's); TLS_BENCH_SYSCALLS=strace counts the client's with strace -c -f
// (slows the client a lot: batching and so the counts change; use it where perf is missing).
// Both count every read and write of the process, not only the socket's: file reads, and in a
// Node process libuv's eventfd wake-ups, so for KafkaJS (and the broker) they are an upper
// bound of the socket calls; the C clients' socket calls stand out clearly;
// TLS_BENCH_SHOW_CLIENT=1 prints each client run's own JSON line (kafkajsload's includes the
// requests it sent by API, e.g. 9 Fetch and 53 OffsetCommit for 50,000 records);
// TLS_BENCH_PERF_RECORD=<dir> records `perf record -g` of the broker for each timed run there
// (broker-<mode>-<protocol>-<topic>.perf.data; add TLS_BENCH_NODE_ARGS=--perf-basic-prof for
// JavaScript names; read with `perf report -i FILE --no-children --sort dso,sym`) and prints
// the run's broker CPU ms per MiB split by part: OpenSSL (linked into node: told apart by
// symbol), kernel, JIT code, V8 builtins, node's C++, libc, and the other threads (V8's
// concurrent marking and sweeping, compiler); --perf-basic-prof itself brought full GCs
// into SSL consume runs that --trace-gc alone did not show (8 against 0 per 200 MiB);
// TLS_BENCH_PRODUCER=rawload produces with rawload (bench/loadgen/rawload.c: raw Produce
// requests, one thread) instead of librdkafka, over SSL through a TLS front (a Node process
// that accepts rawload's plain connection and forwards it with tls.connect, so each
// socket read of up to 64 KiB goes out as whole 16 KiB TLS records, where librdkafka writes
// one small TLS record per value). It shows the broker's TLS cost apart from how the client
// writes; the client's CPU is then rawload's plus the front's. Consume is TLS_BENCH_CLIENT's.
//
// Fairness: both listeners are served by the same broker process and the same client
// program with the same settings; the SSL side adds only TLS and the CA, as a Kafka client
// on TLS does. Every client run keeps its connections for the whole run (one TLS
// handshake per broker connection), so the ratio measures the data path, not session setup.
// Client CPU is GNU time's user+system for the whole client process (start-up included:
// a Node or Python client's start-up is a visible part of a short run's us/record).
// Every timed run starts from the same disk state: each protocol produces into a fresh
// topic, the topic is deleted after its consume, and before each produce and consume the
// bench runs sync(1) and waits until the kernel's dirty and write-back pages are under
// DRAIN_QUIET_KB (WAIT_DRAIN_MAX_MS at most). Without that, a run that followed a produce
// paid for the earlier run's write-back, and PLAINTEXT produce moved between 250k and 600k
// msgs/s from round to round (the produce ratio between 36% and 56%).
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createServer } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { cpuSeconds, sampleThreadCpu } from './lib/procfs.mjs';

const ROOT = resolve(import.meta.dirname, '..', '..');
const TRIBLOAD = join(ROOT, 'bench', '.build', 'tribload');
const COUNT = Number(process.argv[2] ?? 200_000);
const ROUNDS = Number(process.argv[3] ?? 3);
const SIZE = 1024;

const dir = mkdtempSync(join(tmpdir(), 'tributary-tls-bench-'));
const openssl = (...args) => {
  const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
};
const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
openssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=Bench CA');
writeFileSync(join(dir, 'ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
openssl('req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'ext');

const PRODUCER = process.env.TLS_BENCH_PRODUCER ?? 'tribload';
const RAWLOAD = join(ROOT, 'bench', '.build', 'rawload');
const CLIENT = process.env.TLS_BENCH_CLIENT ?? 'tribload';
if (!['tribload', 'sarama', 'kafkajs', 'python'].includes(CLIENT)) throw new Error(`TLS_BENCH_CLIENT=${CLIENT}: tribload, sarama, kafkajs or python`);
const SARAMALOAD = join(ROOT, 'bench', '.build', 'saramaload');
const KAFKAJSLOAD = join(ROOT, 'bench', 'loadgen', 'kafkajsload.mjs');
const PYLOAD = join(ROOT, 'bench', 'loadgen', 'pyload.py');
// Built before the broker starts, so a failed build leaves no broker behind.
if (CLIENT === 'sarama') {
  try {
    buildSarama();
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
const words = (v) => (v ?? '').split(' ').filter((a) => a !== '');
/** Extra arguments for the client program (both protocols alike). */
const CLIENT_ARGS = words(process.env.TLS_BENCH_CLIENT_ARGS);
/** librdkafka properties for tribload's produce and consume (both protocols alike). */
const RDKAFKA_X = words(process.env.TLS_BENCH_RDKAFKA_CONFIG).flatMap((kv) => ['-X', kv]);
/** perf (syscall tracepoints, cheap) or strace (-c -f, slows the client): count the client's I/O system calls. */
const SYSCALLS = process.env.TLS_BENCH_SYSCALLS ?? '';
if (!['', 'perf', 'strace'].includes(SYSCALLS)) throw new Error(`TLS_BENCH_SYSCALLS=${SYSCALLS}: perf or strace`);
/** Prints each client run's JSON line (KafkaJS's has its requests by API, tribload's its latencies). */
const SHOW_CLIENT = process.env.TLS_BENCH_SHOW_CLIENT === '1';
/** Records a perf profile of the broker (perf record -g, 1999 Hz) for each timed run into this directory. */
const PERF_RECORD_DIR = process.env.TLS_BENCH_PERF_RECORD !== undefined ? resolve(process.env.TLS_BENCH_PERF_RECORD) : undefined;
const IO_SYSCALLS = ['write', 'writev', 'sendto', 'sendmsg', 'read', 'readv', 'recvfrom', 'recvmsg'];
const freePort = () => new Promise((res) => { const s = createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => res(p)); }); });
const plainPort = await freePort();
const sslPort = await freePort();
const overrides = {
  listeners: `PLAINTEXT://127.0.0.1:${plainPort},SSL://127.0.0.1:${sslPort}`,
  'log.dirs': join(dir, 'data'),
  'ssl.keystore.type': 'PEM',
  'ssl.keystore.location': join(dir, 'server.pem'),
};
writeFileSync(join(dir, 'server.pem'), spawnSync('cat', [join(dir, 'server.key'), join(dir, 'server.crt')]).stdout);
for (const kv of (process.env.TLS_BENCH_SSL_CONFIG ?? '').split(' ').filter((a) => a !== '')) {
  const eq = kv.indexOf('=');
  overrides[`listener.name.ssl.${kv.slice(0, eq)}`] = kv.slice(eq + 1);
}
const PROTOCOLS = (process.env.TLS_BENCH_PROTOCOLS ?? 'PLAINTEXT,SSL').split(',');
const profileDir = process.env.TLS_BENCH_CPU_PROF;
const nodeArgs = (process.env.TLS_BENCH_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
const args = [...nodeArgs, ...(profileDir ? ['--cpu-prof', '--cpu-prof-dir', resolve(profileDir)] : []), '--conditions=source', '--import', 'tsx', join(ROOT, 'packages/broker/src/main.ts')];
for (const [k, v] of Object.entries(overrides)) args.push('--override', `${k}=${v}`);
// The broker's stdout goes to a file, not a pipe: the client runs under spawnSync, which
// blocks this process, and a pipe full of --trace-gc lines would block the broker. V8 prints
// those lines with C stdio, block-buffered into a file: stdbuf makes it line-buffered so each
// run's GCs are counted in that run (stdbuf execs node: same PID).
const traceGc = nodeArgs.some((a) => a.startsWith('--trace-gc') || a.startsWith('--trace-incremental-marking')) && existsSync('/usr/bin/stdbuf');
const brokerOut = join(dir, 'broker.out');
const brokerOutFd = openSync(brokerOut, 'w');
const broker = traceGc
  ? spawn('/usr/bin/stdbuf', ['-oL', process.execPath, ...args], { cwd: ROOT, stdio: ['ignore', brokerOutFd, 'inherit'] })
  : spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', brokerOutFd, 'inherit'] });
closeSync(brokerOutFd);
/**
 * The broker's garbage collections so far, from its stdout under TLS_BENCH_NODE_ARGS=--trace-gc
 * (one line per GC: `... ms: Mark-Compact 12.1 (14.0) -> 10.2 (14.5) MB, 3.1 / 0.0 ms ... <reason>`):
 * counts by kind, full GCs by reason, and their pause milliseconds on the main thread.
 * Lines of every isolate count (tsx's loader thread has one too; it is idle during runs).
 */
const gc = { scavenges: 0, scavengeMs: 0, markCompacts: 0, markCompactMs: 0, reasons: {} };
let brokerOutAt = 0;
let brokerOutTail = '';
/** Reads what the broker printed since the last call; counts its GC lines; returns the text. */
function readBrokerOut() {
  const size = statSync(brokerOut).size;
  if (size <= brokerOutAt) return '';
  const buf = Buffer.alloc(size - brokerOutAt);
  const fd = openSync(brokerOut, 'r');
  try {
    readSync(fd, buf, 0, buf.length, brokerOutAt);
  } finally {
    closeSync(fd);
  }
  brokerOutAt = size;
  const text = brokerOutTail + buf.toString('utf8');
  const lines = text.split('\n');
  brokerOutTail = lines.pop();
  for (const line of lines) countGc(line);
  return text;
}
await new Promise((res, rej) => {
  let seen = '';
  const poll = setInterval(() => {
    seen += readBrokerOut();
    if (seen.includes('listening on')) { clearInterval(poll); res(); }
  }, 50);
  broker.once('exit', (code) => { clearInterval(poll); rej(new Error(`broker exited ${code}`)); });
});
function countGc(line) {
  // With --trace-incremental-marking too, why each full GC's marking started.
  const start = /\[IncrementalMarking\] Start \(([^)]*)\)/.exec(line);
  if (start !== null) {
    gc.reasons[`marking started: ${start[1]}`] = (gc.reasons[`marking started: ${start[1]}`] ?? 0) + 1;
    return;
  }
  const kind = /ms: (Scavenge|Mark-Compact|Minor Mark-Sweep|Mark-Sweep)\b/.exec(line);
  if (kind === null) return;
  const ms = Number(/MB, ([0-9.]+) \//.exec(line)?.[1] ?? 0);
  if (kind[1] === 'Scavenge' || kind[1] === 'Minor Mark-Sweep') {
    gc.scavenges++;
    gc.scavengeMs += ms;
    return;
  }
  gc.markCompacts++;
  gc.markCompactMs += ms;
  const reason = (/current mu = [0-9.]+\) (.*)$/.exec(line)?.[1] ?? 'unknown').replace(/;\s*$/, '').trim();
  gc.reasons[reason] = (gc.reasons[reason] ?? 0) + 1;
}
const gcSnapshot = () => {
  readBrokerOut();
  return { ...gc, reasons: { ...gc.reasons } };
};
const gcSince = (before) => {
  readBrokerOut();
  const reasons = {};
  for (const [k, v] of Object.entries(gc.reasons)) if (v > (before.reasons[k] ?? 0)) reasons[k] = v - (before.reasons[k] ?? 0);
  return { scavenges: gc.scavenges - before.scavenges, scavengeMs: gc.scavengeMs - before.scavengeMs, markCompacts: gc.markCompacts - before.markCompacts, markCompactMs: gc.markCompactMs - before.markCompactMs, reasons };
};
/** A MiB: CPU and GCs are given per MiB of record values (COUNT * SIZE bytes). */
const MB = 1024 * 1024;

/**
 * Splits a perf record of the broker by part, as CPU ms per MiB of values (the run's CPU
 * seconds shared out by sample counts): OpenSSL (libcrypto, libssl), the kernel, JavaScript
 * (JIT code: perf-<pid>.map with --perf-basic-prof, or unnamed [JIT] addresses), the node
 * binary (V8, libuv, Node's C++: its main thread) and the other threads of the process (V8's
 * GC and compiler helpers, libuv's pool), whatever library they run.
 */
const OPENSSL_SYMBOL = /^(generic_aes|_?aesni|_?aes_|gcm_|_?gcm|ossl_|SSL_|ssl\d*_|tls\d*_|tls_|dtls|BIO_|bio_|EVP_|evp_|CRYPTO_|OPENSSL_|ERR_|RECORD_LAYER|sha\d+|SHA\d+|_?x25519|ecp_nistz|bn_|BN_|RAND_|rand_|OSSL_|ossl|ctr|chacha|ChaCha|poly1305|Poly1305|HMAC|hmac|PACKET_|WPACKET_|ssl_|mem_|buffer_)/;
function perfSplit(file, cpuS) {
  const r = spawnSync('perf', ['report', '-i', file, '--no-children', '--sort', 'pid,dso,sym', '--stdio', '-q', '-g', 'none'], { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) return `perf report failed: ${r.stderr.trim().split('\n').pop()}`;
  const parts = {};
  let mainPid = null;
  const rows = [];
  for (const line of r.stdout.split('\n')) {
    // "    10.75%    25932:node     node                      [.] _aesni_ctr32_ghash_6x"
    const m = /^\s*([0-9.]+)%\s+(\d+):\S+\s+(.+?)\s+\[([.k])\]\s+(.*)$/.exec(line);
    if (m === null) continue;
    rows.push({ pct: Number(m[1]), tid: Number(m[2]), dso: m[3].trim(), kernel: m[4] === 'k', sym: m[5] });
  }
  // The main thread's TID is the PID.
  mainPid = broker.pid;
  for (const { pct, tid, dso, kernel, sym } of rows) {
    let part;
    if (tid !== mainPid) part = 'other threads (GC, compiler, pool)';
    else if (kernel) part = 'kernel';
    // Node links OpenSSL statically: its functions are told apart by name within the node binary.
    else if (/libcrypto|libssl/.test(dso) || (dso === 'node' && OPENSSL_SYMBOL.test(sym))) part = 'openssl';
    else if (/perf-\d+\.map|\[JIT\]|^\[unknown\]$/.test(dso) || sym.startsWith('JS:')) part = 'js (JIT)';
    else if (dso === 'node' && /^Builtins_/.test(sym)) part = 'v8 builtins';
    else if (dso === 'node') part = 'node (V8, libuv, C++)';
    else if (/libc\.so|libc-|\[vdso\]/.test(dso)) part = 'libc';
    else part = 'other libs';
    parts[part] = (parts[part] ?? 0) + pct;
  }
  const mb = (COUNT * SIZE) / MB;
  const total = Object.values(parts).reduce((a, b) => a + b, 0) || 1;
  return Object.entries(parts).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${((1000 * cpuS * v) / total / mb).toFixed(2)}`).join(', ') + ' (CPU ms per MiB)';
}

// What the SSL listener negotiates with an OpenSSL client offering OpenSSL's default list
// (TLS_AES_256_GCM_SHA384 first, as librdkafka does): the server's preference decides.
if (PROTOCOLS.includes('SSL')) {
  const negotiated = await new Promise((res) => {
    const s = tlsConnect({ host: '127.0.0.1', port: sslPort, ca: readFileSync(join(dir, 'ca.crt')), servername: 'localhost' }, () => { res(`${s.getProtocol()} ${s.getCipher().standardName}`); s.end(); });
    s.on('error', (err) => res(`handshake failed: ${err.message}`));
  });
  const librdkafka = spawnSync('dpkg-query', ['-W', '-f', '${Version}', 'librdkafka1'], { encoding: 'utf8' }).stdout || 'unknown';
  const libssl = spawnSync('dpkg-query', ['-W', '-f', '${Version}', 'libssl3'], { encoding: 'utf8' }).stdout || 'unknown';
  console.log(`client ${CLIENT}; SSL listener negotiates ${negotiated}; librdkafka ${librdkafka} with OpenSSL ${libssl}; broker Node ${process.versions.node} with OpenSSL ${process.versions.openssl}`);
}

// CPU seconds (user + system) a process has used so far, from /proc (Linux).
const brokerCpuS = () => cpuSeconds(broker.pid);

/** Runs a client command to its end without blocking the event loop (so samplers run). */
function runClient(file, argv) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
    const stopSampling = sampleThreadCpu(child.pid);
    child.once('error', reject);
    child.once('close', (status) => resolvePromise({ status, stdout, stderr, busiestThread: stopSampling() }));
  });
}
/** Minor page faults of the broker so far: fresh memory touched (e.g. a new buffer a file is read into). */
function brokerMinorFaults() {
  const stat = readFileSync(`/proc/${broker.pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[7]);
}

// The TLS front for TLS_BENCH_PRODUCER=rawload: plain in, TLS (the bench CA) out to the SSL listener.
let front = null;
let frontPort = 0;
if (PRODUCER === 'rawload' && PROTOCOLS.includes('SSL')) {
  const script = `
    const net = require('node:net'); const tls = require('node:tls'); const fs = require('node:fs');
    const ca = fs.readFileSync(${JSON.stringify(join(dir, 'ca.crt'))});
    const server = net.createServer((plain) => {
      plain.setNoDelay(true);
      const secure = tls.connect({ host: '127.0.0.1', port: ${sslPort}, ca, servername: 'localhost' });
      secure.setNoDelay(true);
      plain.pipe(secure); secure.pipe(plain);
      const end = () => { plain.destroy(); secure.destroy(); };
      plain.on('error', end); secure.on('error', end); plain.on('close', end); secure.on('close', end);
    });
    server.listen(0, '127.0.0.1', () => console.log('front ' + server.address().port));`;
  front = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  frontPort = await new Promise((res, rej) => {
    let out = '';
    front.stdout.on('data', (d) => { out += d; const m = /front (\d+)/.exec(out); if (m) res(Number(m[1])); });
    front.once('exit', (code) => rej(new Error(`TLS front exited ${code}`)));
  });
}
// The client's CPU seconds come from GNU time when it is installed (Debian's `time` package).
const GNU_TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : null;

/** Dirty plus write-back pages under which the page cache counts as settled (kB). */
const DRAIN_QUIET_KB = 8 * 1024;
/** A disk that never settles (another process writing) delays a run by this much at most. */
const WAIT_DRAIN_MAX_MS = 30_000;
/** Flushes dirty pages and waits for write-back to finish; returns the ms it took. */
function drainPageCache() {
  const started = Date.now();
  spawnSync('sync');
  const unsettledKb = () => {
    const meminfo = readFileSync('/proc/meminfo', 'utf8');
    const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(meminfo)?.[1] ?? 0);
    return kb('Dirty') + kb('Writeback');
  };
  while (unsettledKb() >= DRAIN_QUIET_KB && Date.now() - started < WAIT_DRAIN_MAX_MS) spawnSync('sleep', ['0.1']);
  return Date.now() - started;
}

/** Builds saramaload (Go, GOPATH mode against Debian's /usr/share/gocode) when its source is newer. */
function buildSarama() {
  const src = join(ROOT, 'bench', 'loadgen', 'saramaload');
  if (existsSync(SARAMALOAD) && statSync(SARAMALOAD).mtimeMs >= statSync(join(src, 'main.go')).mtimeMs) return;
  const cache = join(tmpdir(), 'tributary-saramaload-go');
  const env = { ...process.env, GO111MODULE: 'off', GOPATH: `${join(cache, 'gopath')}:/usr/share/gocode`, GOCACHE: join(cache, 'cache'), GOFLAGS: '' };
  const r = spawnSync('go', ['build', '-o', SARAMALOAD, '.'], { cwd: src, env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`go build saramaload (needs golang-go and golang-github-shopify-sarama-dev): ${r.stderr}`);
}

/** The produce or consume command line of TLS_BENCH_CLIENT for one protocol. */
function clientCommand(mode, protocol, topic) {
  const ssl = protocol === 'SSL';
  const bootstrap = `127.0.0.1:${ssl ? sslPort : plainPort}`;
  const ca = join(dir, 'ca.crt');
  const common = ['-b', bootstrap, '-t', topic, '-n', String(COUNT), '-s', String(SIZE)];
  switch (CLIENT) {
    case 'sarama':
      return [SARAMALOAD, [mode, ...common, ...(ssl ? ['-tls-ca', ca] : []), ...CLIENT_ARGS]];
    case 'kafkajs':
      return [process.execPath, [KAFKAJSLOAD, mode, ...common, ...(ssl ? ['--tls-ca', ca] : []), ...CLIENT_ARGS]];
    case 'python':
      return ['/usr/bin/python3', [PYLOAD, mode, ...common, ...(ssl ? ['--tls-ca', ca] : []), ...CLIENT_ARGS]];
    default:
      return [TRIBLOAD, [mode, ...common, '-p', '6', ...(ssl ? ['-X', 'security.protocol=ssl', '-X', `ssl.ca.location=${ca}`] : []), ...RDKAFKA_X]];
  }
}

/** Counts of I/O system calls in a `perf stat -x,` or `strace -c -f` output file. */
function syscallCounts(file) {
  const counts = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    // perf: count,,syscalls:sys_enter_NAME,...   strace: % time  seconds  usecs/call  calls  [errors]  NAME
    const m = /^(\d+),[^,]*,syscalls:sys_enter_(\w+),/.exec(line) ?? /^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)\s*$/.exec(line);
    if (m && IO_SYSCALLS.includes(m[2])) counts[m[2]] = Number(m[1]);
  }
  return counts;
}
const syscallLine = (c) => {
  const per = (names) => (names.reduce((sum, k) => sum + (c[k] ?? 0), 0) / COUNT).toFixed(3);
  return `per record writes ${per(['write', 'writev', 'sendto', 'sendmsg'])}, reads ${per(['read', 'readv', 'recvfrom', 'recvmsg'])} (${Object.entries(c).filter(([, v]) => v > 0).map(([k, v]) => `${k} ${v}`).join(', ')})`;
};
const perfEvents = IO_SYSCALLS.map((n) => `syscalls:sys_enter_${n}`).join(',');

async function tribload(mode, protocol, topic) {
  const port = protocol === 'SSL' ? sslPort : plainPort;
  const extra = protocol === 'SSL' ? ['-X', 'security.protocol=ssl', '-X', `ssl.ca.location=${join(dir, 'ca.crt')}`] : [];
  const argv = [mode, '-b', `127.0.0.1:${port}`, '-t', topic, '-n', String(COUNT), '-s', String(SIZE), '-p', '6', ...extra];
  const raw = mode === 'produce' && PRODUCER === 'rawload';
  const timed = mode === 'produce' || mode === 'consume';
  const [tool, toolArgv] = raw
    ? [RAWLOAD, ['-b', `127.0.0.1:${protocol === 'SSL' ? frontPort : plainPort}`, '-t', topic, '-n', String(COUNT), '-s', String(SIZE), '-p', '6']]
    : timed ? clientCommand(mode, protocol, topic) : [TRIBLOAD, argv];
  if (timed) drainPageCache();
  const countFile = timed && SYSCALLS !== '' ? join(dir, `syscalls-${mode}-${protocol}`) : null;
  const wrapped = countFile === null ? [tool, toolArgv]
    : SYSCALLS === 'perf' ? ['perf', ['stat', '-x,', '-e', perfEvents, '-o', countFile, '--', tool, ...toolArgv]]
    : ['strace', ['-f', '-c', '-o', countFile, tool, ...toolArgv]];
  // The broker's side is counted by perf alone (attached to its PID for the run).
  const brokerPerf = countFile !== null && SYSCALLS === 'perf'
    ? spawn('perf', ['stat', '-x,', '-e', perfEvents, '-o', `${countFile}-broker`, '-p', String(broker.pid)], { stdio: 'ignore' }) : null;
  const perfRecord = timed && PERF_RECORD_DIR !== undefined
    ? spawn('perf', ['record', '-F', '1999', '-g', '-p', String(broker.pid), '-o', join(PERF_RECORD_DIR, `broker-${mode}-${protocol}-${topic}.perf.data`)], { stdio: 'ignore' }) : null;
  if (brokerPerf !== null || perfRecord !== null) spawnSync('sleep', ['0.2']); // perf attaches before the client starts
  const cpuBefore = brokerCpuS();
  const faultsBefore = brokerMinorFaults();
  const gcBefore = gcSnapshot();
  const frontBefore = raw && protocol === 'SSL' ? cpuSeconds(front.pid) : 0;
  const stopBrokerSampling = sampleThreadCpu(broker.pid);
  const r = GNU_TIME !== null
    ? await runClient(GNU_TIME, ['-f', 'CLIENT_CPU %U %S', wrapped[0], ...wrapped[1]])
    : await runClient(wrapped[0], wrapped[1]);
  if (r.status !== 0) throw new Error(`${tool} ${mode} ${protocol}: ${r.stderr}`);
  const out = JSON.parse(r.stdout.trim().split('\n').pop());
  if (SHOW_CLIENT) console.log(`  ${mode} ${protocol} client says: ${r.stdout.trim().split('\n').pop()}`);
  const client = /CLIENT_CPU ([0-9.]+) ([0-9.]+)/.exec(r.stderr);
  out.brokerCpuS = brokerCpuS() - cpuBefore;
  out.busiestThread = r.busiestThread;
  out.brokerBusiestThread = stopBrokerSampling();
  out.gc = gcSince(gcBefore);
  out.brokerFaults = brokerMinorFaults() - faultsBefore;
  out.clientCpuS = (client ? Number(client[1]) + Number(client[2]) : NaN) + (raw && protocol === 'SSL' ? cpuSeconds(front.pid) - frontBefore : 0);
  if (perfRecord !== null) {
    perfRecord.kill('SIGINT');
    await new Promise((res) => perfRecord.once('exit', res));
    console.log(`  perf ${mode} ${protocol} broker CPU by part: ${perfSplit(join(PERF_RECORD_DIR, `broker-${mode}-${protocol}-${topic}.perf.data`), out.brokerCpuS)}`);
  }
  if (timed && (out.gc.scavenges > 0 || out.gc.markCompacts > 0)) {
    const mb = (COUNT * SIZE) / MB;
    const reasons = Object.entries(out.gc.reasons).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${v} ${k}`).join('; ');
    console.log(`  gc ${mode} ${protocol} broker: per MB ${(out.gc.scavenges / mb).toFixed(3)} scavenges, ${(out.gc.markCompacts / mb).toFixed(3)} mark-compacts (${out.gc.scavenges} and ${out.gc.markCompacts}; pauses ${out.gc.scavengeMs.toFixed(0)} and ${out.gc.markCompactMs.toFixed(0)} ms)${reasons === '' ? '' : `; full GCs: ${reasons}`}`);
  }
  if (countFile !== null) {
    console.log(`  ${SYSCALLS} ${mode} ${protocol} client: ${syscallLine(syscallCounts(countFile))}`);
    if (brokerPerf !== null) {
      brokerPerf.kill('SIGINT');
      await new Promise((res) => brokerPerf.once('exit', res));
      console.log(`  ${SYSCALLS} ${mode} ${protocol} broker: ${syscallLine(syscallCounts(`${countFile}-broker`))}`);
    }
  }
  return out;
}

/** Load average (1, 5, 15 min) from /proc: printed before and after, as the figures depend on it. */
const loadAverage = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
console.log(`load average at start ${loadAverage()} (${new Date().toISOString()})`);
const rows = [];
try {
  for (let round = 0; round < ROUNDS; round++) {
    const order = (round % 2 === 0 ? ['PLAINTEXT', 'SSL'] : ['SSL', 'PLAINTEXT']).filter((p) => PROTOCOLS.includes(p));
    for (const protocol of order) {
      const topic = `tls-bench-${protocol.toLowerCase()}-${round}`;
      await tribload('create', protocol, topic);
      const produced = await tribload('produce', protocol, topic);
      const consumed = await tribload('consume', protocol, topic);
      await tribload('delete', protocol, topic);
      rows.push({
        round, protocol, produceMsgs: produced.msgs_per_s, produceMB: produced.mb_per_s, consumeMsgs: consumed.msgs_per_s, consumeMB: consumed.mb_per_s,
        // CPU microseconds per record: comparable across runs on a loaded machine, where throughput is not.
        produceBrokerUs: (1e6 * produced.brokerCpuS) / COUNT, produceClientUs: (1e6 * produced.clientCpuS) / COUNT,
        consumeBrokerUs: (1e6 * consumed.brokerCpuS) / COUNT, consumeClientUs: (1e6 * consumed.clientCpuS) / COUNT,
        produceFaultsPerMB: produced.brokerFaults / ((COUNT * SIZE) / MB), consumeFaultsPerMB: consumed.brokerFaults / ((COUNT * SIZE) / MB),
        // The busiest thread's CPU as a share of the run's wall time (1 = a saturated core).
        produceClientThread: produced.busiestThread?.share, consumeClientThread: consumed.busiestThread?.share,
        produceBrokerThread: produced.brokerBusiestThread?.share, consumeBrokerThread: consumed.brokerBusiestThread?.share,
      });
      const r = rows[rows.length - 1];
      console.log(`round ${round} ${protocol.padEnd(9)} produce ${Math.round(produced.msgs_per_s)} msgs/s (${produced.mb_per_s?.toFixed?.(1)} MB/s; CPU us/record broker ${r.produceBrokerUs.toFixed(1)} client ${r.produceClientUs.toFixed(1)})  consume ${Math.round(consumed.msgs_per_s)} msgs/s (${consumed.mb_per_s?.toFixed?.(1)} MB/s; broker ${r.consumeBrokerUs.toFixed(1)} client ${r.consumeClientUs.toFixed(1)})  broker page faults per MiB: produce ${r.produceFaultsPerMB.toFixed(0)} consume ${r.consumeFaultsPerMB.toFixed(0)}`);
      const busy = (t) => (t === null || t === undefined ? '-' : `${t.comm} ${(100 * t.share).toFixed(0)}%`);
      console.log(`  busiest thread, share of wall time: produce client ${busy(produced.busiestThread)} broker ${busy(produced.brokerBusiestThread)}; consume client ${busy(consumed.busiestThread)} broker ${busy(consumed.brokerBusiestThread)}`);
    }
  }
} finally {
  front?.kill('SIGTERM');
  broker.kill('SIGTERM');
  await new Promise((r) => broker.once('exit', r));
  rmSync(dir, { recursive: true, force: true });
}
console.log(`load average at end ${loadAverage()} (${new Date().toISOString()})`);
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
for (const metric of ['produceMsgs', 'consumeMsgs', 'produceBrokerUs', 'consumeBrokerUs', 'produceClientUs', 'consumeClientUs', 'produceClientThread', 'consumeClientThread', 'produceBrokerThread', 'consumeBrokerThread']) {
  const plain = median(rows.filter((r) => r.protocol === 'PLAINTEXT').map((r) => r[metric]));
  const tls = median(rows.filter((r) => r.protocol === 'SSL').map((r) => r[metric]));
  const shown = (x) => (x === undefined ? '-' : metric.endsWith('Us') ? x.toFixed(2) : metric.endsWith('Thread') ? x.toFixed(2) : String(Math.round(x)));
  if (plain === undefined || tls === undefined) {
    console.log(`${metric}: PLAINTEXT ${shown(plain)}  SSL ${shown(tls)}`);
    continue;
  }
  console.log(`${metric}: PLAINTEXT ${shown(plain)}  SSL ${shown(tls)}  SSL/PLAINTEXT ${(100 * tls / plain).toFixed(0)}%`);
}
