/**
 * Topic-level config keys and their broker synonyms (Kafka's `LogConfig` and
 * `ServerTopicConfigSynonyms`). The table itself lives in @tributary/storage
 * (log-config.ts), which owns what a log config means; the broker reads it from there.
 *
 * A topic key without a per-topic override takes its value from the broker: the first
 * synonym, in the order listed, that is set in any broker layer, converted to the topic
 * key's unit (`log.retention.hours` -> `retention.ms` multiplies by 3,600,000); else the
 * first synonym with a default; else the topic key's own default.
 */
export type { BrokerSynonym, LogConfigDef as TopicConfigDef } from '@tributary/storage';
export {
  LOG_CONFIG_DEFS as TOPIC_CONFIG_DEFS, LOG_CONFIG_DEF_BY_NAME as TOPIC_CONFIG_DEF_BY_NAME, brokerValueToTopicValue,
} from '@tributary/storage';
