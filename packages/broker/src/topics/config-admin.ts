/**
 * Changing config overrides of a resource (a topic, this broker, or the cluster-wide
 * broker default): the part AlterConfigs and IncrementalAlterConfigs share. Kafka splits it
 * between the broker's ConfigAdminManager (pre-checks) and the controller's
 * ConfigurationControlManager (validation, existence, the write); the rules and messages
 * below are theirs.
 *
 * A change is computed as the resource's complete new override set, validated as a whole,
 * and written as the difference to the current set (null = delete the override):
 * - topics: overrides validated like CreateTopics (INVALID_CONFIG), then the topic must
 *   exist (UNKNOWN_TOPIC_OR_PARTITION) - in that order, as in Kafka. The replica manager
 *   applies the new overrides to the partition logs when the change event arrives.
 * - brokers: each key must be dynamically updatable at that scope and the resulting config
 *   must be valid; failures are INVALID_REQUEST, not INVALID_CONFIG (Kafka's KAFKA-13609,
 *   kept because clients see it). The broker rebuilds its effective config on the event.
 */
import { ErrorCode } from '@tributary/protocol';
import type { BrokerServices } from '../broker.js';
import { BROKER_CONFIG_DEF_BY_NAME } from '../config/broker-configs.js';
import type { ConfigDef } from '../config/config-def.js';
import { ConfigError, formatConfigValue } from '../config/config-def.js';
import { TOPIC_CONFIG_DEF_BY_NAME } from '../config/topic-configs.js';
import type { ConfigChanges } from '../metadata/metadata-store.js';
import { topicConfigsError } from './topic-config-validation.js';
import { invalidTopicNameReason } from './topic-name.js';
import { isSensitiveSecurityKey } from '../config/listeners.js';

/** DescribeConfigs/AlterConfigs resource types (Kafka's ConfigResource.Type ids). */
export const ConfigResourceType = {
  UNKNOWN: 0,
  TOPIC: 2,
  BROKER: 4,
  BROKER_LOGGER: 8,
  CLIENT_METRICS: 16,
  GROUP: 32,
} as const;

/** IncrementalAlterConfigs operations (Kafka's AlterConfigOp.OpType ids). */
export const ConfigOperation = { SET: 0, DELETE: 1, APPEND: 2, SUBTRACT: 3 } as const;
const OPERATION_NAMES = ['SET', 'DELETE', 'APPEND', 'SUBTRACT'] as const;

export interface ConfigOutcome {
  readonly errorCode: number;
  readonly errorMessage: string | null;
}

const OK: ConfigOutcome = Object.freeze({ errorCode: ErrorCode.NONE, errorMessage: null });
const error = (errorCode: number, errorMessage: string): ConfigOutcome => ({ errorCode, errorMessage });

/** Computes the complete new override set from the current one, or refuses. */
export type NextConfigs = (current: Readonly<Record<string, string>>) => Record<string, string> | ConfigOutcome;

/**
 * Replaces the overrides of one TOPIC or BROKER resource with `next(current)`. Other
 * resource types are the caller's business (they are answered before getting here).
 */
export async function alterResourceConfigs(services: BrokerServices, resourceType: number, resourceName: string, next: NextConfigs, validateOnly: boolean): Promise<ConfigOutcome> {
  if (resourceType === ConfigResourceType.TOPIC) return alterTopic(services, resourceName, next, validateOnly);
  if (resourceType === ConfigResourceType.BROKER) return alterBroker(services, resourceName, next, validateOnly);
  return error(ErrorCode.INVALID_REQUEST, `Unknown resource type ${resourceType}`);
}

async function alterTopic(services: BrokerServices, name: string, next: NextConfigs, validateOnly: boolean): Promise<ConfigOutcome> {
  if (name === '') return error(ErrorCode.INVALID_REQUEST, 'Default topic resources are not allowed.');
  const invalid = invalidTopicNameReason(name);
  if (invalid !== null) return error(ErrorCode.INVALID_TOPIC_EXCEPTION, invalid);
  const topic = services.metadata.topic(name);
  const current = topic?.configs ?? {};
  const proposed = next(current);
  if (isOutcome(proposed)) return proposed;
  const problem = topicConfigsError(proposed);
  if (problem !== null) return error(ErrorCode.INVALID_CONFIG, problem);
  if (!topic) return error(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `The topic '${name}' does not exist.`);
  const changes = diff(current, proposed);
  if (validateOnly || Object.keys(changes).length === 0) return OK;
  await services.metadata.alterTopicConfigs(name, changes);
  services.logger.info('Altered topic configs', { topic: name, changes: redact(changes, TOPIC_CONFIG_DEF_BY_NAME) });
  return OK;
}

async function alterBroker(services: BrokerServices, name: string, next: NextConfigs, validateOnly: boolean): Promise<ConfigOutcome> {
  const scope = brokerScope(services.nodeId, name);
  if (typeof scope !== 'number' && scope !== null) return scope;
  const perBroker = scope !== null;
  const current = services.metadata.brokerConfigs(scope);
  const proposed = next(current);
  if (isOutcome(proposed)) return proposed;
  try {
    // One validation: withDynamic checks each key's update mode at this scope, parses it,
    // and checks the whole resulting config (cross-key rules).
    services.config.withDynamic(perBroker
      ? { clusterDefault: services.metadata.brokerConfigs(null), perBroker: proposed }
      : { clusterDefault: proposed, perBroker: services.metadata.brokerConfigs(services.nodeId) });
  } catch (err) {
    if (err instanceof ConfigError) return error(ErrorCode.INVALID_REQUEST, err.message);
    throw err;
  }
  const changes = diff(current, proposed);
  if (validateOnly || Object.keys(changes).length === 0) return OK;
  await services.metadata.alterBrokerConfigs(scope, changes);
  services.logger.info('Altered broker configs', { scope: scope ?? 'cluster-default', changes: redact(changes, BROKER_CONFIG_DEF_BY_NAME) });
  return OK;
}

/**
 * Kafka's ConfigAdminManager.preprocess checks that AlterConfigs and
 * IncrementalAlterConfigs share, in Kafka's order: the resource listed more than once in
 * the request, a key listed twice, a null value where `nullAllowed` says none may be.
 * Returns INVALID_REQUEST's message, or null.
 */
export function preprocessRefusal<C extends { readonly name: string; readonly value: string | null }>(
  duplicateResource: boolean,
  configs: readonly C[],
  nullAllowed: (config: C) => boolean,
): string | null {
  if (duplicateResource) return 'Each resource must appear at most once.';
  if (new Set(configs.map((c) => c.name)).size !== configs.length) return 'Error due to duplicate config keys';
  const nulls = configs.filter((c) => c.value === null && !nullAllowed(c)).map((c) => c.name);
  if (nulls.length > 0) return `Null value not supported for : ${nulls.join(', ')}`;
  return null;
}

/** Which resources of a request appear more than once (type and name). */
export function duplicateResources(resources: readonly { readonly resourceType: number; readonly resourceName: string }[]): (r: { readonly resourceType: number; readonly resourceName: string }) => boolean {
  const key = (r: { readonly resourceType: number; readonly resourceName: string }): string => `${r.resourceType}:${r.resourceName}`;
  const counts = new Map<string, number>();
  for (const r of resources) counts.set(key(r), (counts.get(key(r)) ?? 0) + 1);
  return (r) => (counts.get(key(r)) ?? 0) > 1;
}

/** A broker id written as Kafka's Integer.parseInt reads it, or null. */
export function parseBrokerId(name: string): number | null {
  if (!/^[+-]?\d+$/.test(name)) return null;
  const id = Number(name);
  return Number.isSafeInteger(id) ? id : null;
}

/**
 * The metadata scope a BROKER resource name stands for: null for "" (the cluster-wide
 * default), this node's id for its own id; any other name is refused as Kafka refuses it.
 */
export function brokerScope(nodeId: number, name: string): number | null | ConfigOutcome {
  if (name === '') return null;
  const id = parseBrokerId(name);
  if (id === null) return error(ErrorCode.INVALID_REQUEST, `Node id must be an integer, but it is: ${name}`);
  if (id !== nodeId) return error(ErrorCode.INVALID_REQUEST, `Unexpected broker id, expected ${nodeId}, but received ${name}`);
  return nodeId;
}

/**
 * IncrementalAlterConfigs operations applied to `current`. APPEND and SUBTRACT work on
 * list-typed keys only; when the key has no override they start from the key's static
 * default (Kafka's ConfigDef default, not the broker's effective value), as Kafka does.
 */
export function applyIncrementalOps(resourceType: number, current: Readonly<Record<string, string>>, ops: readonly { name: string; configOperation: number; value: string | null }[]): Record<string, string> | ConfigOutcome {
  const next: Record<string, string> = { ...current };
  for (const op of ops) {
    switch (op.configOperation) {
      case ConfigOperation.SET:
        next[op.name] = op.value ?? '';
        break;
      case ConfigOperation.DELETE:
        delete next[op.name];
        break;
      case ConfigOperation.APPEND:
      case ConfigOperation.SUBTRACT: {
        const opName = OPERATION_NAMES[op.configOperation];
        const def = resourceType === ConfigResourceType.TOPIC ? TOPIC_CONFIG_DEF_BY_NAME.get(op.name) : BROKER_CONFIG_DEF_BY_NAME.get(op.name);
        if (def === undefined && resourceType === ConfigResourceType.BROKER) return error(ErrorCode.INVALID_CONFIG, `Unknown config name: ${op.name}`);
        if (def?.type !== 'list') {
          return resourceType === ConfigResourceType.BROKER
            ? error(ErrorCode.INVALID_CONFIG, `Config value ${opName === 'APPEND' ? 'append' : 'subtract'} is not allowed for config key: ${op.name}`)
            : error(ErrorCode.INVALID_CONFIG, `Can't ${opName} to key ${op.name} because its type is not LIST.`);
        }
        const base = next[op.name] ?? staticDefault(def);
        const items = base === null ? [] : base.split(',').filter((s) => s !== '');
        for (const value of (op.value ?? '').split(',')) {
          if (op.configOperation === ConfigOperation.APPEND) {
            if (!items.includes(value)) items.push(value);
          } else {
            const at = items.indexOf(value);
            if (at >= 0) items.splice(at, 1);
          }
        }
        next[op.name] = items.join(',');
        break;
      }
      default:
        return error(ErrorCode.INVALID_REQUEST, `Unknown operations type ${op.configOperation}`);
    }
  }
  return next;
}

/** Kafka's ConfigDef default of the key (not the broker's effective value), as text. */
function staticDefault(def: ConfigDef): string | null {
  return formatConfigValue(def, def.default);
}

function diff(current: Readonly<Record<string, string>>, next: Readonly<Record<string, string>>): ConfigChanges {
  const changes: Record<string, string | null> = {};
  for (const [key, value] of Object.entries(next)) if (current[key] !== value) changes[key] = value;
  for (const key of Object.keys(current)) if (!Object.prototype.hasOwnProperty.call(next, key)) changes[key] = null;
  return changes;
}

/** Password values never reach the logs. */
function redact(changes: ConfigChanges, defs: ReadonlyMap<string, ConfigDef>): ConfigChanges {
  const out: Record<string, string | null> = {};
  for (const [key, value] of Object.entries(changes)) out[key] = value !== null && (defs.get(key)?.type === 'password' || isSensitiveSecurityKey(key)) ? '[hidden]' : value;
  return out;
}

/** Config sets hold strings only, so a numeric errorCode can only be an outcome. */
function isOutcome(value: Record<string, string> | ConfigOutcome): value is ConfigOutcome {
  return typeof (value as { errorCode?: unknown }).errorCode === 'number';
}
