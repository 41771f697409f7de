/**
 * How a config key is described: the same facts Kafka's `ConfigDef` holds (type, default,
 * importance, validator, doc) plus the dynamic update mode Kafka's `DynamicBrokerConfig`
 * assigns, because DescribeConfigs reports both. The storage package owns this machinery
 * because it owns the topic (log) config table (log-config.ts); the broker's tables
 * extend that table with broker-only keys and reuse the same parser, so a key is parsed
 * and validated in exactly one place.
 *
 * Values are parsed into JavaScript values once, at start-up or on an update:
 *   boolean -> boolean, int/short/long/double -> number, string/password -> string,
 *   list -> string[] (comma separated, blanks dropped), class -> string.
 * Kafka's `long` defaults of Long.MAX_VALUE (9223372036854775807) cannot be represented
 * exactly by a `number`; they are stored as LONG_MAX_VALUE (2^53 - 1, "never" in practice)
 * and rendered back as Kafka's text by `formatConfigValue`, so clients see Kafka's value.
 */
export const ConfigTypes = ['boolean', 'string', 'int', 'short', 'long', 'double', 'list', 'password', 'class'] as const;
export type ConfigType = (typeof ConfigTypes)[number];

export const Importance = { HIGH: 'high', MEDIUM: 'medium', LOW: 'low' } as const;
export type Importance = (typeof Importance)[keyof typeof Importance];

/**
 * Kafka's dynamic update modes: `read-only` needs a restart; `per-broker` may be changed
 * for one broker; `cluster-wide` may be changed for one broker or as the cluster default.
 */
export type DynamicUpdateMode = 'read-only' | 'per-broker' | 'cluster-wide';

export type ConfigValue = boolean | number | string | string[] | null;

export interface ConfigDef {
  readonly name: string;
  readonly type: ConfigType;
  /** Parsed default; `null` means "no default" (Kafka's null), e.g. log.retention.ms. */
  readonly default: ConfigValue;
  readonly importance: Importance;
  readonly dynamic: DynamicUpdateMode;
  /** Inclusive numeric range for numeric types. */
  readonly range?: { readonly min?: number; readonly max?: number };
  /** Allowed values for strings, matched exactly (Kafka's ValidString is case-sensitive). */
  readonly validValues?: readonly string[];
  /** Allowed values for each element of a list, matched exactly (Kafka's ValidList). */
  readonly validListValues?: readonly string[];
  /**
   * A rule the type, range and value lists cannot express (Kafka's custom validators, e.g.
   * ThrottledReplicaListValidator): returns what was expected when `value` breaks it.
   */
  readonly validator?: (value: ConfigValue) => string | null;
  readonly doc: string;
  /** True for keys Tributary adds (not in Apache Kafka). */
  readonly tributary?: boolean;
}

/** Java's Long.MAX_VALUE as far as a number can hold it; rendered as Kafka's text. */
export const LONG_MAX_VALUE = Number.MAX_SAFE_INTEGER;
export const INT_MAX_VALUE = 2147483647;
export const KAFKA_LONG_MAX_TEXT = '9223372036854775807';

export class ConfigError extends Error {
  readonly code: 'TRIB_ERR_CONFIG_INVALID' | 'TRIB_ERR_CONFIG_SYNTAX' | 'TRIB_ERR_CONFIG_READONLY';
  readonly key: string | undefined;
  constructor(
    code: 'TRIB_ERR_CONFIG_INVALID' | 'TRIB_ERR_CONFIG_SYNTAX' | 'TRIB_ERR_CONFIG_READONLY',
    message: string,
    key?: string,
  ) {
    super(message);
    this.name = 'ConfigError';
    this.code = code;
    this.key = key;
  }
}

const INT_RANGE = { min: -2147483648, max: 2147483647 };
const SHORT_RANGE = { min: -32768, max: 32767 };

/**
 * Parses one raw value (from a properties file, an override flag or a JS object) into the
 * key's type and validates it. Throws ConfigError naming the key, the value and what was
 * expected.
 */
export function parseConfigValue(def: ConfigDef, raw: unknown): ConfigValue {
  if (raw === null || raw === undefined) return null;
  const text = typeof raw === 'string' ? raw.trim() : raw;
  const invalid = (expected: string): ConfigError =>
    new ConfigError('TRIB_ERR_CONFIG_INVALID', `Invalid value ${JSON.stringify(raw)} for configuration ${def.name}: expected ${expected}`, def.name);
  switch (def.type) {
    case 'boolean': {
      if (typeof text === 'boolean') return text;
      if (typeof text === 'string' && /^(true|false)$/i.test(text)) return text.toLowerCase() === 'true';
      throw invalid('true or false');
    }
    case 'int':
    case 'short':
    case 'long': {
      let value: number;
      if (typeof text === 'number') value = text;
      else if (typeof text === 'string' && /^[+-]?\d+$/.test(text)) {
        value = Number(text);
        // Saturate longs beyond 2^53 (Kafka's "forever" values) instead of rounding them.
        if (def.type === 'long' && value > LONG_MAX_VALUE) value = LONG_MAX_VALUE;
        if (def.type === 'long' && value < -LONG_MAX_VALUE) value = -LONG_MAX_VALUE;
      } else throw invalid(`an integer (${def.type})`);
      if (!Number.isInteger(value)) throw invalid(`an integer (${def.type})`);
      const typeRange = def.type === 'int' ? INT_RANGE : def.type === 'short' ? SHORT_RANGE : { min: -LONG_MAX_VALUE, max: LONG_MAX_VALUE };
      if (value < typeRange.min || value > typeRange.max) throw invalid(`a ${def.type} in [${typeRange.min}, ${typeRange.max}]`);
      checkRange(def, value, invalid);
      return custom(def, value, invalid);
    }
    case 'double': {
      const value = typeof text === 'number' ? text : typeof text === 'string' && text !== '' ? Number(text) : NaN;
      if (!Number.isFinite(value)) throw invalid('a number');
      checkRange(def, value, invalid);
      return value;
    }
    case 'list': {
      const items = Array.isArray(text) ? text.map(String) : typeof text === 'string' ? text.split(',') : null;
      if (items === null) throw invalid('a comma-separated list');
      const list = items.map((item) => item.trim()).filter((item) => item !== '');
      if (def.validListValues) {
        for (const item of list) {
          if (!def.validListValues.includes(item)) throw invalid(`each item one of [${def.validListValues.join(', ')}]`);
        }
      }
      return custom(def, list, invalid);
    }
    case 'string':
    case 'password':
    case 'class': {
      if (typeof text !== 'string' && typeof text !== 'number' && typeof text !== 'boolean') throw invalid('a string');
      const value = String(text);
      if (def.validValues) {
        if (!def.validValues.includes(value)) throw invalid(`one of [${def.validValues.join(', ')}]`);
      }
      return custom(def, value, invalid);
    }
  }
}

function custom(def: ConfigDef, value: ConfigValue, invalid: (expected: string) => ConfigError): ConfigValue {
  const expected = def.validator?.(value) ?? null;
  if (expected !== null) throw invalid(expected);
  return value;
}

function checkRange(def: ConfigDef, value: number, invalid: (expected: string) => ConfigError): void {
  if (!def.range) return;
  const { min, max } = def.range;
  if (min !== undefined && value < min) throw invalid(max !== undefined ? `a value in [${min}, ${max}]` : `a value >= ${min}`);
  if (max !== undefined && value > max) throw invalid(min !== undefined ? `a value in [${min}, ${max}]` : `a value <= ${max}`);
}

/** Renders a parsed value the way Kafka prints it (DescribeConfigs, logs). */
export function formatConfigValue(def: ConfigDef | undefined, value: ConfigValue): string | null {
  if (value === null) return null;
  if (Array.isArray(value)) return value.join(',');
  if (typeof value === 'number') {
    if (def?.type === 'long' && value >= LONG_MAX_VALUE) return KAFKA_LONG_MAX_TEXT;
    if (def?.type === 'double') return javaDoubleText(value);
    return String(value);
  }
  return String(value);
}

/**
 * Java's Double.toString, which Kafka prints doubles with: plain decimals with at least one
 * fraction digit in [1e-3, 1e7), else `d.dddE<exponent>` (1.7976931348623157E308 for
 * log.cleaner.io.max.bytes.per.second's default, Double.MAX_VALUE).
 */
function javaDoubleText(value: number): string {
  const abs = Math.abs(value);
  if (value === 0 || (abs >= 1e-3 && abs < 1e7)) return Number.isInteger(value) ? value.toFixed(1) : String(value);
  const [mantissa, exponent] = value.toExponential().split('e') as [string, string];
  return `${mantissa.includes('.') ? mantissa : `${mantissa}.0`}E${Number(exponent)}`;
}
