// The broker's network read path over TLS against PLAINTEXT, without storage or a Kafka
// client (issue 19): a SocketServer (packages/broker/src/network) with a processor that
// answers every request with 8 bytes and gives its frame back to the frame pool, as a
// Produce answered at once does, in a child process; this process writes MIB MiB of
// requests of REQUEST_KIB KiB each, up to INFLIGHT in flight, over PLAINTEXT and over TLS
// with OpenSSL's records capped at FRAGMENT bytes (setMaxSendFragment; 2048 is about
// what librdkafka sends: one TLS record per ~2 KiB of a Produce of 1 KiB records), and
// prints the server's CPU ms per MiB (process.cpuUsage, user+system).
// Rounds alternate the protocols. It isolates what Connection, FrameDecoder and tls.ts cost
// per read from the rest of a Produce, so a change to that path shows on a loaded machine
// where the whole-broker bench (tls.mjs) cannot resolve a few percent.
//
//   node bench/macro/tls-reads.mjs [mib=256] [rounds=5]
//   TLS_READS_FRAGMENT=16384 (full records), TLS_READS_REQUEST_KIB=64, TLS_READS_INFLIGHT=8
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

const ROOT = resolve(import.meta.dirname, '..', '..');
const MIB = Number(process.argv[2] ?? 256);
const ROUNDS = Number(process.argv[3] ?? 5);
const FRAGMENT = Number(process.env.TLS_READS_FRAGMENT ?? 2048);
const REQUEST_KIB = Number(process.env.TLS_READS_REQUEST_KIB ?? 64);
const INFLIGHT = Number(process.env.TLS_READS_INFLIGHT ?? 8);

const SERVER = `
import { SocketServer } from ${JSON.stringify(join(ROOT, 'packages/broker/src/network/socket-server.ts'))};
import { TlsListener } from ${JSON.stringify(join(ROOT, 'packages/broker/src/network/tls.ts'))};
import { createLogger } from ${JSON.stringify(join(ROOT, 'packages/broker/src/logger.ts'))};
import { framePool } from ${JSON.stringify(join(ROOT, 'packages/broker/src/network/frame-pool.ts'))};
import { readFileSync } from 'node:fs';
const dir = process.argv[process.argv.length - 1];
const settings = { 'ssl.keystore.key': readFileSync(dir + '/key.pem', 'utf8'), 'ssl.keystore.certificate.chain': readFileSync(dir + '/cert.pem', 'utf8') };
const logger = createLogger({ level: 'error' });
const tls = new TlsListener('SSL', (k) => settings[k] ?? null, logger);
const answer = Buffer.alloc(8);
const server = new SocketServer({
  listeners: [{ name: 'PLAINTEXT', host: '127.0.0.1', port: 0, securityProtocol: 'PLAINTEXT' }, { name: 'SSL', host: '127.0.0.1', port: 0, securityProtocol: 'SSL' }],
  security: new Map([['SSL', { tls }]]),
  // Frames go back to the pool, as an answered Produce's do (request-dispatcher.ts).
  processor: { process: (frame) => { framePool.give(frame); return { type: 'send', chunks: [answer] }; } },
  logger, maxFrameBytes: 100 << 20, maxInflightRequests: 1000, idleTimeoutMs: 600000, maxConnections: 100, maxConnectionsPerIp: 100,
});
const bound = await server.start();
process.stdout.write(JSON.stringify({ ports: bound.map((b) => b.port) }) + '\\n');
process.stdin.on('data', () => {
  const u = process.cpuUsage();
  process.stdout.write(JSON.stringify({ cpuMs: (u.user + u.system) / 1000 }) + '\\n');
});
process.stdin.on('end', () => server.stop().then(() => process.exit(0)));
`;

const dir = mkdtempSync(join(tmpdir(), 'tributary-tls-reads-'));
const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'key.pem', '-out', 'cert.pem', '-days', '2', '-subj', '/CN=localhost'], { cwd: dir, encoding: 'utf8' });
if (r.status !== 0) throw new Error(`openssl: ${r.stderr}`);
const server = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', '--input-type=module', '-e', SERVER, dir], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
const lines = [];
let waiting = null;
let partial = '';
server.stdout.on('data', (d) => {
  partial += d;
  const parts = partial.split('\n');
  partial = parts.pop();
  for (const p of parts) { lines.push(JSON.parse(p)); waiting?.(); }
});
const nextLine = () => new Promise((res) => { const check = () => { if (lines.length > 0) { waiting = null; res(lines.shift()); } }; waiting = check; check(); });
const serverCpuMs = async () => { server.stdin.write('x'); return (await nextLine()).cpuMs; };
const { ports } = await nextLine();
const [plainPort, sslPort] = ports;

async function run(protocol) {
  const socket = await new Promise((res, rej) => {
    const s = protocol === 'SSL'
      ? tlsConnect({ host: '127.0.0.1', port: sslPort, rejectUnauthorized: false }, () => res(s))
      : netConnect({ host: '127.0.0.1', port: plainPort }, () => res(s));
    s.once('error', rej);
  });
  socket.setNoDelay(true);
  if (protocol === 'SSL' && !socket.setMaxSendFragment(FRAGMENT)) throw new Error(`setMaxSendFragment(${FRAGMENT}) refused`);
  const request = Buffer.alloc(REQUEST_KIB * 1024, 7);
  request.writeInt32BE(request.length - 4, 0);
  const total = Math.ceil((MIB * 1024) / REQUEST_KIB);
  let sent = 0;
  let answered = 0;
  let pending = 0;
  const cpuBefore = await serverCpuMs();
  const started = process.hrtime.bigint();
  await new Promise((res) => {
    const send = () => {
      while (sent < total && sent - answered < INFLIGHT) { socket.write(request); sent++; }
    };
    socket.on('data', (chunk) => {
      pending += chunk.length;
      while (pending >= 12) { pending -= 12; answered++; }
      if (answered === total) res();
      else send();
    });
    send();
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpuMs = (await serverCpuMs()) - cpuBefore;
  socket.destroy();
  return { cpuMsPerMiB: cpuMs / MIB, mibPerS: MIB / seconds };
}

const loadAverage = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
console.log(`${MIB} MiB of ${REQUEST_KIB} KiB requests, ${INFLIGHT} in flight, TLS records of ${FRAGMENT} bytes; load average ${loadAverage()}`);
const results = { PLAINTEXT: [], SSL: [] };
try {
  await run('SSL'); // warm-up: JIT and the TLS context
  await run('PLAINTEXT');
  for (let round = 0; round < ROUNDS; round++) {
    for (const protocol of round % 2 === 0 ? ['PLAINTEXT', 'SSL'] : ['SSL', 'PLAINTEXT']) {
      const x = await run(protocol);
      results[protocol].push(x);
      console.log(`round ${round} ${protocol.padEnd(9)} server CPU ${x.cpuMsPerMiB.toFixed(3)} ms/MiB  ${x.mibPerS.toFixed(0)} MiB/s`);
    }
  }
} finally {
  server.stdin.end();
  rmSync(dir, { recursive: true, force: true });
}
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const plain = median(results.PLAINTEXT.map((x) => x.cpuMsPerMiB));
const ssl = median(results.SSL.map((x) => x.cpuMsPerMiB));
console.log(`median server CPU ms/MiB: PLAINTEXT ${plain.toFixed(3)}  SSL ${ssl.toFixed(3)}  SSL/PLAINTEXT ${(100 * ssl / plain).toFixed(0)}%; load average ${loadAverage()}`);
