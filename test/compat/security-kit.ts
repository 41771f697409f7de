/**
 * Test kit for the security tests: a throwaway PKI made with openssl in a temp dir, and a
 * broker with the listeners a test asks for, whose log lines are captured (the tests check
 * refusals are logged, and that no secret is).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { createLogger, startBroker } from '@tributary/broker';
import type { RunningBroker } from '@tributary/broker';
import { requireTool, TEST_BROKER_DEFAULTS } from './kit.js';

type TestLike = { after(fn: () => unknown): void };

export interface Pki {
  readonly dir: string;
  readonly caCert: string;
  readonly serverCert: string;
  readonly serverKey: string;
  /** A client certificate from the CA: CN=alice,OU=eng,O=Example. */
  readonly clientCert: string;
  readonly clientKey: string;
  /** A client certificate from another, untrusted CA (same subject). */
  readonly rogueCert: string;
  readonly rogueKey: string;
}

function openssl(dir: string, args: string[]): void {
  const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${r.stderr}`);
}

/** Makes a CA, a server certificate for localhost/127.0.0.1 and two client certificates. */
export function makePki(t: TestLike): Pki {
  requireTool('openssl');
  const dir = mkdtempSync(join(tmpdir(), 'tributary-pki-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(dir, ['req', '-x509', ...key, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=Tributary Test CA']);
  openssl(dir, ['req', '-x509', ...key, '-keyout', 'rogue-ca.key', '-out', 'rogue-ca.crt', '-days', '2', '-subj', '/CN=Rogue CA']);
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  const sign = (name: string, subject: string, ca: string, ext?: string) => {
    openssl(dir, ['req', ...key, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject]);
    openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', ...(ext ? ['-extfile', ext] : [])]);
  };
  sign('server', '/CN=localhost', 'ca', 'server.ext');
  sign('client', '/C=US/O=Example/OU=eng/CN=alice', 'ca');
  sign('rogue', '/C=US/O=Example/OU=eng/CN=alice', 'rogue-ca');
  const p = (f: string) => join(dir, f);
  return {
    dir, caCert: p('ca.crt'), serverCert: p('server.crt'), serverKey: p('server.key'),
    clientCert: p('client.crt'), clientKey: p('client.key'), rogueCert: p('rogue.crt'), rogueKey: p('rogue.key'),
  };
}

export interface SecureBroker {
  readonly broker: RunningBroker;
  readonly logs: string[];
  /** host:port of a listener by name. */
  bootstrap(listener: string): string;
  port(listener: string): number;
}

/** Starts a broker with `config` (listeners and security keys), capturing its log lines. */
export async function startSecureBroker(t: TestLike, config: Record<string, string | number>, level: 'info' | 'debug' = 'info'): Promise<SecureBroker> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tributary-test-'));
  const logs: string[] = [];
  const logger = createLogger({ level, sink: (line) => { logs.push(line); if (process.env['TRIBUTARY_LOG_LEVEL'] !== undefined) process.stderr.write(line + '\n'); } });
  const broker = await startBroker({ dataDir, config: { ...TEST_BROKER_DEFAULTS, ...config }, logger });
  t.after(async () => {
    await broker.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const port = (name: string) => {
    const l = broker.listeners.find((b) => b.name === name);
    if (l === undefined) throw new Error(`no listener ${name}`);
    return l.port;
  };
  return { broker, logs, port, bootstrap: (name) => `127.0.0.1:${port(name)}` };
}

/** PEM server keys for a listener, with Kafka's listener prefix. */
export function tlsServerConfig(pki: Pki, listener: string, extra: Record<string, string> = {}): Record<string, string> {
  const prefix = `listener.name.${listener.toLowerCase()}.`;
  return {
    [`${prefix}ssl.keystore.type`]: 'PEM',
    [`${prefix}ssl.keystore.certificate.chain`]: readPem(pki.serverCert),
    [`${prefix}ssl.keystore.key`]: readPem(pki.serverKey),
    [`${prefix}ssl.truststore.type`]: 'PEM',
    [`${prefix}ssl.truststore.location`]: pki.caCert,
    ...Object.fromEntries(Object.entries(extra).map(([k, v]) => [`${prefix}${k}`, v])),
  };
}

function readPem(path: string): string {
  return readFileSync(path, 'utf8');
}
