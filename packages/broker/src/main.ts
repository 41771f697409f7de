#!/usr/bin/env node
/**
 * `npm start` / `node packages/broker/dist/main.js [server.properties] [--override k=v]...`
 *
 * Without arguments: listener PLAINTEXT://127.0.0.1:9092 and data directory ./data
 * (created). SIGINT/SIGTERM shut the broker down cleanly and exit 0; a second signal
 * exits at once (1). Exit code 1 on a start-up failure, with the reason on stderr.
 */
import { resolve } from 'node:path';
import { startBroker } from './broker.js';
import type { RunningBroker } from './broker.js';
import { parseServerArgs, readPropertiesFile } from './config/server-args.js';
import { createLogger, isLogLevel } from './logger.js';
import type { RawConfig } from './config/broker-config.js';

const DEFAULT_DATA_DIR = './data';

async function main(argv: readonly string[]): Promise<void> {
  const args = parseServerArgs(argv);
  const fileConfig: RawConfig = args.propertiesFile !== undefined ? readPropertiesFile(args.propertiesFile) : {};
  const merged: Record<string, unknown> = { ...fileConfig, ...args.overrides };
  const levelFromConfig = merged['log4j.rootLogger.level'] ?? merged['tributary.log.level'];
  const logger = createLogger({ level: isLogLevel(levelFromConfig) ? levelFromConfig : undefined });
  // log.dirs / log.dir from the file win; otherwise ./data, as documented.
  const dataDirs = String(merged['log.dirs'] ?? merged['log.dir'] ?? DEFAULT_DATA_DIR).split(',').map((d) => d.trim()).filter((d) => d !== '');
  const dataDir = dataDirs[0] ?? DEFAULT_DATA_DIR;

  let broker: RunningBroker;
  try {
    broker = await startBroker({
      dataDir: resolve(dataDir),
      staticConfig: [fileConfig, args.overrides],
      logger,
      // startBroker's dataDir shorthand names one directory; keep every entry of log.dirs.
      ...(dataDirs.length > 1 ? { config: { 'log.dirs': dataDirs.map((d) => resolve(d)).join(',') } } : {}),
    });
  } catch (err) {
    const e = err as Error & { code?: string };
    process.stderr.write(`Tributary broker failed to start: ${e.message}${e.code ? ` [${e.code}]` : ''}\n`);
    process.exitCode = 1;
    return;
  }
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      process.stderr.write(`Received ${signal} again; exiting without a clean shutdown\n`);
      process.exit(1);
    }
    stopping = true;
    logger.info('Received signal, shutting down', { signal });
    broker.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error('Shutdown failed', { err });
        process.exit(1);
      },
    );
  };
  // The broker stopped itself (its log directories failed): exit non-zero, like Kafka's halt.
  void broker.failed.then(() => {
    if (!stopping) process.exit(1);
  });
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  // The handlers go in before the start-up line: whoever waits for the line may signal at
  // once (a test that did so on a loaded machine saw the default action kill the broker).
  process.stdout.write(`Tributary broker ${broker.nodeId} listening on ${broker.host}:${broker.port} (data: ${broker.dataDir}, cluster ${broker.clusterId})\n`);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`Tributary broker failed: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
