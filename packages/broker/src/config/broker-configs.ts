/**
 * The broker config keys Tributary honours, as data. The keys that give topics their
 * defaults (log.*, message.max.bytes, compression.type...) are not written here: they
 * are derived from the topic table in @tributary/storage (log-config.ts), so a key's
 * type, default and validator exist once. Names, types, defaults, importance,
 * validators and dynamic update modes follow Apache Kafka 3.9 (`ServerConfigs`,
 * `ServerLogConfigs`, `SocketServerConfigs`, `GroupCoordinatorConfig`,
 * `TransactionLogConfig`, `ReplicationConfigs`, `DynamicBrokerConfig`); the docs are ours.
 *
 * Deliberate differences from Kafka, all chosen so a single node works out of the box:
 * - `listeners` defaults to PLAINTEXT://127.0.0.1:9092 (Kafka: PLAINTEXT://:9092, all
 *   interfaces); binding every interface should be a decision, not a default.
 * - `node.id` defaults to 1 when neither the config nor meta.properties gives one
 *   (Kafka requires it in KRaft mode).
 * - `offsets.topic.replication.factor` and `transaction.state.log.replication.factor` keep
 *   Kafka's default of 3; the coordinators create the internal topics with
 *   min(configured, live brokers) replicas so a single broker works (Kafka would refuse).
 * - Tributary-only keys carry `tributary: true`: `log.flush.durable.acks`,
 *   `connection.max.inflight.requests`, `queued.max.response.bytes`,
 *   `connection.max.queued.response.bytes`, `etcd.endpoints`, `etcd.prefix`,
 *   `etcd.request.timeout.ms`, `etcd.lease.fence.margin.ms`.
 * - `queued.max.request.bytes` defaults to 200 MiB (Kafka: -1, unbounded).
 */
import { LOG_CONFIG_DEFS } from '@tributary/storage';
import type { LogBrokerKeyTypes } from '@tributary/storage';
import type { ConfigDef, ConfigType, ConfigValue, DynamicUpdateMode, Importance } from './config-def.js';
import { INT_MAX_VALUE } from './config-def.js';

type Extra = Pick<ConfigDef, 'range' | 'validValues' | 'validListValues' | 'tributary'>;

/** One row; the generic parameters carry the literal name and type to BrokerKeyTypes. */
function def<const N extends string, const T extends ConfigType>(
  name: N,
  type: T,
  defaultValue: ConfigValue,
  importance: Importance,
  dynamic: DynamicUpdateMode,
  doc: string,
  extra: Extra = {},
): Omit<ConfigDef, 'name' | 'type'> & { readonly name: N; readonly type: T } {
  return { name, type, default: defaultValue, importance, dynamic, doc, ...extra };
}

/** Keys of the broker alone (no topic key takes its value from them). */
const BROKER_ONLY_CONFIG_DEFS = [
  // --- identity and storage location
  def('node.id', 'int', -1, 'high', 'read-only', 'The node id of this broker. When unset (-1), the id recorded in meta.properties is used, else 1.'),
  def('broker.id', 'int', -1, 'high', 'read-only', 'Legacy synonym of node.id; if both are set they must be equal.'),
  def('log.dirs', 'list', null, 'high', 'read-only', 'Log directories (comma-separated). Partitions are spread over them, each new one to the directory with the fewest; the first also holds the metadata log. A directory whose disk fails goes offline alone.'),
  def('log.dir', 'string', '/tmp/kafka-logs', 'high', 'read-only', 'The data directory, used when log.dirs is not set.'),
  def('broker.rack', 'string', null, 'medium', 'read-only', 'Rack of the broker, used for rack-aware replica placement.'),

  // --- network
  def('listeners', 'list', ['PLAINTEXT://127.0.0.1:9092'], 'high', 'per-broker', 'Comma-separated listener URIs NAME://host:port. Port 0 binds an ephemeral port. An empty host binds all interfaces.'),
  def('advertised.listeners', 'list', null, 'high', 'per-broker', 'Listener URIs published to clients in Metadata; defaults to listeners (with the bound port when listeners used port 0).'),
  def('listener.security.protocol.map', 'list', ['PLAINTEXT:PLAINTEXT', 'SSL:SSL', 'SASL_PLAINTEXT:SASL_PLAINTEXT', 'SASL_SSL:SASL_SSL'], 'low', 'per-broker', 'Map of listener name to security protocol.'),
  def('inter.broker.listener.name', 'string', null, 'medium', 'read-only', 'Listener used between brokers; defaults to the first listener.'),
  def('socket.request.max.bytes', 'int', 104857600, 'high', 'read-only', 'Largest request frame accepted; a larger size prefix closes the connection.', { range: { min: 1 } }),
  def('socket.send.buffer.bytes', 'int', 102400, 'high', 'read-only', 'SO_SNDBUF hint; -1 uses the OS default (Node does not expose it per socket, so only -1 is honoured exactly).'),
  def('socket.receive.buffer.bytes', 'int', 102400, 'high', 'read-only', 'SO_RCVBUF hint; see socket.send.buffer.bytes.'),
  def('max.incremental.fetch.session.cache.slots', 'int', 1000, 'medium', 'read-only', 'Maximum number of incremental fetch sessions kept (KIP-227).', { range: { min: 0 } }),
  def('max.connections', 'int', INT_MAX_VALUE, 'medium', 'cluster-wide', 'Maximum connections across all listeners; the excess is closed at accept.', { range: { min: 0 } }),
  def('max.connections.per.ip', 'int', INT_MAX_VALUE, 'medium', 'cluster-wide', 'Maximum connections from one IP address; the excess is closed at accept.', { range: { min: 0 } }),
  def('max.connection.creation.rate', 'int', INT_MAX_VALUE, 'medium', 'cluster-wide', 'New connections per second the broker accepts across its listeners (the inter-broker listener excepted); beyond it a connection is served only after a delay. listener.name.<l>.max.connection.creation.rate limits one listener.', { range: { min: 0 } }),
  def('max.connections.per.ip.overrides', 'string', '', 'medium', 'cluster-wide', 'Per-IP or per-hostname overrides of max.connections.per.ip, as ip:count,ip:count.'),
  def('quota.window.num', 'int', 11, 'low', 'read-only', 'Number of samples client quota rates are measured over.', { range: { min: 1 } }),
  def('quota.window.size.seconds', 'int', 1, 'low', 'read-only', 'Length of one client quota sample, in seconds.', { range: { min: 1 } }),
  def('connections.max.idle.ms', 'long', 600000, 'medium', 'read-only', 'Idle connections are closed after this many milliseconds without a request or response.'),
  def('queued.max.requests', 'int', 500, 'high', 'read-only', 'Kafka: size of the broker-wide request queue. Tributary bounds requests per connection instead (connection.max.inflight.requests); kept for compatibility.', { range: { min: 1 } }),
  def('connection.max.inflight.requests', 'int', 100, 'medium', 'read-only', 'Requests one connection may have decoded but not yet answered; beyond this the broker stops reading that socket until responses drain (backpressure).', { range: { min: 1 }, tributary: true }),
  def('queued.max.request.bytes', 'long', 209715200, 'medium', 'read-only', 'Bytes of requests read and not yet answered, broker-wide, before no more requests are read (-1: unbounded). Kafka defaults to -1; Tributary bounds it (200 MiB, twice socket.request.max.bytes) so that memory is bounded in bytes.'),
  def('queued.max.response.bytes', 'long', 268435456, 'medium', 'read-only', 'Bytes of fetched record data held in responses not yet written to the network, broker-wide (-1: unbounded). A Fetch reserves its bytes before reading and returns less (or nothing, after its max wait) when the budget is used up.', { tributary: true }),
  def('connection.max.queued.response.bytes', 'long', 16777216, 'medium', 'read-only', 'Bytes of fetched record data one connection may hold in responses not yet written to the network (-1: unbounded), so at most this much per Fetch response (beyond one batch larger than it). Kafka sends up to fetch.max.bytes from the file; Tributary reads it into memory, synchronously, and a 50 MB read stalls every client for 100-200 ms.', { tributary: true }),

  // --- authorization (security/authorizer.ts)
  def('authorizer.class.name', 'string', '', 'low', 'read-only', 'Authorizer of client requests. Empty: no authorization (every request allowed). Kafka\'s org.apache.kafka.metadata.authorizer.StandardAuthorizer or kafka.security.authorizer.AclAuthorizer: ACLs (CreateAcls/DescribeAcls/DeleteAcls) decide; other names are refused at start-up.'),
  def('super.users', 'string', '', 'low', 'read-only', 'Principals allowed everything whatever the ACLs say, separated by semicolons (User:admin;User:broker).'),
  def('allow.everyone.if.no.acl.found', 'boolean', false, 'low', 'read-only', 'With an authorizer: whether a resource no ACL applies to is open to everyone (Kafka default false: denied).'),

  // --- cluster metadata (etcd); empty etcd.endpoints = the local metadata log, one broker
  def('etcd.endpoints', 'list', [], 'high', 'read-only', 'etcd client URLs (comma-separated, e.g. http://10.0.0.1:2379,http://10.0.0.2:2379). Empty: a single broker keeping its metadata in a local log. Set: the cluster metadata, broker registration and controller election live in etcd.', { tributary: true }),
  def('etcd.prefix', 'string', '/tributary/', 'high', 'read-only', 'Key prefix of this cluster in etcd; several clusters share one etcd under different prefixes.', { tributary: true }),
  def('etcd.request.timeout.ms', 'int', 5000, 'medium', 'read-only', 'Deadline of each etcd call. Without an etcd quorum, metadata writes fail after this with REQUEST_TIMED_OUT while reads keep answering from the cache.', { range: { min: 100 }, tributary: true }),
  def('etcd.lease.fence.margin.ms', 'int', 2000, 'medium', 'read-only', 'A broker whose lease keepalives go unanswered fences itself (stops controlling and changing partition state; keeps leading until a newer leader epoch is seen) this long before the lease could expire; must be below broker.session.timeout.ms and cover event-loop stalls.', { range: { min: 1 }, tributary: true }),
  def('broker.session.timeout.ms', 'int', 9000, 'medium', 'read-only', 'A broker whose registration has not been renewed for this long is considered dead (the TTL of its etcd lease, rounded up to whole seconds).', { range: { min: 1000 } }),

  // --- topics
  def('num.partitions', 'int', 1, 'medium', 'read-only', 'Default number of partitions of auto-created topics and of CreateTopics with num_partitions -1.', { range: { min: 1 } }),
  def('default.replication.factor', 'int', 1, 'medium', 'read-only', 'Default replication factor of auto-created topics.'),
  def('auto.create.topics.enable', 'boolean', true, 'high', 'read-only', 'Create a topic on Metadata for an unknown topic (when the client allows it).'),
  def('delete.topic.enable', 'boolean', true, 'high', 'read-only', 'Allow DeleteTopics. When false, deletions fail with TOPIC_DELETION_DISABLED.'),

  // --- log segments, retention, flushing (the keys that are topic synonyms come from
  //     the storage package's table: LOG_BROKER_CONFIG_DEFS below)
  def('log.retention.check.interval.ms', 'long', 300000, 'medium', 'read-only', 'How often retention is checked.', { range: { min: 1 } }),
  def('log.flush.offset.checkpoint.interval.ms', 'int', 60000, 'high', 'read-only', 'How often the recovery point is checkpointed.', { range: { min: 0 } }),
  def('log.cleaner.enable', 'boolean', true, 'medium', 'read-only', 'Run the log cleaner (compaction).'),
  def('log.cleaner.backoff.ms', 'long', 15000, 'medium', 'cluster-wide', 'Sleep between cleaner passes when there is nothing to clean.', { range: { min: 0 } }),
  def('log.cleaner.threads', 'int', 1, 'medium', 'cluster-wide', 'Cleaner threads (worker threads, off the event loop); each cleans one log at a time. Read at start-up here.', { range: { min: 0 } }),
  def('log.cleaner.dedupe.buffer.size', 'long', 134217728, 'medium', 'cluster-wide', 'Offset-map memory of all cleaner threads together (24 bytes per key, filled to 90%). Tributary sizes each clean\'s map to its dirty section, up to a thread\'s share. Read at start-up here.'),
  def('log.cleaner.io.max.bytes.per.second', 'double', Number.MAX_VALUE, 'medium', 'cluster-wide', 'Read + write rate of the cleaner, split evenly between its threads. Read at start-up here.'),
  def('log.cleaner.io.buffer.size', 'int', 524288, 'medium', 'cluster-wide', 'Kafka: cleaner I/O buffer. Tributary reads segments in 1 MiB chunks whatever it says; accepted for compatibility.', { range: { min: 0 } }),
  def('log.cleaner.io.buffer.load.factor', 'double', 0.9, 'medium', 'cluster-wide', 'Share of the offset map filled before a clean stops its dirty section (fixed at 0.9 here; accepted for compatibility).'),

  // --- replication
  def('replica.lag.time.max.ms', 'long', 30000, 'high', 'read-only', 'A follower that has not caught up for this long leaves the ISR.'),
  def('replica.fetch.max.bytes', 'int', 1048576, 'medium', 'read-only', 'Bytes per partition a follower fetches.', { range: { min: 0 } }),
  def('replica.fetch.min.bytes', 'int', 1, 'high', 'read-only', 'Minimum bytes a follower fetch waits for.'),
  def('replica.fetch.wait.max.ms', 'int', 500, 'medium', 'read-only', 'Maximum wait of a follower fetch.'),
  def('replica.fetch.response.max.bytes', 'int', 10485760, 'medium', 'read-only', 'Bytes per follower fetch response.', { range: { min: 0 } }),
  def('replica.fetch.backoff.ms', 'int', 1000, 'medium', 'read-only', 'Sleep after a follower fetch error.', { range: { min: 0 } }),
  def('num.replica.fetchers', 'int', 1, 'high', 'cluster-wide', 'Fetcher connections per source broker.'),
  def('replica.high.watermark.checkpoint.interval.ms', 'long', 5000, 'high', 'read-only', 'How often the high watermark is checkpointed.'),
  def('broker.session.timeout.ms', 'int', 9000, 'high', 'read-only', 'A newly active controller waits this long for brokers named in the partition metadata to register before failing their partitions over.'),
  def('controlled.shutdown.enable', 'boolean', true, 'medium', 'read-only', 'Before it stops, the broker asks the controller to move its leaderships to other in-sync replicas and waits for that (bounded).'),
  def('auto.leader.rebalance.enable', 'boolean', true, 'high', 'read-only', 'Move leadership back to preferred replicas periodically.'),
  def('leader.imbalance.check.interval.seconds', 'long', 300, 'high', 'read-only', 'How often the preferred-leader check runs.', { range: { min: 1 } }),
  def('leader.imbalance.per.broker.percentage', 'int', 10, 'high', 'read-only', 'Share of its preferred partitions a broker may not lead (in percent) before the preferred-leader check moves leadership back.', { range: { min: 0 } }),
  def('fetch.max.bytes', 'int', 57671680, 'medium', 'cluster-wide', 'Largest fetch response the broker returns.', { range: { min: 1024 } }),

  // --- group coordinator
  def('offsets.topic.num.partitions', 'int', 50, 'high', 'read-only', 'Partitions of __consumer_offsets (do not change after it exists).', { range: { min: 1 } }),
  def('offsets.topic.replication.factor', 'short', 3, 'high', 'read-only', 'Replication factor of __consumer_offsets (capped to the live brokers at creation).', { range: { min: 1 } }),
  def('offsets.topic.segment.bytes', 'int', 104857600, 'high', 'read-only', 'Segment size of __consumer_offsets.', { range: { min: 1 } }),
  def('offsets.retention.minutes', 'int', 10080, 'high', 'read-only', 'Committed offsets of an empty group are deleted after this many minutes.', { range: { min: 1 } }),
  def('offsets.retention.check.interval.ms', 'long', 600000, 'high', 'read-only', 'How often stale offsets are looked for.', { range: { min: 1 } }),
  def('offsets.commit.timeout.ms', 'int', 5000, 'high', 'read-only', 'Time an offset commit waits for its write to be replicated.', { range: { min: 1 } }),
  def('offset.metadata.max.bytes', 'int', 4096, 'high', 'read-only', 'Largest metadata string of a committed offset.'),
  def('group.initial.rebalance.delay.ms', 'int', 3000, 'medium', 'read-only', 'Wait for more members before the first rebalance of an empty group.'),
  def('group.min.session.timeout.ms', 'int', 6000, 'medium', 'read-only', 'Smallest session timeout a member may ask for.'),
  def('group.max.session.timeout.ms', 'int', 1800000, 'medium', 'read-only', 'Largest session timeout a member may ask for.'),
  def('group.max.size', 'int', INT_MAX_VALUE, 'medium', 'read-only', 'Maximum members of one classic group.', { range: { min: 1 } }),
  def('group.coordinator.rebalance.protocols', 'list', ['classic', 'consumer'], 'medium', 'read-only', 'Enabled group protocols (classic, consumer = KIP-848).', { validListValues: ['classic', 'consumer'] }),
  def('group.consumer.session.timeout.ms', 'int', 45000, 'medium', 'read-only', 'Session timeout of KIP-848 consumer-protocol members.', { range: { min: 1 } }),
  def('group.consumer.heartbeat.interval.ms', 'int', 5000, 'medium', 'read-only', 'Heartbeat interval of KIP-848 consumer-protocol members.', { range: { min: 1 } }),
  def('group.consumer.max.size', 'int', INT_MAX_VALUE, 'medium', 'read-only', 'Maximum members of one consumer-protocol group.', { range: { min: 1 } }),

  // --- transactions and idempotence
  def('transaction.state.log.num.partitions', 'int', 50, 'high', 'read-only', 'Partitions of __transaction_state.', { range: { min: 1 } }),
  def('transaction.state.log.replication.factor', 'short', 3, 'high', 'read-only', 'Replication factor of __transaction_state (capped to the live brokers at creation).', { range: { min: 1 } }),
  def('transaction.state.log.min.isr', 'int', 2, 'high', 'read-only', 'min.insync.replicas of __transaction_state (capped like its replication factor).', { range: { min: 1 } }),
  def('transaction.state.log.segment.bytes', 'int', 104857600, 'high', 'read-only', 'Segment size of __transaction_state.', { range: { min: 1 } }),
  def('transaction.max.timeout.ms', 'int', 900000, 'high', 'read-only', 'Largest transaction timeout a producer may ask for.', { range: { min: 1 } }),
  def('transactional.id.expiration.ms', 'int', 604800000, 'high', 'read-only', 'A transactional id unused for this long is expired.', { range: { min: 1 } }),
  def('transaction.abort.timed.out.transaction.cleanup.interval.ms', 'int', 10000, 'low', 'read-only', 'How often timed-out transactions are aborted.', { range: { min: 1 } }),
  def('transaction.remove.expired.transaction.cleanup.interval.ms', 'int', 3600000, 'low', 'read-only', 'How often expired transactional ids are removed.', { range: { min: 1 } }),
  def('producer.id.expiration.ms', 'int', 86400000, 'low', 'cluster-wide', 'Idempotent producer state is dropped after this long without writes.', { range: { min: 1 } }),
  def('producer.id.expiration.check.interval.ms', 'int', 600000, 'low', 'read-only', 'How often idle producer ids are looked for and expired.', { range: { min: 1 } }),
];

/**
 * The broker keys that are synonyms of topic keys (log.segment.bytes, log.retention.hours,
 * message.max.bytes...), derived from the storage package's topic table: the topic key's
 * type, default and validator unless Kafka's broker key differs, which the table states;
 * dynamic cluster-wide if it is the topic key's first synonym, else read-only.
 */
export const LOG_BROKER_CONFIG_DEFS: readonly ConfigDef[] = LOG_CONFIG_DEFS.flatMap((topic) => topic.brokerSynonyms.map((synonym, index): ConfigDef => {
  const sameType = synonym.type === undefined || synonym.type === topic.type;
  const range = synonym.range === null ? undefined : synonym.range ?? (sameType ? topic.range : undefined);
  return {
    name: synonym.name,
    type: synonym.type ?? topic.type,
    default: synonym.default !== undefined ? synonym.default : topic.default,
    importance: synonym.importance ?? topic.importance,
    // Kafka's DynamicLogConfig makes only the first synonym of each topic key dynamic:
    // log.retention.ms can be altered at run time, log.retention.hours needs a restart.
    dynamic: synonym.dynamic ?? (index === 0 ? 'cluster-wide' : 'read-only'),
    doc: synonym.doc ?? (topic.tributary ? topic.doc : `${topic.doc} Topic synonym: ${topic.name}.`),
    ...(range ? { range } : {}),
    ...(sameType && topic.validValues ? { validValues: topic.validValues } : {}),
    ...(sameType && topic.validListValues ? { validListValues: topic.validListValues } : {}),
    ...(sameType && topic.validator ? { validator: topic.validator } : {}),
    ...(topic.tributary ? { tributary: true } : {}),
  };
}));

/**
 * Every broker key and its config type, at compile time: BrokerConfig's typed accessors
 * (`number`, `boolean`, `string`, `list`) accept only keys of a matching type, so a
 * misspelt key or a wrong accessor fails the build instead of a request.
 */
export type BrokerKeyTypes = { readonly [D in (typeof BROKER_ONLY_CONFIG_DEFS)[number] as D['name']]: D['type'] } & LogBrokerKeyTypes;
/** The broker keys whose config type is one of `T`. */
export type BrokerKeyOf<T extends ConfigType> = { [K in keyof BrokerKeyTypes]: BrokerKeyTypes[K] extends T ? K : never }[keyof BrokerKeyTypes];

/** Every broker key: the broker-only ones above, then the topic keys' broker synonyms. */
export const BROKER_CONFIG_DEFS: readonly ConfigDef[] = [...BROKER_ONLY_CONFIG_DEFS, ...LOG_BROKER_CONFIG_DEFS];

export const BROKER_CONFIG_DEF_BY_NAME: ReadonlyMap<string, ConfigDef> = new Map(BROKER_CONFIG_DEFS.map((d) => [d.name, d]));
