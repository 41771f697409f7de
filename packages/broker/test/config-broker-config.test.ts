// Broker configuration: properties parsing (escapes, continuations, separators), typed
// values and validation, synonyms, overrides, dynamic layers, topic defaults, identity.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatProperties, parseProperties } from '../src/config/properties-file.js';
import { BrokerConfig, ConfigSource } from '../src/config/broker-config.js';
import { ConfigError, KAFKA_LONG_MAX_TEXT } from '../src/config/config-def.js';
import { BROKER_CONFIG_DEFS } from '../src/config/broker-configs.js';
import { TOPIC_CONFIG_DEFS } from '../src/config/topic-configs.js';
import { parseServerArgs } from '../src/config/server-args.js';
import { ensureMetaProperties, IdentityError, readMetaProperties } from '../src/config/meta-properties.js';
import { createLogger } from '../src/logger.js';
import { isKafkaUuid } from '../src/metadata/kafka-uuid.js';

test('properties: comments, separators, escapes, continuations, unicode', () => {
  const text = [
    '# a comment',
    '   ! another comment \\',
    'plain=value',
    'colon: with spaces  ',
    'spaced   value with = sign',
    '  indented.key =  leading blanks dropped',
    'escaped\\=key\\:x=a\\tb\\nc',
    'unicode=caf\\u00e9',
    'cont=first, \\',
    '      second, \\',
    '   third',
    'even.backslashes=ends with \\\\',
    'next=after even',
    'empty=',
    'bare',
    'dup=1',
    'dup=2',
    'crlf=yes\r\nlast=line',
  ].join('\n');
  const p = parseProperties(text);
  assert.equal(p.get('plain'), 'value');
  assert.equal(p.get('colon'), 'with spaces  ');
  assert.equal(p.get('spaced'), 'value with = sign');
  assert.equal(p.get('indented.key'), 'leading blanks dropped');
  assert.equal(p.get('escaped=key:x'), 'a\tb\nc');
  assert.equal(p.get('unicode'), 'café');
  assert.equal(p.get('cont'), 'first, second, third');
  assert.equal(p.get('even.backslashes'), 'ends with \\');
  assert.equal(p.get('next'), 'after even');
  assert.equal(p.get('empty'), '');
  assert.equal(p.get('bare'), '');
  assert.equal(p.get('dup'), '2');
  assert.equal(p.get('crlf'), 'yes');
  assert.equal(p.get('last'), 'line');
  assert.equal([...p.keys()].some((k) => k.includes('comment')), false);
  assert.throws(() => parseProperties('bad=\\u12'), (e: unknown) => e instanceof ConfigError && e.code === 'TRIB_ERR_CONFIG_SYNTAX');
});

test('properties: format then parse round-trips awkward keys and values', () => {
  const pairs: [string, string][] = [['a b', ' lead'], ['k=:#!', 'v=:#!'], ['uni', 'ü\u2603'], ['nl', 'x\ny\\z']];
  const back = parseProperties(formatProperties(pairs, 'comment'));
  assert.deepEqual([...back], pairs);
});

test('defaults match Kafka for the keys the brief names', () => {
  const c = BrokerConfig.load([]);
  assert.equal(c.number('num.partitions'), 1);
  assert.equal(c.boolean('auto.create.topics.enable'), true);
  assert.equal(c.number('message.max.bytes'), 1048588);
  assert.equal(c.number('socket.request.max.bytes'), 104857600);
  assert.equal(c.number('log.retention.hours'), 168);
  assert.equal(c.logRetentionMs, 168 * 3600000);
  assert.equal(c.number('offsets.topic.num.partitions'), 50);
  assert.equal(c.number('offsets.retention.minutes'), 10080);
  assert.equal(c.number('group.initial.rebalance.delay.ms'), 3000);
  assert.equal(c.string('compression.type'), 'producer');
  assert.equal(c.nodeId, -1);
  assert.deepEqual(c.listeners(), [{ name: 'PLAINTEXT', host: '127.0.0.1', port: 9092, securityProtocol: 'PLAINTEXT' }]);
  // every def is self-consistent: its default parses under its own validator
  for (const def of [...BROKER_CONFIG_DEFS, ...TOPIC_CONFIG_DEFS]) {
    assert.ok(def.doc.length > 0, `${def.name} has a doc`);
  }
});

test('typed parsing, validation and unknown keys', () => {
  const warnings: string[] = [];
  const logger = createLogger({ level: 'warn', sink: (l) => warnings.push(l) });
  const c = BrokerConfig.load([{ 'num.partitions': '3', 'auto.create.topics.enable': 'FALSE', 'my.plugin.key': 'x', 'log.cleanup.policy': 'compact, delete', 'log.flush.interval.messages': '9223372036854775807' }], logger);
  assert.equal(c.number('num.partitions'), 3);
  assert.equal(c.boolean('auto.create.topics.enable'), false);
  assert.deepEqual(c.list('log.cleanup.policy'), ['compact', 'delete']);
  assert.equal(c.unknown.get('my.plugin.key'), 'x');
  assert.ok(warnings.some((w) => w.includes("my.plugin.key")));
  const flush = c.describeBroker().find((e) => e.name === 'log.flush.interval.messages')!;
  assert.equal(flush.value, KAFKA_LONG_MAX_TEXT);
  const bad = (raw: Record<string, unknown>, key: string): void =>
    assert.throws(() => BrokerConfig.load([raw]), (e: unknown) => e instanceof ConfigError && e.key === key && e.message.includes(key));
  bad({ 'num.partitions': '0' }, 'num.partitions');
  bad({ 'num.partitions': 'many' }, 'num.partitions');
  bad({ 'num.partitions': '2147483648' }, 'num.partitions');
  bad({ 'compression.type': 'brotli' }, 'compression.type');
  // Kafka's ValidString and ValidList match exactly: upper case is refused, as there.
  bad({ 'compression.type': 'GZIP' }, 'compression.type');
  bad({ 'log.cleanup.policy': 'Delete' }, 'log.cleanup.policy');
  bad({ 'auto.create.topics.enable': 'yes' }, 'auto.create.topics.enable');
  bad({ listeners: 'localhost:9092' }, 'listeners');
  bad({ listeners: 'PLAINTEXT://a:1,PLAINTEXT://b:2' }, 'listeners');
  bad({ 'node.id': 1, 'broker.id': 2 }, 'node.id');
  bad({ 'advertised.listeners': 'OTHER://x:1' }, 'advertised.listeners');
  bad({ 'advertised.listeners': 'SSL://x:1' }, 'advertised.listeners'); // not a listener name in listeners
});

test('synonyms: node.id/broker.id, log.dirs/log.dir, retention ms > minutes > hours', () => {
  assert.equal(BrokerConfig.load([{ 'broker.id': 7 }]).nodeId, 7);
  assert.equal(BrokerConfig.load([{ 'node.id': 3, 'broker.id': 3 }]).nodeId, 3);
  assert.equal(BrokerConfig.load([{ 'log.dir': '/x' }]).logDir, '/x');
  assert.equal(BrokerConfig.load([{ 'log.dir': '/x', 'log.dirs': '/y,/z' }]).logDir, '/y');
  assert.equal(BrokerConfig.load([{ 'log.retention.hours': 1 }]).logRetentionMs, 3600000);
  assert.equal(BrokerConfig.load([{ 'log.retention.minutes': 5, 'log.retention.hours': 1 }]).logRetentionMs, 300000);
  assert.equal(BrokerConfig.load([{ 'log.retention.ms': 42, 'log.retention.minutes': 5 }]).logRetentionMs, 42);
  assert.equal(BrokerConfig.load([{ 'log.retention.hours': -1 }]).logRetentionMs, -1);
  assert.equal(BrokerConfig.load([{ 'log.roll.hours': 2 }]).logRollMs, 7200000);
  // flush.ms falls back to log.flush.scheduler.interval.ms (Long.MAX_VALUE)
  const topic = BrokerConfig.load([]).describeTopic({});
  assert.equal(topic.find((e) => e.name === 'flush.ms')!.value, KAFKA_LONG_MAX_TEXT);
});

test('later sources win: file < overrides; --override parsing', () => {
  const args = parseServerArgs(['server.properties', '--override', 'num.partitions=4', '--override=log.dirs=/a=b']);
  assert.equal(args.propertiesFile, 'server.properties');
  assert.deepEqual(args.overrides, { 'num.partitions': '4', 'log.dirs': '/a=b' });
  assert.throws(() => parseServerArgs(['--override', 'novalue']), ConfigError);
  assert.throws(() => parseServerArgs(['--bogus']), ConfigError);
  const c = BrokerConfig.load([{ 'num.partitions': '2', 'default.replication.factor': '1' }, args.overrides]);
  assert.equal(c.number('num.partitions'), 4);
});

test('dynamic layers and DescribeConfigs synonyms with sources', () => {
  const c = BrokerConfig.load([{ 'log.retention.hours': '24', 'message.max.bytes': '2000000' }])
    .withDynamic({ clusterDefault: { 'log.retention.ms': '5000' }, perBroker: { 'message.max.bytes': '3000000' } });
  assert.equal(c.number('message.max.bytes'), 3000000);
  assert.equal(c.logRetentionMs, 5000);
  const retention = c.describeTopic({}).find((e) => e.name === 'retention.ms')!;
  assert.equal(retention.value, '5000');
  assert.equal(retention.source, ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG);
  assert.deepEqual(retention.synonyms.map((s) => [s.name, s.value, s.source]), [
    ['log.retention.ms', '5000', ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG],
    ['log.retention.hours', '24', ConfigSource.STATIC_BROKER_CONFIG],
    ['log.retention.hours', '168', ConfigSource.DEFAULT_CONFIG],
  ]);
  const overridden = c.describeTopic({ 'retention.ms': '99' }).find((e) => e.name === 'retention.ms')!;
  assert.equal(overridden.value, '99');
  assert.equal(overridden.source, ConfigSource.TOPIC_CONFIG);
  assert.equal(overridden.synonyms[0]!.name, 'retention.ms');
  const maxBytes = c.describeBroker().find((e) => e.name === 'message.max.bytes')!;
  assert.equal(maxBytes.value, '3000000');
  assert.deepEqual(maxBytes.synonyms.map((s) => s.source), [ConfigSource.DYNAMIC_BROKER_CONFIG, ConfigSource.STATIC_BROKER_CONFIG, ConfigSource.DEFAULT_CONFIG]);
  assert.throws(() => BrokerConfig.checkDynamicUpdate('num.partitions', true), (e: unknown) => e instanceof ConfigError && e.code === 'TRIB_ERR_CONFIG_READONLY');
  assert.throws(() => BrokerConfig.checkDynamicUpdate('listeners', false), ConfigError);
  BrokerConfig.checkDynamicUpdate('listeners', true);
  assert.throws(() => c.withDynamic({ clusterDefault: { 'num.partitions': '3' } }), ConfigError);
  assert.throws(() => BrokerConfig.validateTopicConfigs({ 'retention.hours': '1' }), /Unknown topic config/);
  assert.equal(BrokerConfig.validateTopicConfigs({ 'cleanup.policy': 'compact' }).get('cleanup.policy')!.toString(), 'compact');
});

test('meta.properties is created once, reused, and a node id mismatch refuses to start', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'trib-meta-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const first = ensureMetaProperties(dir, { nodeId: -1 });
  assert.equal(first.created, true);
  assert.equal(first.meta.nodeId, 1);
  assert.ok(isKafkaUuid(first.meta.clusterId));
  assert.ok(!first.meta.clusterId.startsWith('-'));
  const text = readFileSync(join(dir, 'meta.properties'), 'latin1');
  assert.match(text, /^#.*\nversion=1\ncluster\.id=[A-Za-z0-9_-]{22}\nnode\.id=1\ndirectory\.id=[A-Za-z0-9_-]{22}\n$/);
  const again = ensureMetaProperties(dir, { nodeId: 1 });
  assert.equal(again.created, false);
  assert.deepEqual(again.meta, first.meta);
  assert.deepEqual(ensureMetaProperties(dir, { nodeId: -1 }).meta, first.meta);
  assert.throws(() => ensureMetaProperties(dir, { nodeId: 2 }), (e: unknown) =>
    e instanceof IdentityError && e.code === 'TRIB_ERR_NODE_ID_MISMATCH' && e.message.includes('node.id 2') && e.message.includes('node id 1'));
  // A Kafka-written (ZooKeeper layout) file is read too.
  writeFileSync(join(dir, 'meta.properties'), '#Tue\nversion=0\nbroker.id=5\ncluster.id=abc\n');
  assert.deepEqual(readMetaProperties(dir), { version: 0, clusterId: 'abc', nodeId: 5, directoryId: undefined });
  writeFileSync(join(dir, 'meta.properties'), 'version=1\nnode.id=x\ncluster.id=abc\n');
  assert.throws(() => readMetaProperties(dir), (e: unknown) => e instanceof IdentityError && e.code === 'TRIB_ERR_META_PROPERTIES_INVALID');
});
