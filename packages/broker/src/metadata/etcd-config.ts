/**
 * Which metadata store a broker opens, from its config: `etcd.endpoints` empty (the
 * default, `npm start`) = the local metadata log; set = EtcdMetadataStore with the lease,
 * fencing and timeout keys below. The etcd client library is loaded only in the second case.
 */
import type { BrokerConfig } from '../config/broker-config.js';
import type { Logger } from '../logger.js';
import type { EtcdMetadataStore, EtcdMetadataStoreOptions } from './etcd-metadata-store.js';

/** The etcd endpoints configured, or null for a single broker with a local store. */
export function etcdEndpoints(config: BrokerConfig): string[] | null {
  const endpoints = config.list('etcd.endpoints').map((e) => e.trim()).filter((e) => e !== '');
  return endpoints.length > 0 ? endpoints : null;
}

export function etcdStoreOptions(config: BrokerConfig, endpoints: readonly string[], proposedClusterId: string, logger: Logger): EtcdMetadataStoreOptions {
  return {
    endpoints,
    prefix: config.string('etcd.prefix') ?? '/tributary/',
    proposedClusterId,
    sessionTimeoutMs: config.number('broker.session.timeout.ms'),
    fenceMarginMs: config.number('etcd.lease.fence.margin.ms'),
    requestTimeoutMs: config.number('etcd.request.timeout.ms'),
    logger,
  };
}

/** Opens the etcd store (loading etcd3 and gRPC only now). */
export async function openEtcdStore(options: EtcdMetadataStoreOptions): Promise<EtcdMetadataStore> {
  const { EtcdMetadataStore } = await import('./etcd-metadata-store.js');
  return EtcdMetadataStore.open(options);
}
