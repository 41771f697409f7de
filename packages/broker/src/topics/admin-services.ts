/**
 * The services the admin handlers use beyond BrokerServices' fixed fields: the
 * TopicManager and the storage LogManager, which the lead attaches to BrokerServices in
 * `startBroker`. Until a broker has a TopicManager attached, one is created on first use
 * from the services' metadata store and config (it holds no state that must be unique
 * besides de-duplicating concurrent auto-creations), so the handlers work either way.
 */
import type { LogManager } from '@tributary/storage';
import type { BrokerServices } from '../broker.js';
import { TopicManager } from './topic-manager.js';

export interface AdminServices {
  readonly topicManager?: TopicManager | undefined;
  readonly logManager?: LogManager | undefined;
}

const fallbackManagers = new WeakMap<BrokerServices, TopicManager>();

export function topicManagerOf(services: BrokerServices): TopicManager {
  const attached = (services as BrokerServices & AdminServices).topicManager;
  if (attached) return attached;
  let manager = fallbackManagers.get(services);
  if (!manager) {
    manager = new TopicManager({
      metadata: services.metadata,
      nodeId: services.nodeId,
      config: () => services.config,
      logger: services.logger.child({ component: 'topics' }),
    });
    fallbackManagers.set(services, manager);
  }
  return manager;
}

export function logManagerOf(services: BrokerServices): LogManager | undefined {
  return (services as BrokerServices & AdminServices).logManager;
}
