/**
 * DescribeConfigs (api key 32), versions 0-4.
 *
 * Behaviour (Kafka's ConfigHelper):
 * - TOPIC (2): every topic config with its effective value and source: TOPIC_CONFIG for
 *   an override, else the first broker synonym that is set (dynamic per-broker, dynamic
 *   cluster default, static), else DEFAULT_CONFIG. An illegal name is answered
 *   INVALID_TOPIC_EXCEPTION, an unknown topic UNKNOWN_TOPIC_OR_PARTITION (no message).
 * - BROKER (4): "" describes the cluster-wide dynamic defaults only (each key set there,
 *   source DYNAMIC_DEFAULT_BROKER_CONFIG); this broker's id describes every broker key,
 *   read-only flags from the dynamic update mode, passwords as null. Any other name:
 *   INVALID_REQUEST.
 * - BROKER_LOGGER (8): this broker's id is answered with no entries (no per-logger levels
 *   exist here); "" or another id INVALID_REQUEST, as in Kafka.
 * - Any other type: INVALID_REQUEST (Kafka serves CLIENT_METRICS and GROUP configs, which
 *   do not exist here yet).
 * - configurationKeys null or empty lists everything, else only the keys named (unknown
 *   keys are left out silently).
 * - Synonyms follow Kafka's ConfigHelper.configSynonyms (BrokerConfig.synonymsOf): the
 *   key's synonym family listed layer by layer (dynamic per-broker, dynamic cluster
 *   default, static, built-in default), everything before the key's own first entry
 *   dropped; a topic override comes first. So retention.ms with only log.retention.hours
 *   set has no synonyms and source DEFAULT_CONFIG, as in Kafka. The cluster default ("")
 *   lists only DYNAMIC_DEFAULT_BROKER_CONFIG synonyms.
 * - Synonyms (v1+) only when includeSynonyms; documentation (v3+) only when
 *   includeDocumentation; configType from v3. v0 has no source: isDefault is set when the
 *   value is the built-in default.
 */
import type {
  DescribeConfigsResponse, DescribeConfigsResponseDescribeConfigsResourceResult,
  DescribeConfigsResponseDescribeConfigsResult,
} from '@tributary/protocol';
import { ApiKey, ErrorCode } from '@tributary/protocol';
import type { BrokerServices } from '../broker.js';
import { ConfigSource } from '../config/broker-config.js';
import type { ConfigEntry } from '../config/broker-config.js';
import type { ConfigType } from '../config/config-def.js';
import { ConfigResourceType, parseBrokerId } from '../topics/config-admin.js';
import { invalidTopicNameReason } from '../topics/topic-name.js';
import { configAuthorizationError } from '../security/api-acls.js';
import { AclOperation } from '../security/authorizer.js';
import type { Handler } from './registry.js';

/** DescribeConfigsResponse configType ids (Kafka's DescribeConfigsResponse.ConfigType). */
export const DESCRIBE_CONFIG_TYPE: Readonly<Record<ConfigType, number>> = {
  boolean: 1, string: 2, int: 3, short: 4, long: 5, double: 6, list: 7, class: 8, password: 9,
};
const CONFIG_TYPE_UNKNOWN = 0;

interface Options { readonly version: number; readonly includeSynonyms: boolean; readonly includeDocumentation: boolean }

type Entries = { readonly entries: ConfigEntry[] } | { readonly errorCode: number; readonly errorMessage: string | null };

export const describeConfigsHandler: Handler<'DescribeConfigs'> = {
  apiKey: ApiKey.DescribeConfigs,
  name: 'DescribeConfigs',
  minVersion: 0,
  maxVersion: 4,

  handle(req, ctx) {
    const options: Options = {
      version: ctx.header.apiVersion,
      includeSynonyms: ctx.header.apiVersion >= 1 && req.includeSynonyms === true,
      includeDocumentation: ctx.header.apiVersion >= 3 && req.includeDocumentation === true,
    };
    const results = req.resources.map((resource): DescribeConfigsResponseDescribeConfigsResult => {
      const base = { resourceType: resource.resourceType, resourceName: resource.resourceName };
      const refused = configAuthorizationError(ctx, AclOperation.DESCRIBE_CONFIGS, resource.resourceType, resource.resourceName);
      if (refused !== null) return { ...base, errorCode: refused, errorMessage: null, configs: [] };
      const found = describeResource(ctx.broker, resource.resourceType, resource.resourceName);
      if (!('entries' in found)) return { ...base, errorCode: found.errorCode, errorMessage: found.errorMessage, configs: [] };
      const keys = resource.configurationKeys;
      const wanted = keys === null || keys.length === 0 ? found.entries : found.entries.filter((e) => keys.includes(e.name));
      return { ...base, errorCode: ErrorCode.NONE, errorMessage: null, configs: wanted.map((e) => toResult(e, options)) };
    });
    return { throttleTimeMs: 0, results };
  },

  errorResponse(req, errorCode) {
    return {
      throttleTimeMs: 0,
      results: req.resources.map((r) => ({ errorCode, errorMessage: null, resourceType: r.resourceType, resourceName: r.resourceName, configs: [] })),
    };
  },
};

function describeResource(services: BrokerServices, resourceType: number, name: string): Entries {
  switch (resourceType) {
    case ConfigResourceType.TOPIC: {
      const invalid = invalidTopicNameReason(name);
      if (invalid !== null) return { errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION, errorMessage: invalid };
      const topic = services.metadata.topic(name);
      if (!topic) return { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: null };
      return { entries: services.config.describeTopic(topic.configs) };
    }
    case ConfigResourceType.BROKER: {
      if (name === '') return { entries: clusterDefaultEntries(services) };
      const id = parseBrokerId(name);
      if (id === null) return invalidRequest(`Broker id must be an integer, but it is: ${name}`);
      if (id !== services.nodeId) return invalidRequest(`Unexpected broker id, expected ${services.nodeId} or empty string, but received ${name}`);
      return { entries: brokerEntries(services) };
    }
    case ConfigResourceType.BROKER_LOGGER: {
      if (name === '') return invalidRequest('Broker id must not be empty');
      const id = parseBrokerId(name);
      if (id === null) return invalidRequest(`Broker id must be an integer, but it is: ${name}`);
      if (id !== services.nodeId) return invalidRequest(`Unexpected broker id, expected ${services.nodeId} but received ${name}`);
      return { entries: [] };
    }
    default:
      return invalidRequest(`Unsupported resource type: ${resourceType}`);
  }
}

/** Every broker key, plus keys from server.properties nobody defined (Kafka lists those too). */
function brokerEntries(services: BrokerServices): ConfigEntry[] {
  const entries = services.config.describeBroker();
  for (const [name, value] of services.config.unknown) {
    entries.push({
      name, value, source: ConfigSource.STATIC_BROKER_CONFIG, readOnly: true, isSensitive: false,
      synonyms: [{ name, value, source: ConfigSource.STATIC_BROKER_CONFIG }], type: 'string', doc: '',
    });
  }
  return entries;
}

/** The keys set as cluster-wide dynamic defaults, each with only that layer's synonym. */
function clusterDefaultEntries(services: BrokerServices): ConfigEntry[] {
  const overrides = services.metadata.brokerConfigs(null);
  const described = new Map(services.config.describeBroker().map((e) => [e.name, e]));
  const entries: ConfigEntry[] = [];
  for (const [name, raw] of Object.entries(overrides)) {
    const entry = described.get(name);
    if (entry === undefined) {
      entries.push({
        name, value: raw, source: ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG, readOnly: true, isSensitive: false,
        synonyms: [{ name, value: raw, source: ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG }], type: 'string', doc: '',
      });
      continue;
    }
    const synonyms = entry.synonyms.filter((s) => s.source === ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG);
    entries.push({
      ...entry,
      // Kafka describes the text stored in the cluster-default layer itself.
      value: entry.isSensitive ? null : raw,
      source: synonyms.length > 0 ? ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG : ConfigSource.DEFAULT_CONFIG,
      synonyms,
    });
  }
  return entries;
}

function toResult(entry: ConfigEntry, options: Options): DescribeConfigsResponseDescribeConfigsResourceResult {
  const result: DescribeConfigsResponseDescribeConfigsResourceResult = {
    name: entry.name,
    value: entry.isSensitive ? null : entry.value,
    readOnly: entry.readOnly,
    isSensitive: entry.isSensitive,
  };
  if (options.version === 0) {
    result.isDefault = entry.source === ConfigSource.DEFAULT_CONFIG;
    return result;
  }
  result.configSource = entry.source;
  result.synonyms = options.includeSynonyms
    ? entry.synonyms.map((s) => ({ name: s.name, value: entry.isSensitive ? null : s.value, source: s.source }))
    : [];
  if (options.version >= 3) {
    result.configType = DESCRIBE_CONFIG_TYPE[entry.type] ?? CONFIG_TYPE_UNKNOWN;
    result.documentation = options.includeDocumentation ? entry.doc : null;
  }
  return result;
}

function invalidRequest(errorMessage: string): Entries {
  return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage };
}
