/**
 * Builds the broker's ConnectionQuotas from its config: `max.connection.creation.rate`,
 * `listener.name.<l>.max.connection.creation.rate` per listener, the quota windows, and the
 * `ip` entities' `connection_creation_rate` quotas from the metadata store.
 *
 * Read at start-up (Kafka updates the two rates dynamically). The broker-wide rate exempts
 * the listener named by `inter.broker.listener.name` when it is set; Kafka also exempts
 * its implicit default (the PLAINTEXT listener), which would leave a single-listener
 * broker without a broker-wide limit.
 */
import type { BrokerConfig } from '../config/broker-config.js';
import type { ListenerSpec } from '../config/listeners.js';
import type { MetadataStore } from '../metadata/metadata-store.js';
import { ConnectionQuotas } from './connection-quotas.js';

export function connectionQuotasFor(config: BrokerConfig, listeners: readonly ListenerSpec[], metadata: MetadataStore): ConnectionQuotas {
  const listenerRates = new Map<string, number>();
  for (const listener of listeners) {
    const raw = config.get(`listener.name.${listener.name.toLowerCase()}.max.connection.creation.rate`);
    const rate = Number(raw);
    if (raw !== null && raw !== '' && Number.isFinite(rate) && rate >= 0) listenerRates.set(listener.name, rate);
  }
  const interBroker = config.string('inter.broker.listener.name');
  return new ConnectionQuotas({
    brokerRate: config.number('max.connection.creation.rate'),
    listenerRates,
    ...(interBroker !== null ? { interBrokerListener: interBroker.toUpperCase() } : {}),
    entries: () => metadata.clientQuotas?.(),
    window: { samples: config.number('quota.window.num'), sampleMs: config.number('quota.window.size.seconds') * 1000 },
  });
}
