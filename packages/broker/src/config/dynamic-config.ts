/**
 * The one path by which config changes reach a running broker (Kafka's
 * DynamicBrokerConfig plus DynamicConfigPublisher, in one place).
 *
 * It subscribes to the metadata store once and turns its events into effective configs:
 * - `broker-config-changed` for this broker or the cluster default (AlterConfigs or
 *   IncrementalAlterConfigs on BROKER): the BrokerConfig is rebuilt from the static layer
 *   and both dynamic layers; the log-level keys it changed (log.retention.hours, ...)
 *   reach every topic's typed LogConfig, and so every partition log.
 * - `topic-created`, `partitions-created`, `topic-config-changed` (CreateTopics,
 *   AlterConfigs on TOPIC...): the topic's LogConfig is rebuilt from its overrides over
 *   the broker's defaults and handed to the LogManager (and forgotten on
 *   `topic-deleted`).
 * Then every subscriber hears about it, in subscription order. Whoever caches a config
 * (the handlers read `current` on each request; the LogManager gets typed LogConfigs)
 * subscribes here rather than to the metadata store.
 *
 * A dynamic broker config that no longer validates (written by another version) is
 * logged and the previous config kept, as Kafka does.
 */
import type { LogConfig, LogManager } from '@tributary/storage';
import type { Logger } from '../logger.js';
import type { ConfigChanges, MetadataChange, MetadataStore } from '../metadata/metadata-store.js';
import type { BrokerConfig } from './broker-config.js';
import { BROKER_CONFIG_DEF_BY_NAME } from './broker-configs.js';
import { isSensitiveSecurityKey } from './listeners.js';

/** Values of password keys (and TLS/SASL secrets under any prefix) never reach the log. */
function redactSecrets(changes: ConfigChanges): ConfigChanges {
  const out: Record<string, string | null> = {};
  for (const [key, value] of Object.entries(changes)) {
    out[key] = value !== null && (BROKER_CONFIG_DEF_BY_NAME.get(key)?.type === 'password' || isSensitiveSecurityKey(key)) ? '[hidden]' : value;
  }
  return out;
}

export type DynamicConfigChange =
  | { readonly type: 'broker'; readonly config: BrokerConfig; readonly scope: number | null; readonly changes: ConfigChanges }
  | { readonly type: 'topic'; readonly topic: string; readonly logConfig: Readonly<LogConfig> };

export type DynamicConfigListener = (change: DynamicConfigChange) => void;

export interface DynamicConfigDeps {
  /** server.properties, flags and startBroker options: the layer below the dynamic ones. */
  readonly staticConfig: BrokerConfig;
  readonly metadata: MetadataStore;
  readonly nodeId: number;
  readonly logManager: LogManager;
  readonly logger: Logger;
}

export class DynamicConfig {
  private currentConfig: BrokerConfig;
  private readonly listeners = new Set<DynamicConfigListener>();
  private readonly unsubscribe: () => void;

  constructor(private readonly deps: DynamicConfigDeps) {
    this.currentConfig = this.build();
    this.unsubscribe = deps.metadata.subscribe((change) => this.onMetadataChange(change));
  }

  /** The effective broker config now (a new object after each change; never mutated). */
  get current(): BrokerConfig {
    return this.currentConfig;
  }

  /** Calls `listener` after each applied change; returns the unsubscribe function. */
  subscribe(listener: DynamicConfigListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.unsubscribe();
    this.listeners.clear();
  }

  /** The static layer with this broker's and the cluster's dynamic layers from the metadata. */
  static effective(staticConfig: BrokerConfig, metadata: MetadataStore, nodeId: number): BrokerConfig {
    return staticConfig.withDynamic({ clusterDefault: metadata.brokerConfigs(null), perBroker: metadata.brokerConfigs(nodeId) });
  }

  private build(): BrokerConfig {
    return DynamicConfig.effective(this.deps.staticConfig, this.deps.metadata, this.deps.nodeId);
  }

  private onMetadataChange(change: MetadataChange): void {
    switch (change.type) {
      case 'broker-config-changed':
        if (change.nodeId !== null && change.nodeId !== this.deps.nodeId) return;
        this.applyBrokerChange(change.nodeId, change.changes);
        return;
      case 'topic-created':
      case 'partitions-created':
      case 'topic-config-changed':
        this.applyTopicConfig(change.topic.name, change.topic.configs);
        return;
      case 'topic-deleted':
        this.deps.logManager.forgetConfig(change.topic.name);
        return;
      default:
        return;
    }
  }

  private applyBrokerChange(scope: number | null, changes: ConfigChanges): void {
    let next: BrokerConfig;
    try {
      next = this.build();
    } catch (err) {
      this.deps.logger.error('Dynamic broker config rejected; keeping the previous config', { err });
      return;
    }
    this.currentConfig = next;
    this.deps.logger.info('Applied dynamic broker config', { changes: redactSecrets(changes), scope: scope ?? 'cluster-default' });
    // Topics take their defaults from the broker: every topic's LogConfig is rebuilt.
    this.deps.logManager.updateDefaults(next.logDefaults());
    for (const topic of this.deps.metadata.topics()) this.deps.logManager.updateConfig(topic.name, next.logConfig(topic.configs));
    this.notify({ type: 'broker', config: next, scope, changes });
  }

  private applyTopicConfig(topic: string, overrides: Readonly<Record<string, string>>): void {
    const logConfig = this.currentConfig.logConfig(overrides);
    this.deps.logManager.updateConfig(topic, logConfig);
    this.notify({ type: 'topic', topic, logConfig });
  }

  private notify(change: DynamicConfigChange): void {
    for (const listener of this.listeners) {
      try {
        listener(change);
      } catch (err) {
        this.deps.logger.error('A config subscriber failed', { change: change.type, err });
      }
    }
  }
}
