/**
 * Validation of a topic's complete set of config overrides, shared by CreateTopics,
 * AlterConfigs and IncrementalAlterConfigs (Kafka's `LogConfig.validate`). A failure is
 * answered with INVALID_CONFIG and the message returned here.
 *
 * The rules (unknown keys, types, ranges, valid values, cross-key rules) are the topic
 * table's in @tributary/storage (parseLogConfigOverrides): checked once, in one place, by
 * the same parser that builds the LogConfig the partition logs run with, so a topic the
 * broker accepted can always get its logs created.
 */
import { ConfigError, parseLogConfigOverrides } from '@tributary/storage';

/** INVALID_CONFIG's message for `overrides`, or null when they are valid. */
export function topicConfigsError(overrides: Readonly<Record<string, string>>): string | null {
  try {
    parseLogConfigOverrides(overrides);
    return null;
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
}

/** Kafka's message for null values in topic configs (CreateTopics, AlterConfigs). */
export function nullTopicConfigsMessage(keys: readonly string[]): string {
  return `Null value not supported for topic configs: ${keys.join(',')}`;
}
