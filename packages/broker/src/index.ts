// Public surface of @tributary/broker.
export * from './broker.js';
export { BrokerConfig, ConfigSource } from './config/broker-config.js';
export type { RawConfig } from './config/broker-config.js';
export type * from './metadata/metadata-store.js';
export { LocalMetadataStore } from './metadata/local-metadata-store.js';
export { Controller } from './controller/controller.js';
export type { ControllerDeps } from './controller/controller.js';
export { EtcdMetadataStore } from './metadata/etcd-metadata-store.js';
export type { EtcdMetadataStoreOptions } from './metadata/etcd-metadata-store.js';
export { localMembership, runControllerDuties } from './metadata/controller-election.js';
export type { ClusterMembership, ControllerDuties } from './metadata/controller-election.js';
export { NO_RESPONSE, HandlerRegistry } from './handlers/registry.js';
export type { Handler, RequestContext } from './handlers/registry.js';
export { createLogger } from './logger.js';
export type { Logger } from './logger.js';
export { credentialFromPassword, ScramMechanisms } from './network/sasl/scram.js';
export type { ScramMechanism } from './network/sasl/scram.js';
