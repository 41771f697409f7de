/**
 * Kafka's ACL authorizer (StandardAuthorizer in KRaft, AclAuthorizer with ZooKeeper; both
 * decide the same way). Enabled by `authorizer.class.name`: either of Kafka's class names
 * (or any non-empty value naming them) turns it on; empty, the default, means no
 * authorization at all (every request is allowed, as in Kafka without an authorizer).
 *
 * A request is (principal, host, operation, resource type, resource name). The decision:
 *   1. a principal listed in `super.users` is allowed everything;
 *   2. the ACLs that apply to the resource are those of its type whose pattern matches the
 *      name: LITERAL equal to it, LITERAL `*` (wildcard), PREFIXED a prefix of it;
 *   3. if none apply at all (for any principal), `allow.everyone.if.no.acl.found` decides
 *      (Kafka's default false);
 *   4. a DENY for this principal (or `User:*`) and host (or `*`) with the operation or ALL
 *      denies: deny wins over any allow;
 *   5. an ALLOW for the principal/host with the operation, ALL, or an operation that implies
 *      it allows: READ, WRITE, DELETE and ALTER imply DESCRIBE; ALTER_CONFIGS implies
 *      DESCRIBE_CONFIGS (implication applies to ALLOW only, as in Kafka);
 *   6. otherwise denied.
 * ACL bindings live in the metadata store (acls/createAcls/deleteAcls), so every broker
 * sharing it decides alike; the index here is rebuilt when the store's list changes.
 */
import type { MetadataStore } from '../metadata/metadata-store.js';
import type { BrokerConfig } from '../config/broker-config.js';

/** Protocol numbers (org.apache.kafka.common.resource.ResourceType); never change. */
export const ResourceType = {
  UNKNOWN: 0, ANY: 1, TOPIC: 2, GROUP: 3, CLUSTER: 4, TRANSACTIONAL_ID: 5, DELEGATION_TOKEN: 6, USER: 7,
} as const;
/** org.apache.kafka.common.resource.PatternType. */
export const PatternType = { UNKNOWN: 0, ANY: 1, MATCH: 2, LITERAL: 3, PREFIXED: 4 } as const;
/** org.apache.kafka.common.acl.AclOperation. */
export const AclOperation = {
  UNKNOWN: 0, ANY: 1, ALL: 2, READ: 3, WRITE: 4, CREATE: 5, DELETE: 6, ALTER: 7, DESCRIBE: 8, CLUSTER_ACTION: 9,
  DESCRIBE_CONFIGS: 10, ALTER_CONFIGS: 11, IDEMPOTENT_WRITE: 12, CREATE_TOKENS: 13, DESCRIBE_TOKENS: 14,
} as const;
/** org.apache.kafka.common.acl.AclPermissionType. */
export const AclPermissionType = { UNKNOWN: 0, ANY: 1, DENY: 2, ALLOW: 3 } as const;

/** Kafka's name of the one cluster resource. */
export const CLUSTER_RESOURCE_NAME = 'kafka-cluster';
export const WILDCARD_RESOURCE = '*';
export const WILDCARD_PRINCIPAL = 'User:*';
export const WILDCARD_HOST = '*';

/** Kafka's authorizer class names; either one enables this authorizer. */
export const KAFKA_AUTHORIZER_CLASS_NAMES: readonly string[] = [
  'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
  'kafka.security.authorizer.AclAuthorizer',
];

/** One ACL binding as stored (Kafka's AclBinding; numbers are the protocol's). */
export interface AclBinding {
  readonly resourceType: number;
  readonly resourceName: string;
  readonly patternType: number;
  readonly principal: string;
  readonly host: string;
  readonly operation: number;
  readonly permissionType: number;
}

/** A DescribeAcls / DeleteAcls filter: null name/principal/host and ANY values match all. */
export interface AclBindingFilter {
  readonly resourceType: number;
  readonly resourceName: string | null;
  readonly patternType: number;
  readonly principal: string | null;
  readonly host: string | null;
  readonly operation: number;
  readonly permissionType: number;
}

/** Operations whose ALLOW also allows the key (Kafka's implied operations). */
const IMPLIED_BY: ReadonlyMap<number, readonly number[]> = new Map([
  [AclOperation.DESCRIBE, [AclOperation.DESCRIBE, AclOperation.READ, AclOperation.WRITE, AclOperation.DELETE, AclOperation.ALTER, AclOperation.ALL]],
  [AclOperation.DESCRIBE_CONFIGS, [AclOperation.DESCRIBE_CONFIGS, AclOperation.ALTER_CONFIGS, AclOperation.ALL]],
]);

/** Operations defined on each resource type (Kafka's ResourceType/AclOperation tables), for *_authorized_operations. */
export const OPERATIONS_BY_RESOURCE: ReadonlyMap<number, readonly number[]> = new Map([
  [ResourceType.TOPIC, [AclOperation.READ, AclOperation.WRITE, AclOperation.CREATE, AclOperation.DELETE, AclOperation.ALTER, AclOperation.DESCRIBE, AclOperation.DESCRIBE_CONFIGS, AclOperation.ALTER_CONFIGS]],
  [ResourceType.GROUP, [AclOperation.READ, AclOperation.DELETE, AclOperation.DESCRIBE]],
  [ResourceType.CLUSTER, [AclOperation.CREATE, AclOperation.ALTER, AclOperation.DESCRIBE, AclOperation.CLUSTER_ACTION, AclOperation.DESCRIBE_CONFIGS, AclOperation.ALTER_CONFIGS, AclOperation.IDEMPOTENT_WRITE]],
  [ResourceType.TRANSACTIONAL_ID, [AclOperation.WRITE, AclOperation.DESCRIBE]],
  [ResourceType.DELEGATION_TOKEN, [AclOperation.DESCRIBE]],
]);

export interface AuthorizerOptions {
  readonly metadata: MetadataStore;
  /** `super.users`: principals separated by semicolons, as in Kafka. */
  readonly superUsers: readonly string[];
  readonly allowEveryoneIfNoAclFound: boolean;
}

/** `super.users` is a semicolon-separated list in Kafka (principals may contain commas). */
export function parseSuperUsers(value: string | null): string[] {
  return (value ?? '').split(';').map((s) => s.trim()).filter((s) => s.length > 0);
}

/** The authorizer `authorizer.class.name` asks for, or null when it is empty. Unknown names are a start-up error. */
export function createAuthorizer(config: BrokerConfig, metadata: MetadataStore): Authorizer | null {
  const className = (config.string('authorizer.class.name') ?? '').trim();
  if (className === '') return null;
  if (!KAFKA_AUTHORIZER_CLASS_NAMES.includes(className)) {
    throw new Error(`authorizer.class.name=${className} is not supported: use ${KAFKA_AUTHORIZER_CLASS_NAMES.join(' or ')} (both are Tributary's ACL authorizer), or leave it empty`);
  }
  return new Authorizer({
    metadata,
    superUsers: parseSuperUsers(config.string('super.users')),
    allowEveryoneIfNoAclFound: config.boolean('allow.everyone.if.no.acl.found'),
  });
}

export class Authorizer {
  private readonly metadata: MetadataStore;
  private readonly superUsers: ReadonlySet<string>;
  private readonly allowEveryoneIfNoAclFound: boolean;
  private indexedFrom: readonly AclBinding[] | null = null;
  /** type -> literal name -> bindings. */
  private literal = new Map<number, Map<string, AclBinding[]>>();
  /** type -> prefixed bindings (few in practice; scanned). */
  private prefixed = new Map<number, AclBinding[]>();

  constructor(options: AuthorizerOptions) {
    this.metadata = options.metadata;
    this.superUsers = new Set(options.superUsers);
    this.allowEveryoneIfNoAclFound = options.allowEveryoneIfNoAclFound;
  }

  /** The stored bindings (empty when the store keeps none). */
  acls(): readonly AclBinding[] {
    return this.metadata.acls?.() ?? [];
  }

  isSuperUser(principal: string): boolean {
    return this.superUsers.has(principal);
  }

  authorize(principal: string, host: string, operation: number, resourceType: number, resourceName: string): boolean {
    if (this.superUsers.has(principal)) return true;
    const applying = this.applying(resourceType, resourceName);
    if (applying.length === 0) return this.allowEveryoneIfNoAclFound;
    let allowed = false;
    const allowing = IMPLIED_BY.get(operation) ?? [operation, AclOperation.ALL];
    for (const acl of applying) {
      if (!matchesPrincipal(acl, principal) || !matchesHost(acl, host)) continue;
      if (acl.permissionType === AclPermissionType.DENY) {
        if (acl.operation === operation || acl.operation === AclOperation.ALL) return false;
      } else if (acl.permissionType === AclPermissionType.ALLOW && allowing.includes(acl.operation)) {
        allowed = true;
      }
    }
    return allowed;
  }

  /**
   * Kafka's authorizeByResourceType (KIP-679): may the principal do `operation` on SOME
   * resource of the type? True when an ALLOW for it exists that no DENY of the principal
   * covers (a DENY on `*` literal, or a DENY whose pattern covers the ALLOW's).
   */
  authorizeByResourceType(principal: string, host: string, operation: number, resourceType: number): boolean {
    if (this.superUsers.has(principal)) return true;
    const ofType = this.acls().filter((acl) => acl.resourceType === resourceType && matchesPrincipal(acl, principal) && matchesHost(acl, host)
      && (acl.operation === operation || acl.operation === AclOperation.ALL));
    const denies = ofType.filter((acl) => acl.permissionType === AclPermissionType.DENY);
    if (denies.some((d) => d.patternType === PatternType.LITERAL && d.resourceName === WILDCARD_RESOURCE)) return false;
    const allows = ofType.filter((acl) => acl.permissionType === AclPermissionType.ALLOW);
    if (allows.length === 0) {
      return this.allowEveryoneIfNoAclFound && !this.acls().some((acl) => acl.resourceType === resourceType);
    }
    return allows.some((a) => !denies.some((d) => covers(d, a)));
  }

  /** The ACL operations of `resourceType` the principal may do on the resource (*_authorized_operations). */
  authorizedOperations(principal: string, host: string, resourceType: number, resourceName: string): number {
    let bits = 0;
    for (const op of OPERATIONS_BY_RESOURCE.get(resourceType) ?? []) {
      if (this.authorize(principal, host, op, resourceType, resourceName)) bits |= 1 << op;
    }
    return bits;
  }

  private applying(resourceType: number, resourceName: string): AclBinding[] {
    this.reindex();
    const byName = this.literal.get(resourceType);
    const out: AclBinding[] = [];
    if (byName) {
      out.push(...(byName.get(resourceName) ?? []));
      if (resourceName !== WILDCARD_RESOURCE) out.push(...(byName.get(WILDCARD_RESOURCE) ?? []));
    }
    for (const acl of this.prefixed.get(resourceType) ?? []) if (resourceName.startsWith(acl.resourceName)) out.push(acl);
    return out;
  }

  private reindex(): void {
    const acls = this.acls();
    if (acls === this.indexedFrom) return;
    this.literal = new Map();
    this.prefixed = new Map();
    for (const acl of acls) {
      if (acl.patternType === PatternType.PREFIXED) {
        let list = this.prefixed.get(acl.resourceType);
        if (!list) this.prefixed.set(acl.resourceType, list = []);
        list.push(acl);
      } else {
        let byName = this.literal.get(acl.resourceType);
        if (!byName) this.literal.set(acl.resourceType, byName = new Map());
        let list = byName.get(acl.resourceName);
        if (!list) byName.set(acl.resourceName, list = []);
        list.push(acl);
      }
    }
    this.indexedFrom = acls;
  }
}

function matchesPrincipal(acl: AclBinding, principal: string): boolean {
  return acl.principal === principal || acl.principal === WILDCARD_PRINCIPAL;
}

function matchesHost(acl: AclBinding, host: string): boolean {
  return acl.host === host || acl.host === WILDCARD_HOST;
}

/** Whether DENY `d` covers every resource ALLOW `a` names. */
function covers(d: AclBinding, a: AclBinding): boolean {
  if (d.patternType === PatternType.LITERAL) {
    return d.resourceName === WILDCARD_RESOURCE || (a.patternType === PatternType.LITERAL && a.resourceName === d.resourceName);
  }
  return a.resourceName.startsWith(d.resourceName);
}

/** Kafka's AclBindingFilter.matches: the filter's ANY/null fields match everything; MATCH matches what would apply to the name. */
export function filterMatches(filter: AclBindingFilter, acl: AclBinding): boolean {
  if (filter.resourceType !== ResourceType.ANY && filter.resourceType !== acl.resourceType) return false;
  if (filter.principal !== null && filter.principal !== acl.principal) return false;
  if (filter.host !== null && filter.host !== acl.host) return false;
  if (filter.operation !== AclOperation.ANY && filter.operation !== acl.operation) return false;
  if (filter.permissionType !== AclPermissionType.ANY && filter.permissionType !== acl.permissionType) return false;
  switch (filter.patternType) {
    case PatternType.ANY:
      return filter.resourceName === null || filter.resourceName === acl.resourceName;
    case PatternType.MATCH:
      if (filter.resourceName === null) return true;
      if (acl.patternType === PatternType.LITERAL) return acl.resourceName === filter.resourceName || acl.resourceName === WILDCARD_RESOURCE;
      return filter.resourceName.startsWith(acl.resourceName);
    default:
      return filter.patternType === acl.patternType && (filter.resourceName === null || filter.resourceName === acl.resourceName);
  }
}

/**
 * Why a binding cannot be stored, or null (Kafka's CreateAcls validation): concrete
 * resource type, pattern, operation and permission; a principal `Type:name`; the cluster
 * resource named `kafka-cluster`; no empty names.
 */
export function invalidBindingReason(acl: AclBinding): string | null {
  if (acl.resourceType <= ResourceType.ANY || acl.resourceType > ResourceType.USER) return 'Invalid resource type';
  if (acl.patternType !== PatternType.LITERAL && acl.patternType !== PatternType.PREFIXED) return 'Invalid pattern type';
  if (acl.operation <= AclOperation.ANY || acl.operation > AclOperation.DESCRIBE_TOKENS) return 'Invalid operation';
  if (acl.permissionType !== AclPermissionType.ALLOW && acl.permissionType !== AclPermissionType.DENY) return 'Invalid permission type';
  if (acl.resourceName.length === 0) return 'Resource name must not be empty';
  if (acl.resourceType === ResourceType.CLUSTER && acl.resourceName !== CLUSTER_RESOURCE_NAME) return `The only valid name for the CLUSTER resource is ${CLUSTER_RESOURCE_NAME}`;
  if (!/^[^:]+:.+$/s.test(acl.principal)) return `Could not parse principal from \`${acl.principal}\` (no colon is found).`;
  if (acl.host.length === 0) return 'Host must not be empty';
  return null;
}

/** Why a DescribeAcls/DeleteAcls filter is invalid (UNKNOWN values), or null. */
export function invalidFilterReason(f: AclBindingFilter): string | null {
  if (f.resourceType === ResourceType.UNKNOWN || f.resourceType > ResourceType.USER || f.resourceType < 0) return 'Invalid resource type filter';
  if (f.patternType === PatternType.UNKNOWN || f.patternType > PatternType.PREFIXED || f.patternType < 0) return 'Invalid pattern type filter';
  if (f.operation === AclOperation.UNKNOWN || f.operation > AclOperation.DESCRIBE_TOKENS || f.operation < 0) return 'Invalid operation filter';
  if (f.permissionType === AclPermissionType.UNKNOWN || f.permissionType > AclPermissionType.ALLOW || f.permissionType < 0) return 'Invalid permission type filter';
  return null;
}

export function sameBinding(a: AclBinding, b: AclBinding): boolean {
  return a.resourceType === b.resourceType && a.resourceName === b.resourceName && a.patternType === b.patternType
    && a.principal === b.principal && a.host === b.host && a.operation === b.operation && a.permissionType === b.permissionType;
}
