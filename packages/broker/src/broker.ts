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
import { randomUUID } from 'node:crypto';
import { fenceRestartedLeadership } from './replica/restart-fence.js';
import type { Authorizer } from './security/authorizer.js';
import { createAuthorizer } from './security/authorizer.js';
import { ClientQuotaManager } from './quota/client-quota-manager.js';
import { connectionQuotasFor } from './quota/connection-quota-config.js';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { apiSpecByKey } from '@tributary/protocol';
import { BrokerConfig } from './config/broker-config.js';
import type { RawConfig } from './config/broker-config.js';
import { DynamicConfig } from './config/dynamic-config.js';
import { ensureMetaProperties, readMetaProperties } from './config/meta-properties.js';
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
import { etcdEndpoints, etcdStoreOptions, openEtcdStore } from './metadata/etcd-config.js';
import { runControllerDuties, storeMembership } from './metadata/controller-election.js';
import type { ClusterMembership, ControllerDuties } from './metadata/controller-election.js';
import { randomKafkaUuid } from './metadata/kafka-uuid.js';
import { RequestDispatcher } from './network/request-dispatcher.js';
import { parseConnectionOverrides, SocketServer } from './network/socket-server.js';
import { buildListenerSecurity, stopListenerSecurity, watchTlsConfigChanges } from './network/listener-security.js';
import type { BoundListener } from './network/socket-server.js';
import { LogManager, type FileSystem } from '@tributary/storage';
import { ReplicaManager } from './replica/replica-manager.js';
import { startReplication } from './replica/replica-fetcher.js';
import { FetchSessionCache } from './fetch/fetch-session.js';
import { ProducerIdManager } from './transaction/producer-id-manager.js';
import { ConsumerOffsetsLog, startGroupCoordinator } from './group/consumer-offsets-log.js';
import { TopicManager } from './topics/topic-manager.js';
import { GroupCoordinator } from './group/coordinator.js';
import { Controller } from './controller/controller.js';
import { controlledShutdown } from './controller/controlled-shutdown.js';
import type { TransactionCoordinator } from './transaction/transaction-coordinator.js';
import { LocalTxnMarkerWriter, type TxnMarkerWriter } from './transaction/marker-writer.js';
import { createTransactionCoordinator } from './transaction/wiring.js';
import type { AddPartitionsToTxnManager } from './transaction/add-partitions-manager.js';
import { followTransactionStateLeadership } from './transaction/follow-leadership.js';

/** What handlers can use. Fields marked "lead" are filled in as those parts land. */
export interface BrokerServices {
  readonly nodeId: number;
  readonly clusterId: string;
  /** Current effective config (dynamicConfig.current): a new object after each change, never mutated. */
  readonly config: BrokerConfig;
  /** The one subscription point for config changes (broker and topic). */
  readonly dynamicConfig: DynamicConfig;
  readonly metadata: MetadataStore;
  /** Fenced or not, and who the controller is (etcd election; a single broker is its own). */
  readonly membership: ClusterMembership;
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
  readonly txnCoordinator: TransactionCoordinator;
  /** Writes transaction markers to partitions this broker leads (WriteTxnMarkers). */
  readonly txnMarkers: TxnMarkerWriter;
  /** A partition leader's questions to transaction coordinators (KIP-890 verification, TV2 additions). */
  readonly txnPartitions: AddPartitionsToTxnManager;
  /** ACL authorizer (`authorizer.class.name`); absent or null = every request allowed. */
  readonly authorizer?: Authorizer | null;
  /** Client quotas (quota/): produce/fetch byte rates and request time per user and client id. */
  readonly quotas?: ClientQuotaManager;
  /** Set when close() begins: long polls stop waiting. */
  closing: boolean;
}

const CONSUMER_OFFSETS = '__consumer_offsets';
const TRANSACTION_STATE = '__transaction_state';

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
  readonly handlers?: readonly Handler[];
  /** File system calls of the partition logs (tests inject failures); node:fs by default. */
  readonly fileSystem?: FileSystem;
  /**
   * Use this store instead of opening one (tests run several in-process brokers on one
   * LocalMetadataStore); the broker does not close it. Its cluster id wins over meta.properties.
   */
  readonly metadataStore?: MetadataStore;
  /** What this broker does while it is the active controller; started and stopped by the election. */
  readonly controllerDuties?: (services: BrokerServices) => ControllerDuties;
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
  /**
   * Resolves when the broker has stopped by itself: every log directory (or the one
   * holding the metadata log) failed, as Kafka halts then. main.ts exits with 1.
   */
  readonly failed: Promise<string>;
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

  // --- identity: meta.properties in every log dir (the first decides a new cluster id), as
  // Kafka writes one per directory with the same cluster.id and node.id, each its own directory.id.
  const logDirs = staticConfig.logDirs.map((d) => resolve(d));
  const logDir = logDirs[0]!;
  // A cluster's id lives in its metadata store (etcd creates it once); open that store first
  // so meta.properties records the cluster's id, and a directory of another cluster is refused.
  let external = options.metadataStore;
  const endpoints = external ? null : etcdEndpoints(staticConfig);
  if (endpoints) {
    mkdirSync(logDir, { recursive: true });
    const proposed = readMetaProperties(logDir)?.clusterId ?? randomKafkaUuid();
    external = await openEtcdStore(etcdStoreOptions(staticConfig, endpoints, proposed, logger.child({ component: 'metadata' })));
  }
  const ownsExternal = endpoints !== null;
  let meta: { clusterId: string; nodeId: number } | undefined;
  try {
    for (const dir of logDirs) {
      mkdirSync(dir, { recursive: true });
      const identity = ensureMetaProperties(dir, { nodeId: meta?.nodeId ?? staticConfig.nodeId, clusterId: meta?.clusterId ?? external?.clusterId });
      if (identity.created) logger.info('Created meta.properties', { dir, clusterId: identity.meta.clusterId, nodeId: identity.meta.nodeId });
      meta ??= identity.meta;
    }
  } catch (err) {
    if (ownsExternal) await external?.close();
    throw err;
  }
  if (meta === undefined) throw new Error('log.dirs is empty');
  const nodeId = meta.nodeId;

  // --- metadata
  const metadata = external ?? await LocalMetadataStore.open({ dataDir: logDir, clusterId: meta.clusterId, logger: logger.child({ component: 'metadata' }) });
  const ownsMetadata = external === undefined || ownsExternal;
  const closeMetadata = async (): Promise<void> => { if (ownsMetadata) await metadata.close(); };
  const membership = isClusterMembership(metadata) ? metadata : storeMembership(metadata, nodeId);
  let server: SocketServer | undefined;
  const closeables: (() => Promise<void>)[] = [];
  // Set once the broker is running: a log directory failure that leaves nothing to serve stops it.
  let stopOnFailure: ((reason: string) => void) | undefined;
  let failedEarly: string | undefined;
  try {
    // The effective config at start-up; from here on, dynamicConfig.current.
    const config = DynamicConfig.effective(staticConfig, metadata, nodeId);
    // TLS and SASL settings load first: a bad key file or mechanism stops the start before
    // any log is opened (stopped again by closeAll if a later step fails).
    const security = buildListenerSecurity(config, config.listeners(), metadata, logger.child({ component: 'security' }));
    closeables.push(async () => stopListenerSecurity(security));
    const servicesRef: { current?: BrokerServices } = {};
    const logManager = await LogManager.open({
      logDirs,
      ...(options.fileSystem !== undefined ? { fileSystem: options.fileSystem } : {}),
      defaults: config.logDefaults(),
      topicConfigs: new Map(metadata.topics().map((t) => [t.name, config.logConfig(t.configs)])),
      retentionCheckIntervalMs: config.number('log.retention.check.interval.ms'),
      producerIdExpirationMs: config.number('producer.id.expiration.ms'),
      producerIdExpirationCheckIntervalMs: config.number('producer.id.expiration.check.interval.ms'),
      cleaner: {
        enable: config.boolean('log.cleaner.enable') && config.number('log.cleaner.threads') > 0,
        threads: Math.max(1, config.number('log.cleaner.threads')),
        dedupeBufferSize: config.number('log.cleaner.dedupe.buffer.size'),
        ioMaxBytesPerSecond: config.number('log.cleaner.io.max.bytes.per.second'),
        backoffMs: config.number('log.cleaner.backoff.ms'),
      },
      reservedDirs: [METADATA_DIR],
      logger: storageLogger(logger.child({ component: 'storage' })),
      // The storage layer has logged the one error line naming the directory and the cause.
      onLogDirFailure: (dir) => {
        servicesRef.current?.replicaManager.wakeOffline();
        const online = logManager.logDirs.filter((d) => logManager.isLogDirOnline(d));
        let reason: string | undefined;
        if (online.length === 0) reason = `all log directories have failed (${logManager.logDirs.join(', ')})`;
        else if (dir === logDir) reason = `the directory holding the metadata log has failed (${dir})`;
        if (reason === undefined) return;
        if (stopOnFailure) stopOnFailure(reason);
        else failedEarly = reason;
      },
    });
    closeables.push(() => logManager.close());
    // The one subscription through which dynamic broker and topic configs take effect.
    const dynamicConfig = new DynamicConfig({ staticConfig, metadata, nodeId, logManager, logger: logger.child({ component: 'config' }) });
    closeables.push(async () => dynamicConfig.close());
    const currentConfig = (): BrokerConfig => dynamicConfig.current;
    // A broker alone (its own local store) is the whole cluster; brokers sharing a store or etcd are not.
    const singleNode = !isClusterMembership(metadata) && options.metadataStore === undefined;
    const replicaManager = new ReplicaManager({ logManager, metadata, nodeId, logger: logger.child({ component: 'replica' }), fenceRestartedLeadership: !singleNode });
    closeables.push(async () => replicaManager.close());
    startReplication(replicaManager, { nodeId, metadata, config, logger: logger.child({ component: 'replica-fetcher' }) });
    const topicManager = new TopicManager({ metadata, nodeId, config: currentConfig, logger: logger.child({ component: 'topics' }), capInternalReplication: singleNode });
    const groupCoordinator = new GroupCoordinator({
      log: new ConsumerOffsetsLog(replicaManager, CONSUMER_OFFSETS, config.number('offsets.commit.timeout.ms')),
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
    const producerIds = new ProducerIdManager(logDir, nodeId);
    const txnMarkers = new LocalTxnMarkerWriter(replicaManager, groupCoordinator);
    const txn = createTransactionCoordinator({ config, replicaManager, logManager, metadata, producerIds, markers: txnMarkers, nodeId, topic: TRANSACTION_STATE, logger: logger.child({ component: 'transaction-coordinator' }),
      topicExists: () => metadata.topic(TRANSACTION_STATE) !== undefined,
      createTopic: async () => {
        await topicManager.ensureInternalTopic(TRANSACTION_STATE);
      },
    });
    const txnCoordinator = txn.coordinator;
    const services: BrokerServices = {
      nodeId,
      clusterId: meta.clusterId,
      get config() { return dynamicConfig.current; },
      dynamicConfig,
      metadata,
      membership,
      advertisedEndpoints: [],
      dataDir: logDir,
      logger,
      logManager,
      replicaManager,
      topicManager,
      groupCoordinator,
      fetchSessions: new FetchSessionCache(config.number('max.incremental.fetch.session.cache.slots')),
      producerIds,
      txnCoordinator,
      txnMarkers,
      txnPartitions: txn.addPartitions,
      authorizer: createAuthorizer(config, metadata),
      quotas: new ClientQuotaManager({
        entries: () => metadata.clientQuotas?.(),
        window: { samples: config.number('quota.window.num'), sampleMs: config.number('quota.window.size.seconds') * 1000 },
      }),
      closing: false,
    };
    servicesRef.current = services;
    // The coordinator's topic exists before the coordinator loads it (Kafka creates it on
    // first use; here a single broker creates it at its first start, so no lookup ever
    // waits). In a cluster it is created with offsets.topic.replication.factor once that many
    // brokers have registered (any broker may create it; the others see TOPIC_ALREADY_EXISTS),
    // and until then FindCoordinator answers COORDINATOR_NOT_AVAILABLE, as Kafka's does.
    if (singleNode) {
      await topicManager.ensureInternalTopic(CONSUMER_OFFSETS);
    } else {
      closeables.push(createWhenEnoughBrokers(metadata, () => topicManager.ensureInternalTopic(CONSUMER_OFFSETS), CONSUMER_OFFSETS, logger));
    }
    const stopFollowingLeadership = await startGroupCoordinator(groupCoordinator, replicaManager, CONSUMER_OFFSETS, logger.child({ component: 'group-coordinator' }));
    closeables.push(async () => {
      stopFollowingLeadership();
      groupCoordinator.shutdown();
    });
    // After the group coordinator: completing a transaction found half-ended materializes its
    // offsets in the groups loaded above. `__transaction_state` is created on first use.
    await txnCoordinator.startup();
    const stopFollowingTxnLeadership = followTransactionStateLeadership(txnCoordinator, replicaManager, TRANSACTION_STATE, logger.child({ component: 'transaction-coordinator' }));
    closeables.push(async () => {
      stopFollowingTxnLeadership();
      txnCoordinator.shutdown();
      txn.close();
    });

    // --- handlers and listeners
    const extra = new Map((options.handlers ?? []).map((h) => [h.apiKey, h]));
    const handlers = new HandlerRegistry(
      [...HANDLERS.filter((h) => !extra.has(h.apiKey)), ...extra.values()],
      (apiKey) => apiSpecByKey(apiKey),
    );
    const listeners = config.listeners();
    const unwatchTls = watchTlsConfigChanges(security, dynamicConfig);
    closeables.push(async () => unwatchTls());
    server = new SocketServer({
      security,
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
      connectionQuotas: connectionQuotasFor(config, listeners, metadata),
    });
    const bound = await server.start();
    services.advertisedEndpoints = advertise(config.advertisedListeners(), listeners, bound);
    // A new incarnation id per process: the controller fences a broker registering under a new one (controller.ts).
    const registration = { nodeId, endpoints: services.advertisedEndpoints, rack: config.string('broker.rack'), incarnationId: randomUUID() };
    await metadata.registerBroker(registration);
    if (!singleNode) fenceRestartedLeadership(replicaManager, metadata, nodeId, currentConfig, logger.child({ component: 'replica' }));
    // Registered first: a controller must be a live broker. The membership decides: etcd's
    // election, or a local store's controllerId() (storeMembership).
    const controllerDeps = { metadata, nodeId, config: currentConfig, logger: logger.child({ component: 'controller' }) };
    const duties = options.controllerDuties ? options.controllerDuties(services) : new Controller(controllerDeps);
    const stopDuties = runControllerDuties(membership, duties);
    closeables.push(async () => stopDuties());

    const first = services.advertisedEndpoints[0]!;
    const elapsedMs = Math.round((performance.now() - startedAt) * 10) / 10;
    logger.info('Broker started', { nodeId, clusterId: meta.clusterId, listeners: services.advertisedEndpoints.map((e) => formatListener({ name: e.listener, host: e.host, port: e.port })).join(','), dataDir: logDir, startupMs: elapsedMs });

    let closing: Promise<void> | undefined;
    const runningServer = server;
    let reportFailure!: (reason: string) => void;
    const failed = new Promise<string>((resolve) => {
      reportFailure = resolve;
    });
    const running: RunningBroker = {
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
          // Leadership moves to other in-sync replicas while this broker still answers, so
          // clients are told NOT_LEADER_OR_FOLLOWER and follow the new leader.
          if (services.config.boolean('controlled.shutdown.enable')) {
            await controlledShutdown(metadata, registration, logger).catch((err: unknown) => logger.error('Controlled shutdown failed', { nodeId, err }));
          }
          services.closing = true;
          await runningServer.stop();
          await closeAll(closeables, logger);
          try {
            await metadata.unregisterBroker(nodeId);
          } catch (err) {
            // etcd unreachable: the registration's lease expires by itself within broker.session.timeout.ms.
            logger.warn('Could not unregister the broker', { nodeId, err: String(err) });
          }
          await closeMetadata();
          logger.info('Broker stopped', { nodeId });
        })();
        return closing;
      },
      failed,
    };
    // Kafka halts the broker when no log dir is left or the metadata dir failed: nothing it
    // could still serve would be safe. Here the broker closes (what it can still flush is
    // flushed) and main.ts exits with status 1.
    stopOnFailure = (reason) => {
      stopOnFailure = () => undefined;
      logger.error(`Shutting down the broker: ${reason}`, { nodeId });
      running.close().then(() => reportFailure(reason), () => reportFailure(reason));
    };
    if (failedEarly !== undefined) stopOnFailure(failedEarly);
    return running;
  } catch (err) {
    await server?.stop();
    await closeAll(closeables, logger);
    await closeMetadata();
    throw err;
  }
}

/**
 * Creates an internal topic in a cluster once enough brokers have registered: tries now and
 * again on every broker registration until the topic exists (a failed try is the placement
 * refusing a replication factor the live brokers cannot reach). Returns the closeable.
 */
function createWhenEnoughBrokers(metadata: MetadataStore, create: () => Promise<unknown>, topic: string, logger: Logger): () => Promise<void> {
  let trying = false;
  const attempt = (): void => {
    if (trying || metadata.topic(topic) !== undefined) return;
    trying = true;
    create().then(
      () => logger.info('Created internal topic', { topic }),
      (err: unknown) => logger.debug('Internal topic not created yet', { topic, reason: err instanceof Error ? err.message : String(err) }),
    ).finally(() => {
      trying = false;
    });
  };
  const off = metadata.subscribe((change) => {
    if (change.type === 'broker-registered') queueMicrotask(attempt);
  });
  attempt();
  return async () => off();
}

/** The etcd store is its own ClusterMembership; any other store gets a storeMembership. */
function isClusterMembership(store: MetadataStore): store is MetadataStore & ClusterMembership {
  return typeof (store as Partial<ClusterMembership>).onControllerChange === 'function' && typeof (store as Partial<ClusterMembership>).onFencedChange === 'function';
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

function storageLogger(logger: Logger) {
  return { info: (message: string) => logger.info(message), warn: (message: string) => logger.warn(message), error: (message: string) => logger.error(message) };
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
