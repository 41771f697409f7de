/**
 * A broker in a fresh temporary data directory (port 0, silent logs) and one raw-protocol
 * client connected to it; both are closed, and the directory removed, when the test ends.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBroker, createLogger, type RunningBroker } from '../../src/index.js';
import { RawClient } from './raw-client.js';

export type TestContext = { after(fn: () => unknown): void };

export async function startBrokerWithClient(t: TestContext, name: string): Promise<{ broker: RunningBroker; client: RawClient }> {
  const dir = mkdtempSync(join(tmpdir(), `trib-${name}-`));
  const broker = await startBroker({ dataDir: dir, port: 0, logger: createLogger({ level: 'silent' }) });
  t.after(async () => {
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const client = await RawClient.open(broker.port);
  t.after(() => client.close());
  return { broker, client };
}
