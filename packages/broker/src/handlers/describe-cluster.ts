/**
 * DescribeCluster (api key 60), versions 0-1.
 *
 * Behaviour (Kafka's, KRaft broker):
 * - The live brokers (metadata.brokers()), each with its endpoint on the listener the
 *   request arrived on (brokers without that listener are left out, as Kafka does), the
 *   cluster id, and the controller id as in Metadata (the etcd election's winner).
 * - v1 endpointType: 1 (brokers) is served; 2 (controllers) is MISMATCHED_ENDPOINT_TYPE
 *   (a broker is not a controller endpoint); anything else UNSUPPORTED_ENDPOINT_TYPE. v0
 *   cannot ask for anything but brokers.
 * - clusterAuthorizedOperations: Integer.MIN_VALUE unless asked for; when asked, the
 *   cluster operations the principal may do (every one without an authorizer).
 *
 * Deliberate difference from Kafka: a KRaft broker names a random live broker as
 * controller (clients cannot reach KRaft controllers); here the broker that runs the
 * controller duties (controller/) is a broker clients can reach, so it is named.
 */
import type { DescribeClusterResponseDescribeClusterBroker } from '@tributary/protocol';
import { ApiKey, ErrorCode } from '@tributary/protocol';
import { authorizedOperations } from '../security/api-acls.js';
import { CLUSTER_RESOURCE_NAME, ResourceType } from '../security/authorizer.js';
import type { Handler } from './registry.js';
import { controllerIdOf } from '../metadata/controller-election.js';

const ENDPOINT_TYPE_BROKER = 1;
const ENDPOINT_TYPE_CONTROLLER = 2;

/** The schema default: "authorized operations not requested". */
export const AUTHORIZED_OPERATIONS_OMITTED = -2147483648;

/**
 * Kafka's AclOperation codes allowed on the cluster resource (CREATE 5, ALTER 7, DESCRIBE
 * 8, CLUSTER_ACTION 9, DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11, IDEMPOTENT_WRITE 12) as a
 * bit field.
 */
export const CLUSTER_AUTHORIZED_OPERATIONS_ALL = [5, 7, 8, 9, 10, 11, 12].reduce((bits, op) => bits | (1 << op), 0);

export const describeClusterHandler: Handler<'DescribeCluster'> = {
  apiKey: ApiKey.DescribeCluster,
  name: 'DescribeCluster',
  minVersion: 0,
  maxVersion: 1,

  handle(req, ctx) {
    const endpointType = ctx.header.apiVersion >= 1 ? req.endpointType ?? ENDPOINT_TYPE_BROKER : ENDPOINT_TYPE_BROKER;
    if (endpointType !== ENDPOINT_TYPE_BROKER) {
      const mismatched = endpointType === ENDPOINT_TYPE_CONTROLLER;
      return {
        ...this.errorResponse!(req, mismatched ? ErrorCode.MISMATCHED_ENDPOINT_TYPE : ErrorCode.UNSUPPORTED_ENDPOINT_TYPE, ctx),
        errorMessage: mismatched
          ? 'The request was sent to an endpoint of type BROKER, but we wanted an endpoint of type CONTROLLER'
          : `Unsupported endpoint type ${endpointType}`,
      };
    }
    const listener = ctx.connection.listenerName;
    const brokers: DescribeClusterResponseDescribeClusterBroker[] = [];
    for (const b of ctx.broker.metadata.brokers()) {
      const endpoint = b.endpoints.find((e) => e.listener === listener);
      if (endpoint) brokers.push({ brokerId: b.nodeId, host: endpoint.host, port: endpoint.port, rack: b.rack });
    }
    return {
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      endpointType: ENDPOINT_TYPE_BROKER,
      clusterId: ctx.broker.clusterId,
      controllerId: controllerIdOf(ctx.broker.metadata, ctx.broker.nodeId),
      brokers,
      clusterAuthorizedOperations: req.includeClusterAuthorizedOperations
        ? authorizedOperations(ctx, ResourceType.CLUSTER, CLUSTER_RESOURCE_NAME, CLUSTER_AUTHORIZED_OPERATIONS_ALL) : AUTHORIZED_OPERATIONS_OMITTED,
    };
  },

  errorResponse(req, errorCode, ctx) {
    return {
      throttleTimeMs: 0,
      errorCode,
      errorMessage: null,
      endpointType: ctx.header.apiVersion >= 1 ? req.endpointType ?? ENDPOINT_TYPE_BROKER : ENDPOINT_TYPE_BROKER,
      clusterId: '',
      controllerId: -1,
      brokers: [],
      clusterAuthorizedOperations: AUTHORIZED_OPERATIONS_OMITTED,
    };
  },
};
