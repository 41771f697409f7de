/**
 * Validation of a topic's complete set of config overrides, shared by CreateTopics,
 * AlterConfigs and IncrementalAlterConfigs (Kafka's `LogConfig.validate`). A failure is
 * answered with INVALID_CONFIG and the message returned here.
 *
 * Three layers must all accept the overrides:
 * - the broker's topic config table (unknown keys, types, ranges, valid values);
 * - cross-key rules Kafka checks (compaction lags, tiered storage);
 * - the storage package's parser, which builds the LogConfig the partition logs run with.
 *   Checking it here means a topic the broker accepted can always get its logs created.
 */
import { StorageError, fromProperties } from '@tributary/storage';
import { BrokerConfig } from '../config/broker-config.js';
import { ConfigError } from '../config/config-def.js';

/** INVALID_CONFIG's message for `overrides`, or null when they are valid. */
export function topicConfigsError(overrides: Readonly<Record<string, string>>): string | null {
  try {
    const parsed = BrokerConfig.validateTopicConfigs(overrides);
    if (parsed.get('remote.storage.enable') === true) {
      return 'Tiered Storage functionality is disabled in the broker. Topic cannot be configured with remote log storage.';
    }
    const minLag = parsed.get('min.compaction.lag.ms');
    const maxLag = parsed.get('max.compaction.lag.ms');
    if (typeof minLag === 'number' && typeof maxLag === 'number' && minLag > maxLag) {
      return `conflict topic config setting min.compaction.lag.ms (${minLag}) > max.compaction.lag.ms (${maxLag})`;
    }
    fromProperties(overrides);
    return null;
  } catch (err) {
    if (err instanceof ConfigError || err instanceof StorageError) return err.message;
    throw err;
  }
}

/** Kafka's message for null values in topic configs (CreateTopics, AlterConfigs). */
export function nullTopicConfigsMessage(keys: readonly string[]): string {
  return `Null value not supported for topic configs: ${keys.join(',')}`;
}
