/**
 * Client quota entities and Kafka's precedence among them.
 *
 * An entity is a set of (entity type, entity name) parts, entity types `user`,
 * `client-id` and `ip`; a null name is the type's default (`<default>` in kafka-configs).
 * A quota key (producer_byte_rate, ...) is looked up for a connection's (user, client-id)
 * in Kafka's order, first match wins, each key on its own:
 *   1. user=<user>, client-id=<client-id>      5. user=<default>, client-id=<default>
 *   2. user=<user>, client-id=<default>        6. user=<default>
 *   3. user=<user>                             7. client-id=<client-id>
 *   4. user=<default>, client-id=<client-id>   8. client-id=<default>
 * The matching entity also decides who shares the quota (Kafka's quota metric tags): a
 * quota found on an entity with a user part is counted per user, with a client-id part
 * per client id, so `user=alice` is shared by all of alice's clients while
 * `client-id=<default>` gives every client id its own allowance.
 *
 * Kafka's `user` names are principal names (`alice` for `User:alice`, `ANONYMOUS` on a
 * PLAINTEXT listener), whatever the principal type.
 */

export const QuotaEntityType = {
  USER: 'user',
  CLIENT_ID: 'client-id',
  IP: 'ip',
} as const;

/** Quota keys Kafka accepts (QuotaConfigs) and for which entity combination. */
export const QuotaKey = {
  PRODUCER_BYTE_RATE: 'producer_byte_rate',
  CONSUMER_BYTE_RATE: 'consumer_byte_rate',
  REQUEST_PERCENTAGE: 'request_percentage',
  CONTROLLER_MUTATION_RATE: 'controller_mutation_rate',
  CONNECTION_CREATION_RATE: 'connection_creation_rate',
} as const;

/** 'long' keys must hold whole numbers (Kafka's LONG quota configs); 'double' any number. */
export const USER_CLIENT_QUOTA_KEYS: Readonly<Record<string, 'long' | 'double'>> = {
  [QuotaKey.PRODUCER_BYTE_RATE]: 'long',
  [QuotaKey.CONSUMER_BYTE_RATE]: 'long',
  [QuotaKey.REQUEST_PERCENTAGE]: 'double',
  [QuotaKey.CONTROLLER_MUTATION_RATE]: 'double',
};
export const IP_QUOTA_KEYS: Readonly<Record<string, 'long' | 'double'>> = {
  [QuotaKey.CONNECTION_CREATION_RATE]: 'long',
};

export interface QuotaEntityPart {
  readonly entityType: string;
  /** null = the default entity of this type. */
  readonly entityName: string | null;
}

/** One entity and its quotas, as the metadata store keeps them. */
export interface ClientQuotaEntry {
  /** Parts sorted by entity type. */
  readonly entity: readonly QuotaEntityPart[];
  readonly values: Readonly<Record<string, number>>;
}

/** Canonical text of an entity (parts sorted by type): the key entries are stored under. */
export function entityKey(entity: readonly QuotaEntityPart[]): string {
  return JSON.stringify([...entity].sort((a, b) => (a.entityType < b.entityType ? -1 : a.entityType > b.entityType ? 1 : 0)).map((p) => [p.entityType, p.entityName]));
}

/** Kafka's quota user name of a principal: its name, without the type (`User:alice` -> `alice`). */
export function quotaUserName(principal: string): string {
  return principal.slice(principal.indexOf(':') + 1);
}

export interface ResolvedQuota {
  readonly value: number;
  /** Who shares the allowance (Kafka's metric tags): '' where the entity has no such part. */
  readonly userTag: string;
  readonly clientTag: string;
}

/**
 * Looks quota `key` up for (user, clientId) in Kafka's precedence order. `byKey` maps
 * entityKey() to entries. Returns undefined when no entity sets the key (unlimited).
 */
export function resolveQuota(byKey: ReadonlyMap<string, ClientQuotaEntry>, key: string, user: string | null, clientId: string): ResolvedQuota | undefined {
  const U = QuotaEntityType.USER;
  const C = QuotaEntityType.CLIENT_ID;
  const candidates: [QuotaEntityPart[], boolean, boolean][] = [];
  if (user !== null) {
    candidates.push([[{ entityType: C, entityName: clientId }, { entityType: U, entityName: user }], true, true]);
    candidates.push([[{ entityType: C, entityName: null }, { entityType: U, entityName: user }], true, true]);
    candidates.push([[{ entityType: U, entityName: user }], true, false]);
  }
  candidates.push([[{ entityType: C, entityName: clientId }, { entityType: U, entityName: null }], true, true]);
  candidates.push([[{ entityType: C, entityName: null }, { entityType: U, entityName: null }], true, true]);
  candidates.push([[{ entityType: U, entityName: null }], true, false]);
  candidates.push([[{ entityType: C, entityName: clientId }], false, true]);
  candidates.push([[{ entityType: C, entityName: null }], false, true]);
  for (const [entity, hasUser, hasClient] of candidates) {
    const value = byKey.get(entityKey(entity))?.values[key];
    if (value !== undefined) return { value, userTag: hasUser ? (user ?? '') : '', clientTag: hasClient ? clientId : '' };
  }
  return undefined;
}

/** Entries after `changes` (null value = remove the key; an entity left without keys goes). */
export function applyClientQuotaChanges(
  entries: readonly ClientQuotaEntry[],
  changes: readonly { readonly entity: readonly QuotaEntityPart[]; readonly key: string; readonly value: number | null }[],
): ClientQuotaEntry[] {
  const byKey = new Map(entries.map((e) => [entityKey(e.entity), e]));
  for (const change of changes) {
    const key = entityKey(change.entity);
    const values: Record<string, number> = { ...(byKey.get(key)?.values ?? {}) };
    if (change.value === null) delete values[change.key];
    else values[change.key] = change.value;
    if (Object.keys(values).length === 0) byKey.delete(key);
    else byKey.set(key, { entity: sortedEntity(change.entity), values });
  }
  return [...byKey.values()];
}

function sortedEntity(entity: readonly QuotaEntityPart[]): QuotaEntityPart[] {
  return [...entity].sort((a, b) => (a.entityType < b.entityType ? -1 : a.entityType > b.entityType ? 1 : 0)).map((p) => ({ entityType: p.entityType, entityName: p.entityName }));
}
