// Times how long a restarted broker takes to accept a TCP connection and to answer a Kafka
// ApiVersions request, polling from the moment the process was spawned.
//
// ApiVersions v0 request, as sent here (all integers big-endian):
//   int32  size of what follows
//   int16  api_key = 18, int16 api_version = 0, int32 correlation_id
//   int16  client_id length, then client_id bytes (request header v1); no body in v0
// The response starts with int32 size, int32 correlation_id, int16 error_code.
import net from 'node:net';

const API_VERSIONS_KEY = 18;
const POLL_INTERVAL_MS = 20;
/** Bound on one probe connection: a server that accepts but never answers must not hang us. */
const PROBE_TIMEOUT_MS = 2000;

function apiVersionsRequest(correlationId) {
  const clientId = Buffer.from('tribench-probe');
  const body = Buffer.alloc(2 + 2 + 4 + 2 + clientId.length);
  body.writeInt16BE(API_VERSIONS_KEY, 0);
  body.writeInt16BE(0, 2);
  body.writeInt32BE(correlationId, 4);
  body.writeInt16BE(clientId.length, 8);
  clientId.copy(body, 10);
  const size = Buffer.alloc(4);
  size.writeInt32BE(body.length, 0);
  return Buffer.concat([size, body]);
}

/** One attempt: resolves { connected, answered, errorCode } and never rejects. */
function probeOnce(host, port, correlationId) {
  return new Promise((resolve) => {
    let connected = false;
    let got = Buffer.alloc(0);
    const sock = net.connect({ host, port });
    const done = (answered, errorCode = null) => {
      clearTimeout(timer);
      sock.destroy();
      resolve({ connected, answered, errorCode });
    };
    const timer = setTimeout(() => done(false), PROBE_TIMEOUT_MS);
    sock.on('connect', () => {
      connected = true;
      sock.write(apiVersionsRequest(correlationId));
    });
    sock.on('data', (chunk) => {
      got = Buffer.concat([got, chunk]);
      if (got.length < 10) return;
      const size = got.readInt32BE(0);
      if (size < 6 || got.readInt32BE(4) !== correlationId) return done(false);
      done(true, got.readInt16BE(8));
    });
    sock.on('error', () => done(false));
    sock.on('close', () => done(false));
  });
}

/**
 * Polls host:port until ApiVersions is answered with error code 0 or `timeoutMs` passes.
 * `startedAtNs` is process.hrtime.bigint() at spawn. Resolves { tcpMs, apiVersionsMs }
 * (null where never reached).
 */
export async function waitForKafka(host, port, startedAtNs, timeoutMs) {
  const since = () => Number(process.hrtime.bigint() - startedAtNs) / 1e6;
  let tcpMs = null;
  let correlationId = 1;
  while (since() < timeoutMs) {
    const r = await probeOnce(host, port, correlationId++);
    if (r.connected && tcpMs === null) tcpMs = since();
    if (r.answered && r.errorCode === 0) return { tcpMs, apiVersionsMs: since() };
    await new Promise((res) => setTimeout(res, POLL_INTERVAL_MS));
  }
  return { tcpMs, apiVersionsMs: null };
}
