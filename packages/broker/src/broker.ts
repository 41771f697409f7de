/**
 * Broker lifecycle: configuration -> identity (meta.properties) -> metadata store ->
 * services -> listeners -> registration; and the reverse on close().
 *
 * `services` is the one object handlers reach everything through (RequestContext.broker).
 * The storage LogManager, the replica manager and the coordinators plug in there: create
 * them in `startBroker` between "metadata" and "listeners" (so no request can arrive
 * before they exist) and close them in `close()` after the listeners stop (so no request
 * is still running against them). Their slots are marked below.
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { apiSpecByKey } from '@tributary/protocol';
import { BrokerConfig } from './config/broker-config.js';
import type { RawConfig } from './config/broker-config.js';
import { ensureMetaProperties } from './config/meta-properties.js';
import { formatListener } from './config/listeners.js';
import type { ListenerSpec } from './config/listeners.js';
import { HANDLERS } from './handlers/index.js';
import { HandlerRegistry } from './handlers/registry.js';
import type { Handler } from './handlers/registry.js';
import { createLogger } from './logger.js';
import type { Logger } from './logger.js';
import { LocalMetadataStore } from './metadata/local-metadata-store.js';
import { METADATA_DIR } from './metadata/metadata-log.js';
import type { BrokerEndpoint, MetadataStore } from './metadata/metadata-store.js';
import { RequestDispatcher } from './network/request-dispatcher.js';
import { parseConnectionOverrides, SocketServer } from './network/socket-server.js';
import type { BoundListener } from './network/socket-server.js';
import { LogManager, LOG_CONFIG_KEYS, fromProperties, type LogConfig } from '@tributary/storage';
import { decompressSync } from '@tributary/protocol';
import { ReplicaManager } from './replica/replica-manager.js';
import { FetchSessionCache } from './fetch/fetch-session.js';
import { ProducerIdManager } from './transaction/producer-id-manager.js';
import { ConsumerOffsetsLog } from './group/consumer-offsets-log.js';
import { TopicManager } from './topics/topic-manager.js';
import { GroupCoordinator } from './group/coordinator.js';

/** What handlers can use. Fields marked "lead" are filled in as those parts land. */
export interface BrokerServices {
  readonly nodeId: number;
  readonly clusterId: string;
  /** Current effective config; replaced (not mutated) when dynamic configs change. */
  config: BrokerConfig;
  readonly metadata: MetadataStore;
  /** This broker's endpoints as advertised to clients (real ports after binding). */
  advertisedEndpoints: readonly BrokerEndpoint[];
  readonly dataDir: string;
  readonly logger: Logger;
  readonly logManager: LogManager;
  readonly replicaManager: ReplicaManager;
  readonly topicManager: TopicManager;
  readonly groupCoordinator: GroupCoordinator;
  readonly fetchSessions: FetchSessionCache;
  readonly producerIds: ProducerIdManager;
  /** Set when close() begins: long polls stop waiting. */
  closing: boolean;
}

const CONSUMER_OFFSETS = '__consumer_offsets';

export interface StartBrokerOptions {
  /** Data directory (log.dirs); created if missing. */
  readonly dataDir: string;
  /** Shorthand for listeners=PLAINTEXT://host:port (default 127.0.0.1 / 9092; 0 = any free port). */
  readonly host?: string;
  readonly port?: number;
  readonly nodeId?: number;
  /** Kafka broker config keys; wins over host/port/nodeId shorthands only for keys it sets. */
  readonly config?: Readonly<Record<string, string | number | boolean>>;
  /** Config read from a properties file and flags; `config` wins over it. */
  readonly staticConfig?: readonly RawConfig[];
  readonly logger?: Logger;
  /** Extra handlers (tests); replace built-in ones with the same api key. */
  readonly handlers?: readonly Handler<any, any>[];
}

export interface RunningBroker {
  /** Host and port of the first listener as advertised. */
  readonly host: string;
  readonly port: number;
  readonly nodeId: number;
  readonly clusterId: string;
  readonly dataDir: string;
  readonly config: BrokerConfig;
  readonly listeners: readonly BoundListener[];
  readonly services: BrokerServices;
  /** Stops listening, closes connections, closes stores. Idempotent. */
  close(): Promise<void>;
}

export async function startBroker(options: StartBrokerOptions): Promise<RunningBroker> {
  const startedAt = performance.now();
  const logger = options.logger ?? createLogger();
  const dataDir = resolve(options.dataDir);

  // --- configuration: file/flags < shorthands < explicit config
  const shorthand: Record<string, unknown> = { 'log.dirs': dataDir };
  if (options.host !== undefined || options.port !== undefined) {
    shorthand['listeners'] = formatListener({ name: 'PLAINTEXT', host: options.host ?? '127.0.0.1', port: options.port ?? 9092 });
  }
  if (options.nodeId !== undefined) shorthand['node.id'] = options.nodeId;
  const staticConfig = BrokerConfig.load([...(options.staticConfig ?? []), shorthand, options.config ?? {}], logger);

  // --- identity
  const logDir = resolve(staticConfig.logDir);
  mkdirSync(logDir, { recursive: true });
  const { meta, created } = ensureMetaProperties(logDir, { nodeId: staticConfig.nodeId });
  if (created) logger.info('Created meta.properties', { dir: logDir, clusterId: meta.clusterId, nodeId: meta.nodeId });
  const nodeId = meta.nodeId;

  // --- metadata
  const metadata = await LocalMetadataStore.open({ dataDir: logDir, clusterId: meta.clusterId, logger: logger.child({ component: 'metadata' }) });
  let server: SocketServer | undefined;
  const closeables: (() => Promise<void>)[] = [];
  try {
    const config = staticConfig.withDynamic({ clusterDefault: metadata.brokerConfigs(null), perBroker: metadata.brokerConfigs(nodeId) });
    const logManager = await LogManager.open({
      dataDir: logDir,
      defaults: logDefaults(config),
      topicConfigs: new Map(metadata.topics().map((t) => [t.name, t.configs])),
      decompress: (type, data) => {
        try {
          return decompressSync(type, data, 64 * 1024 * 1024);
        } catch {
          return null;
        }
      },
      retentionCheckIntervalMs: config.number('log.retention.check.interval.ms'),
      reservedDirs: [METADATA_DIR],
      logger: storageLogger(logger.child({ component: 'storage' })),
      onIoError: (err, log) => logger.error('Log directory I/O error', { err, topic: log?.topic, partition: log?.partition }),
    });
    closeables.push(() => logManager.close());
    const servicesRef: { current?: BrokerServices } = {};
    const currentConfig = () => servicesRef.current?.config ?? config;
    const replicaManager = new ReplicaManager({ logManager, metadata, nodeId, config: currentConfig, logger: logger.child({ component: 'replica' }) });
    closeables.push(async () => replicaManager.close());
    const topicManager = new TopicManager({ metadata, nodeId, config: currentConfig, logger: logger.child({ component: 'topics' }) });
    const groupCoordinator = new GroupCoordinator({
      log: new ConsumerOffsetsLog(replicaManager, CONSUMER_OFFSETS, () => currentConfig().boolean('log.flush.durable.acks')),
      config: {
        groupMinSessionTimeoutMs: config.number('group.min.session.timeout.ms'),
        groupMaxSessionTimeoutMs: config.number('group.max.session.timeout.ms'),
        groupMaxSize: config.number('group.max.size'),
        groupInitialRebalanceDelayMs: config.number('group.initial.rebalance.delay.ms'),
        offsetMetadataMaxBytes: config.number('offset.metadata.max.bytes'),
        offsetsRetentionMs: config.number('offsets.retention.minutes') * 60_000,
        offsetsRetentionCheckIntervalMs: config.number('offsets.retention.check.interval.ms'),
        offsetsTopicNumPartitions: config.number('offsets.topic.num.partitions'),
      },
      logger: logger.child({ component: 'group-coordinator' }),
    });
    const services: BrokerServices = {
      nodeId,
      clusterId: meta.clusterId,
      config,
      metadata,
      advertisedEndpoints: [],
      dataDir: logDir,
      logger,
      logManager,
      replicaManager,
      topicManager,
      groupCoordinator,
      fetchSessions: new FetchSessionCache(config.number('max.incremental.fetch.session.cache.slots')),
      producerIds: new ProducerIdManager(logDir),
      closing: false,
    };
    servicesRef.current = services;
    metadata.subscribe((change) => {
      if (change.type !== 'broker-config-changed' || (change.nodeId !== null && change.nodeId !== nodeId)) return;
      try {
        services.config = staticConfig.withDynamic({ clusterDefault: metadata.brokerConfigs(null), perBroker: metadata.brokerConfigs(nodeId) });
        logger.info('Applied dynamic broker config', { changes: change.changes, scope: change.nodeId ?? 'cluster-default' });
      } catch (err) {
        logger.error('Dynamic broker config rejected; keeping the previous config', { err });
      }
    });
    // The coordinator's topic exists before the coordinator loads it (Kafka creates it on
    // first use; here it is created once, at the first start, so no lookup ever waits).
    await topicManager.ensureInternalTopic(CONSUMER_OFFSETS);
    await groupCoordinator.startup();
    closeables.push(async () => groupCoordinator.shutdown());

    // --- handlers and listeners
    const extra = new Map((options.handlers ?? []).map((h) => [h.apiKey, h]));
    const handlers = new HandlerRegistry(
      [...HANDLERS.filter((h) => !extra.has(h.apiKey)), ...extra.values()],
      (apiKey) => apiSpecByKey(apiKey),
    );
    const listeners = config.listeners();
    server = new SocketServer({
      listeners,
      processor: new RequestDispatcher({ handlers, services, logger: logger.child({ component: 'requests' }) }),
      logger: logger.child({ component: 'network' }),
      maxFrameBytes: config.number('socket.request.max.bytes'),
      maxInflightRequests: config.number('connection.max.inflight.requests'),
      queuedMaxRequestBytes: config.number('queued.max.request.bytes'),
      queuedMaxResponseBytes: config.number('queued.max.response.bytes'),
      connectionMaxQueuedResponseBytes: config.number('connection.max.queued.response.bytes'),
      idleTimeoutMs: config.number('connections.max.idle.ms'),
      maxConnections: config.number('max.connections'),
      maxConnectionsPerIp: config.number('max.connections.per.ip'),
      maxConnectionsPerIpOverrides: parseConnectionOverrides(config.string('max.connections.per.ip.overrides') ?? ''),
    });
    const bound = await server.start();
    services.advertisedEndpoints = advertise(config.advertisedListeners(), listeners, bound);
    await metadata.registerBroker({ nodeId, endpoints: services.advertisedEndpoints, rack: config.string('broker.rack') });

    const first = services.advertisedEndpoints[0]!;
    const elapsedMs = Math.round((performance.now() - startedAt) * 10) / 10;
    logger.info('Broker started', { nodeId, clusterId: meta.clusterId, listeners: services.advertisedEndpoints.map((e) => formatListener({ name: e.listener, host: e.host, port: e.port })).join(','), dataDir: logDir, startupMs: elapsedMs });

    let closing: Promise<void> | undefined;
    const runningServer = server;
    return {
      host: first.host,
      port: first.port,
      nodeId,
      clusterId: meta.clusterId,
      dataDir: logDir,
      get config() { return services.config; },
      listeners: bound,
      services,
      close(): Promise<void> {
        closing ??= (async () => {
          logger.info('Broker shutting down', { nodeId });
          services.closing = true;
          await runningServer.stop();
          await closeAll(closeables, logger);
          await metadata.unregisterBroker(nodeId);
          await metadata.close();
          logger.info('Broker stopped', { nodeId });
        })();
        return closing;
      },
    };
  } catch (err) {
    await server?.stop();
    await closeAll(closeables, logger);
    await metadata.close();
    throw err;
  }
}

/** Closes in reverse order of creation; one failure does not stop the others. */
async function closeAll(closeables: (() => Promise<void>)[], logger: Logger): Promise<void> {
  while (closeables.length > 0) {
    const close = closeables.pop()!;
    try {
      await close();
    } catch (err) {
      logger.error('Error while shutting down', { err });
    }
  }
}

/** Broker-level log.* settings as the storage package's topic defaults. */
function logDefaults(config: BrokerConfig): Partial<LogConfig> {
  const props: Record<string, string> = {};
  for (const key of Object.keys(LOG_CONFIG_KEYS)) {
    const value = config.topicDefault(key);
    if (value === undefined || value === null) continue;
    props[key] = Array.isArray(value) ? value.join(',') : String(value);
  }
  return fromProperties(props);
}

function storageLogger(logger: Logger) {
  return { info: (message: string) => logger.info(message), warn: (message: string) => logger.warn(message) };
}

/**
 * Advertised endpoints: advertised.listeners (or listeners), with port 0 replaced by the
 * bound port and an empty host (all interfaces) by the bound address, else 127.0.0.1
 * (Kafka uses the canonical host name; on a developer machine the loopback is the answer
 * that works).
 */
function advertise(advertised: readonly ListenerSpec[], listeners: readonly ListenerSpec[], bound: readonly BoundListener[]): BrokerEndpoint[] {
  return advertised.map((spec) => {
    const real = bound.find((b) => b.name === spec.name);
    const configured = listeners.find((l) => l.name === spec.name);
    const port = spec.port === 0 && real ? real.port : spec.port;
    let host = spec.host;
    if (host === '' || host === '0.0.0.0' || host === '::') host = configured && configured.host !== '' && configured.host !== '0.0.0.0' && configured.host !== '::' ? configured.host : '127.0.0.1';
    return { listener: spec.name, host, port, securityProtocol: spec.securityProtocol };
  });
}
