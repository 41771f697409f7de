/**
 * The logic behind DescribeClientQuotas and AlterClientQuotas, apart from the wire:
 * filter matching (Kafka's ClientQuotasImage.describe) and change validation (Kafka's
 * ClientQuotaControlManager.alterClientQuotas). Errors are Kafka's: INVALID_REQUEST with
 * Kafka's messages for every malformed filter, entity or quota key.
 */
import { ErrorCode } from '@tributary/protocol';
import type { ClientQuotaEntry, QuotaEntityPart } from './client-quota-entity.js';
import { entityKey, IP_QUOTA_KEYS, QuotaEntityType, USER_CLIENT_QUOTA_KEYS } from './client-quota-entity.js';
import type { ClientQuotaChange } from '../metadata/metadata-store.js';
import { isIP } from 'node:net';

/** DescribeClientQuotas match types. */
export const MatchType = { EXACT: 0, DEFAULT: 1, SPECIFIED: 2 } as const;

export interface FilterComponent {
  readonly entityType: string;
  readonly matchType: number;
  readonly match: string | null;
}

export interface QuotaError {
  readonly errorCode: number;
  readonly errorMessage: string;
}

const ENTITY_TYPES: readonly string[] = [QuotaEntityType.USER, QuotaEntityType.CLIENT_ID, QuotaEntityType.IP];

function invalid(errorMessage: string): QuotaError {
  return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage };
}

/** The entries a DescribeClientQuotas filter selects, or the error Kafka answers for a bad filter. */
export function describeQuotas(entries: readonly ClientQuotaEntry[], components: readonly FilterComponent[], strict: boolean): ClientQuotaEntry[] | QuotaError {
  const seen = new Set<string>();
  for (const c of components) {
    if (!ENTITY_TYPES.includes(c.entityType)) return invalid(`Invalid entity type ${c.entityType}`);
    if (seen.has(c.entityType)) return invalid(`Entity type ${c.entityType} cannot appear more than once in the filter.`);
    seen.add(c.entityType);
    if (c.matchType === MatchType.EXACT) {
      if (c.match === null) return invalid('Request specified MATCH_TYPE_EXACT, but set match string to null.');
    } else if (c.matchType === MatchType.DEFAULT || c.matchType === MatchType.SPECIFIED) {
      if (c.match !== null) return invalid(`Request specified MATCH_TYPE_${c.matchType === MatchType.DEFAULT ? 'DEFAULT' : 'SPECIFIED'}, but also specified a match string.`);
    } else {
      return invalid(`Unknown match type ${c.matchType}`);
    }
  }
  if (seen.has(QuotaEntityType.IP) && (seen.has(QuotaEntityType.USER) || seen.has(QuotaEntityType.CLIENT_ID))) {
    return invalid('Invalid entity filter component combination. IP filter component should not be used with user or clientId filter component.');
  }
  return entries.filter((entry) => {
    if (strict && entry.entity.length !== components.length) return false;
    return components.every((c) => {
      const part = entry.entity.find((p) => p.entityType === c.entityType);
      if (part === undefined) return false;
      if (c.matchType === MatchType.EXACT) return part.entityName === c.match;
      if (c.matchType === MatchType.DEFAULT) return part.entityName === null;
      return part.entityName !== null;
    });
  });
}

export interface QuotaAlteration {
  readonly entity: readonly QuotaEntityPart[];
  readonly ops: readonly { readonly key: string; readonly value: number; readonly remove: boolean }[];
}

/** Validates one entity's alteration; returns the changes to write or Kafka's error. */
export function validateAlteration(alteration: QuotaAlteration, current: ClientQuotaEntry | undefined): ClientQuotaChange[] | QuotaError {
  const { entity, ops } = alteration;
  if (entity.length === 0) return invalid('Invalid empty client quota entity');
  const types = new Set<string>();
  for (const part of entity) {
    if (types.has(part.entityType)) return invalid(`Invalid empty client quota entity, duplicate entity entry ${part.entityType}`);
    if (!ENTITY_TYPES.includes(part.entityType)) return invalid(`Unhandled client quota entity type: ${part.entityType}`);
    types.add(part.entityType);
    if (part.entityName !== null && part.entityName === '') return invalid(`Empty ${part.entityType} not supported`);
  }
  const hasIp = types.has(QuotaEntityType.IP);
  let validKeys: Readonly<Record<string, 'long' | 'double'>>;
  if (hasIp && types.size > 1) return invalid('Invalid empty client quota entity');
  if (hasIp) {
    const ip = entity[0]!.entityName;
    if (ip !== null && isIP(ip) === 0) return invalid(`${ip} is not a valid IP or resolvable host.`);
    validKeys = IP_QUOTA_KEYS;
  } else {
    validKeys = USER_CLIENT_QUOTA_KEYS;
  }
  const keys = new Set<string>();
  const changes: ClientQuotaChange[] = [];
  for (const op of ops) {
    if (keys.has(op.key)) return invalid(`Duplicate quota key ${op.key} not updating quota for this entity ${describeEntity(entity)}`);
    keys.add(op.key);
    if (op.remove) {
      if (current?.values[op.key] !== undefined) changes.push({ entity, key: op.key, value: null });
      continue;
    }
    const type = validKeys[op.key];
    if (type === undefined) return invalid(`Invalid configuration key ${op.key}`);
    if (!Number.isFinite(op.value)) return invalid(`Configuration ${op.key} must be a finite number`);
    if (type === 'long') {
      const epsilon = 1e-6;
      if (Math.abs(Math.trunc(op.value + epsilon) - op.value) > epsilon) return invalid(`Configuration ${op.key} must be a Long value`);
    }
    if (current?.values[op.key] !== op.value) changes.push({ entity, key: op.key, value: type === 'long' ? Math.trunc(op.value + 1e-6) : op.value });
  }
  return changes;
}

/** Kafka's ClientQuotaEntity.toString, for messages. */
export function describeEntity(entity: readonly QuotaEntityPart[]): string {
  return `ClientQuotaEntity(entries={${entity.map((p) => `${p.entityType}=${p.entityName ?? 'null'}`).join(', ')}})`;
}

export { entityKey };
