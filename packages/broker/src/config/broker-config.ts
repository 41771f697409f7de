/**
 * The effective configuration of one broker: Kafka's layers, highest first,
 *   DYNAMIC_BROKER_CONFIG (this broker's overrides in the metadata store)
 *   DYNAMIC_DEFAULT_BROKER_CONFIG (cluster-wide overrides in the metadata store)
 *   STATIC_BROKER_CONFIG (server.properties, --override flags, startBroker options)
 *   DEFAULT_CONFIG (the table in broker-configs.ts).
 * Values are parsed and validated when a layer is built, so reading a key never throws.
 *
 * Unknown keys are kept as strings and warned about, like Kafka ("supplied but isn't a
 * known config"): plugins and newer tools put their own keys in server.properties.
 *
 * Synonyms (node.id/broker.id, log.dirs/log.dir, log.retention.ms/minutes/hours, ...)
 * resolve the way Kafka's KafkaConfig does: merge the layers per key first, then take the
 * highest-priority synonym that is set.
 */
import type { LogConfig } from '@tributary/storage';
import { logConfigOf, parseLogConfigOverrides, parseStoredLogConfigOverrides, withLogConfigOverrides } from '@tributary/storage';
import type { ConfigDef, ConfigValue } from './config-def.js';
import { ConfigError, formatConfigValue, LONG_MAX_VALUE, parseConfigValue } from './config-def.js';
import { BROKER_CONFIG_DEFS, BROKER_CONFIG_DEF_BY_NAME } from './broker-configs.js';
import type { BrokerKeyOf } from './broker-configs.js';
import type { ListenerSpec } from './listeners.js';
import { isSecurityConfigKey, parseListeners, parseSecurityProtocolMap } from './listeners.js';
import { TOPIC_CONFIG_DEF_BY_NAME, TOPIC_CONFIG_DEFS, brokerValueToTopicValue } from './topic-configs.js';
import type { Logger } from '../logger.js';

/** DescribeConfigs `ConfigSource` values (protocol numbers; never change). */
export const ConfigSource = {
  UNKNOWN: 0,
  TOPIC_CONFIG: 1,
  DYNAMIC_BROKER_CONFIG: 2,
  DYNAMIC_DEFAULT_BROKER_CONFIG: 3,
  STATIC_BROKER_CONFIG: 4,
  DEFAULT_CONFIG: 5,
} as const;
export type ConfigSource = (typeof ConfigSource)[keyof typeof ConfigSource];

export interface ConfigSynonym {
  readonly name: string;
  readonly value: string | null;
  readonly source: ConfigSource;
}

export interface ConfigEntry {
  readonly name: string;
  readonly value: string | null;
  readonly source: ConfigSource;
  readonly readOnly: boolean;
  readonly isSensitive: boolean;
  readonly synonyms: readonly ConfigSynonym[];
  readonly type: ConfigDef['type'];
  readonly doc: string;
}

/** Raw values as they arrive from a file, flags, JS options or the metadata store. */
export type RawConfig = Readonly<Record<string, unknown>>;

type Layer = ReadonlyMap<string, ConfigValue>;


export class BrokerConfig {
  private logDefaultsCache: Readonly<LogConfig> | undefined;

  private constructor(
    private readonly staticLayer: Layer,
    private readonly dynamicDefaultLayer: Layer,
    private readonly dynamicBrokerLayer: Layer,
    /** Keys nobody defined, kept verbatim. */
    readonly unknown: ReadonlyMap<string, string>,
  ) {}

  /**
   * Builds the static layer. Later sources in `sources` win (file, then flags, then
   * options). Throws ConfigError for an invalid value of a known key.
   */
  static load(sources: readonly RawConfig[], logger?: Logger): BrokerConfig {
    const merged = new Map<string, unknown>();
    for (const source of sources) {
      for (const [key, value] of Object.entries(source)) if (value !== undefined) merged.set(key.trim(), value);
    }
    const known = new Map<string, ConfigValue>();
    const unknown = new Map<string, string>();
    for (const [key, raw] of merged) {
      const def = BROKER_CONFIG_DEF_BY_NAME.get(key);
      if (def) known.set(key, parseConfigValue(def, raw));
      else {
        unknown.set(key, Array.isArray(raw) ? raw.join(',') : String(raw));
        // Security keys (ssl.*, sasl.*, connections.max.reauth.ms, and all of them under
        // listener.name.<l>.) are read by network/listener-security.ts, not from this table.
        if (!isSecurityConfigKey(key)) logger?.warn(`The configuration '${key}' was supplied but isn't a known config.`, { key });
      }
    }
    const config = new BrokerConfig(known, new Map(), new Map(), unknown);
    config.validate();
    return config;
  }

  /** A copy with the dynamic layers replaced (from the metadata store). */
  withDynamic(layers: { clusterDefault?: RawConfig; perBroker?: RawConfig }): BrokerConfig {
    const build = (raw: RawConfig | undefined, perBroker: boolean): Layer => {
      const layer = new Map<string, ConfigValue>();
      for (const [key, value] of Object.entries(raw ?? {})) {
        BrokerConfig.checkDynamicUpdate(key, perBroker);
        const def = BROKER_CONFIG_DEF_BY_NAME.get(key);
        layer.set(key, def ? parseConfigValue(def, value) : String(value));
      }
      return layer;
    };
    const next = new BrokerConfig(this.staticLayer, build(layers.clusterDefault, false), build(layers.perBroker, true), this.unknown);
    next.validate();
    return next;
  }

  /**
   * Throws ConfigError unless `key` may be changed at run time at this scope, mirroring
   * Kafka's DynamicBrokerConfig (read-only keys need a restart; per-broker keys cannot be
   * set as a cluster default). Unknown keys are allowed, as in Kafka.
   */
  static checkDynamicUpdate(key: string, perBroker: boolean): void {
    const def = BROKER_CONFIG_DEF_BY_NAME.get(key);
    if (!def) return;
    if (def.dynamic === 'read-only') {
      throw new ConfigError('TRIB_ERR_CONFIG_READONLY', `Cannot update configuration ${key} dynamically: it is read-only and needs a restart`, key);
    }
    if (def.dynamic === 'per-broker' && !perBroker) {
      throw new ConfigError('TRIB_ERR_CONFIG_READONLY', `Cannot update configuration ${key} as a cluster-wide default: it can only be set per broker`, key);
    }
  }

  /** The effective value of a key (dynamic > static > default). Unknown keys: string or null. */
  get(name: string): ConfigValue {
    for (const layer of [this.dynamicBrokerLayer, this.dynamicDefaultLayer, this.staticLayer]) {
      if (layer.has(name)) return layer.get(name) ?? null;
    }
    const def = BROKER_CONFIG_DEF_BY_NAME.get(name);
    if (def) return def.default;
    return this.unknown.get(name) ?? null;
  }

  /** Whether a key is set in any layer above the defaults. */
  isSet(name: string): boolean {
    return this.dynamicBrokerLayer.has(name) || this.dynamicDefaultLayer.has(name) || this.staticLayer.has(name);
  }

  number(name: BrokerKeyOf<'int' | 'short' | 'long' | 'double'>): number {
    const value = this.get(name);
    if (typeof value !== 'number') throw new Error(`Configuration ${name} is ${JSON.stringify(value)}, not a number`);
    return value;
  }

  boolean(name: BrokerKeyOf<'boolean'>): boolean {
    const value = this.get(name);
    if (typeof value !== 'boolean') throw new Error(`Configuration ${name} is ${JSON.stringify(value)}, not a boolean`);
    return value;
  }

  string(name: BrokerKeyOf<'string' | 'password' | 'class'>): string | null {
    const value = this.get(name);
    return value === null ? null : Array.isArray(value) ? value.join(',') : String(value);
  }

  list(name: BrokerKeyOf<'list'>): string[] {
    const value = this.get(name);
    return Array.isArray(value) ? [...value] : value === null ? [] : [String(value)];
  }

  // --- derived values (synonym chains)

  /** node.id, else broker.id, else -1 (not configured). */
  get nodeId(): number {
    return this.isSet('node.id') ? this.number('node.id') : this.number('broker.id');
  }

  /** The data directory: first of log.dirs, else log.dir. */
  get logDir(): string {
    return this.logDirs[0]!;
  }

  /**
   * Every log directory: log.dirs (comma-separated, blanks dropped), else log.dir. The
   * first also holds meta.properties' defaults and the metadata log (Kafka's
   * metadata.log.dir defaults to it).
   */
  get logDirs(): string[] {
    const dirs = this.list('log.dirs').map((d) => d.trim()).filter((d) => d !== '');
    return dirs.length > 0 ? dirs : [this.string('log.dir')!];
  }

  listeners(): ListenerSpec[] {
    return parseListeners('listeners', this.list('listeners'), parseSecurityProtocolMap(this.list('listener.security.protocol.map')));
  }

  /** advertised.listeners, else listeners (host/port completed by the socket server). */
  advertisedListeners(): ListenerSpec[] {
    const map = parseSecurityProtocolMap(this.list('listener.security.protocol.map'));
    if (!this.isSet('advertised.listeners')) return parseListeners('listeners', this.list('listeners'), map);
    return parseListeners('advertised.listeners', this.list('advertised.listeners'), map);
  }

  /** Kafka's logRetentionTimeMillis: ms > minutes > hours; any negative means -1 (forever). */
  get logRetentionMs(): number { return this.topicDefault('retention.ms') as number; }
  get logRollMs(): number { return this.topicDefault('segment.ms') as number; }
  get logRollJitterMs(): number { return this.topicDefault('segment.jitter.ms') as number; }
  get logFlushIntervalMs(): number { return this.topicDefault('flush.ms') as number; }

  /**
   * The value a topic key takes when the topic has no override of its own: the first
   * broker synonym set in any layer, else the first synonym with a default, else the
   * topic key's default (Kafka's KafkaConfig.extractLogConfigMap).
   */
  topicDefault(topicKey: string): ConfigValue {
    const def = TOPIC_CONFIG_DEF_BY_NAME.get(topicKey);
    if (!def) return null;
    for (const synonym of def.brokerSynonyms) {
      if (this.isSet(synonym.name)) return brokerValueToTopicValue(synonym, this.get(synonym.name));
    }
    for (const synonym of def.brokerSynonyms) {
      const fallback = BROKER_CONFIG_DEF_BY_NAME.get(synonym.name)?.default ?? null;
      if (fallback !== null) return brokerValueToTopicValue(synonym, fallback);
    }
    return def.default;
  }

  /** The broker-level LogConfig every topic starts from (computed once per BrokerConfig). */
  logDefaults(): Readonly<LogConfig> {
    this.logDefaultsCache ??= Object.freeze(logConfigOf(new Map(TOPIC_CONFIG_DEFS.map((d) => [d.name, this.topicDefault(d.name)]))));
    return this.logDefaultsCache;
  }

  /**
   * A topic's typed LogConfig: its overrides (as stored in the metadata) over logDefaults().
   * The overrides were validated when they were written; one that no longer parses (a
   * metadata log written by another version) is skipped, so the topic keeps the broker's
   * value instead of failing to load.
   */
  logConfig(overrides: RawConfig): LogConfig {
    return withLogConfigOverrides(this.logDefaults(), parseStoredLogConfigOverrides(overrides));
  }

  /**
   * The effective config of a topic given its overrides, with DescribeConfigs sources and
   * synonyms, as Kafka's ConfigHelper.createTopicConfigEntry builds them: the override
   * (TOPIC_CONFIG) first, then the broker synonyms of the key (see synonymsOf); the
   * source is that of the first synonym, else DEFAULT_CONFIG.
   */
  describeTopic(overrides: RawConfig): ConfigEntry[] {
    const parsed = parseStoredLogConfigOverrides(overrides);
    const effective = withLogConfigOverrides(this.logDefaults(), parsed);
    return TOPIC_CONFIG_DEFS.map((def) => {
      const value = Object.prototype.hasOwnProperty.call(overrides, def.name) && !parsed.has(def.name)
        ? String(overrides[def.name])
        : formatConfigValue(def, effective[def.field] as ConfigValue);
      const primary = def.brokerSynonyms[0]?.name;
      const synonyms = primary === undefined ? [] : this.synonymsOf(primary, def.brokerSynonyms.map((s) => s.name));
      if (Object.prototype.hasOwnProperty.call(overrides, def.name)) synonyms.unshift({ name: def.name, value, source: ConfigSource.TOPIC_CONFIG });
      return {
        name: def.name, value, source: synonyms[0]?.source ?? ConfigSource.DEFAULT_CONFIG, readOnly: false,
        isSensitive: false, synonyms, type: def.type, doc: def.doc,
      };
    });
  }

  /** Validates topic overrides; returns them parsed. Unknown topic keys are rejected, as in Kafka. */
  static validateTopicConfigs(overrides: RawConfig): Map<string, ConfigValue> {
    return parseLogConfigOverrides(overrides);
  }

  /**
   * Every broker key with its own effective value, source and synonyms (DescribeConfigs),
   * as Kafka's ConfigHelper.createBrokerConfigEntry builds them.
   */
  describeBroker(): ConfigEntry[] {
    return BROKER_CONFIG_DEFS.map((def) => {
      const synonyms = this.synonymsOf(def.name, brokerSynonymFamily(def.name));
      const sensitive = def.type === 'password';
      return {
        name: def.name,
        value: sensitive ? null : formatConfigValue(def, this.get(def.name)),
        source: synonyms[0]?.source ?? ConfigSource.DEFAULT_CONFIG,
        readOnly: def.dynamic === 'read-only',
        isSensitive: sensitive,
        synonyms: sensitive ? synonyms.map((s) => ({ ...s, value: null })) : synonyms,
        type: def.type,
        doc: def.doc,
      };
    });
  }

  /**
   * Kafka's ConfigHelper.configSynonyms: the keys of `family` set in each layer, layer by
   * layer (dynamic per-broker, dynamic cluster default, static, then the built-in defaults
   * that are not null), and within a layer in the family's order; then everything before
   * the first entry for `name` itself is dropped. So retention.ms with only
   * log.retention.hours set lists nothing (its synonyms start with log.retention.hours,
   * not log.retention.ms), and its source is DEFAULT_CONFIG, exactly as Kafka answers.
   */
  private synonymsOf(name: string, family: readonly string[]): ConfigSynonym[] {
    const out: ConfigSynonym[] = [];
    const layers: [Layer, ConfigSource][] = [
      [this.dynamicBrokerLayer, ConfigSource.DYNAMIC_BROKER_CONFIG],
      [this.dynamicDefaultLayer, ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG],
      [this.staticLayer, ConfigSource.STATIC_BROKER_CONFIG],
    ];
    for (const [layer, source] of layers) {
      for (const key of family) {
        if (layer.has(key)) out.push({ name: key, value: formatConfigValue(BROKER_CONFIG_DEF_BY_NAME.get(key), layer.get(key) ?? null), source });
      }
    }
    for (const key of family) {
      const def = BROKER_CONFIG_DEF_BY_NAME.get(key);
      if (def && def.default !== null) out.push({ name: key, value: formatConfigValue(def, def.default), source: ConfigSource.DEFAULT_CONFIG });
    }
    const first = out.findIndex((s) => s.name === name);
    return first < 0 ? [] : out.slice(first);
  }

  /** Cross-key rules Kafka checks at start-up. */
  private validate(): void {
    if (this.isSet('node.id') && this.isSet('broker.id') && this.number('node.id') !== this.number('broker.id')) {
      throw new ConfigError('TRIB_ERR_CONFIG_INVALID', `node.id (${this.number('node.id')}) and broker.id (${this.number('broker.id')}) must be equal when both are set`, 'node.id');
    }
    if (this.nodeId < -1) {
      throw new ConfigError('TRIB_ERR_CONFIG_INVALID', `Invalid node.id ${this.nodeId}: expected a value >= 0`, 'node.id');
    }
    // Parsing validates names, hosts, ports and the protocol map.
    const listeners = this.listeners();
    if (listeners.length === 0) throw new ConfigError('TRIB_ERR_CONFIG_INVALID', 'listeners is empty: at least one listener is needed', 'listeners');
    const advertised = this.advertisedListeners();
    for (const spec of advertised) {
      if (!listeners.some((l) => l.name === spec.name)) {
        throw new ConfigError('TRIB_ERR_CONFIG_INVALID', `advertised.listeners names ${spec.name}, which is not in listeners (${listeners.map((l) => l.name).join(', ')})`, 'advertised.listeners');
      }
    }
    const interBroker = this.string('inter.broker.listener.name');
    if (interBroker !== null && !advertised.some((l) => l.name === interBroker.toUpperCase())) {
      throw new ConfigError('TRIB_ERR_CONFIG_INVALID', `inter.broker.listener.name must be a listener name defined in advertised.listeners. The valid options based on currently configured listeners are ${advertised.map((l) => l.name).join(',')}`, 'inter.broker.listener.name');
    }
    if (this.number('group.min.session.timeout.ms') > this.number('group.max.session.timeout.ms')) {
      throw new ConfigError('TRIB_ERR_CONFIG_INVALID', 'group.min.session.timeout.ms must not exceed group.max.session.timeout.ms', 'group.min.session.timeout.ms');
    }
  }
}

/**
 * Kafka's DynamicBrokerConfig.brokerConfigSynonyms: the broker keys that set one value in
 * different units, highest priority first; a `standalone` synonym (only a fallback, like
 * log.flush.scheduler.interval.ms) and every other key stand alone.
 */
function brokerSynonymFamily(name: string): readonly string[] {
  for (const def of TOPIC_CONFIG_DEFS) {
    const own = def.brokerSynonyms.find((s) => s.name === name);
    if (own !== undefined && !own.standalone && def.brokerSynonyms.length > 1) return def.brokerSynonyms.map((s) => s.name);
  }
  return [name];
}

export { LONG_MAX_VALUE };
