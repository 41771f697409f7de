/**
 * How a broker config key is described, parsed and printed. The machinery (ConfigDef,
 * parseConfigValue, formatConfigValue, ConfigError) lives in @tributary/storage, next to
 * the topic (log) config table it serves first; the broker's tables (broker-configs.ts,
 * topic-configs.ts) extend that table and parse with the same functions, so no key is
 * parsed or validated twice.
 */
export type { ConfigDef, ConfigType, ConfigValue, DynamicUpdateMode } from '@tributary/storage';
export {
  ConfigError, ConfigTypes, INT_MAX_VALUE, KAFKA_LONG_MAX_TEXT, LONG_MAX_VALUE, formatConfigValue, parseConfigValue,
} from '@tributary/storage';
export type { Importance } from '@tributary/storage';
