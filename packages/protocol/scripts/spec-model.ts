/**
 * Reads Kafka's JSON message specs into a model the code emitter walks.
 *
 * A spec (see ../shared/kafka-protocol/README.md) names a message, its valid and flexible
 * version ranges and its fields; a field whose type is a struct (or an array of one) either
 * defines the struct inline (`fields`) or refers to one of the message's `commonStructs`.
 * Here every struct gets its TypeScript name and the hull of the versions in which it can
 * occur, which is what the emitter needs to drop version checks that are always true.
 */
import { readFileSync } from 'node:fs';

/** Highest version number a "N+" range stands for (versions are int16 on the wire). */
export const VERSION_MAX = 0x7fff;

export interface Range {
  lo: number;
  hi: number;
}

export type PrimType =
  | 'int8' | 'int16' | 'int32' | 'int64' | 'uint16' | 'uint32' | 'float64'
  | 'bool' | 'string' | 'bytes' | 'records' | 'uuid';

const PRIM_TYPES: ReadonlySet<string> = new Set([
  'int8', 'int16', 'int32', 'int64', 'uint16', 'uint32', 'float64',
  'bool', 'string', 'bytes', 'records', 'uuid',
]);

export interface FieldModel {
  jsonName: string;
  prop: string;
  about: string;
  /** 'prim' value, 'struct' value, or an array of either. */
  kind: 'prim' | 'struct' | 'primArray' | 'structArray';
  prim?: PrimType;
  struct?: StructModel;
  versions: Range | null;
  nullable: Range | null;
  tagged: Range | null;
  tag?: number;
  /** Where this field uses compact encodings (the message's, unless the field overrides it). */
  flexible: Range | null;
  /** The spec's default, as written (string, number, boolean) or undefined. */
  defaultRaw: unknown;
  zeroCopy: boolean;
}

export interface StructModel {
  specName: string;
  tsName: string;
  fields: FieldModel[];
  /** Hull of the message versions in which this struct can occur. */
  ctx: Range | null;
  isTop: boolean;
  /** Used as a single (non-array) struct field somewhere: needs default/isDefault helpers. */
  usedAsValue: boolean;
}

export interface MessageModel {
  file: string;
  name: string;
  type: 'request' | 'response' | 'header' | 'data';
  apiKey?: number;
  listeners: string[];
  valid: Range;
  flexible: Range | null;
  latestVersionUnstable: boolean;
  top: StructModel;
  /** Every struct, top first, in definition order. */
  structs: StructModel[];
}

export function parseRange(s: string): Range | null {
  const t = s.trim();
  if (t === 'none') return null;
  let m = /^(\d+)\+$/.exec(t);
  if (m) return { lo: Number(m[1]), hi: VERSION_MAX };
  m = /^(\d+)-(\d+)$/.exec(t);
  if (m) return { lo: Number(m[1]), hi: Number(m[2]) };
  m = /^(\d+)$/.exec(t);
  if (m) return { lo: Number(m[1]), hi: Number(m[1]) };
  throw new Error(`cannot parse version range ${JSON.stringify(s)}`);
}

export function intersect(a: Range | null, b: Range | null): Range | null {
  if (a === null || b === null) return null;
  const lo = Math.max(a.lo, b.lo);
  const hi = Math.min(a.hi, b.hi);
  return lo <= hi ? { lo, hi } : null;
}

export function hull(a: Range | null, b: Range | null): Range | null {
  if (a === null) return b;
  if (b === null) return a;
  return { lo: Math.min(a.lo, b.lo), hi: Math.max(a.hi, b.hi) };
}

export function covers(outer: Range | null, inner: Range | null): boolean {
  if (inner === null) return true;
  if (outer === null) return false;
  return outer.lo <= inner.lo && outer.hi >= inner.hi;
}

/** Removes `//` comments (outside strings), which Kafka's spec files contain. */
export function stripComments(text: string): string {
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (inString) {
      out += c;
      if (c === '\\') {
        out += text[++i] ?? '';
      } else if (c === '"') {
        inString = false;
      }
    } else if (c === '"') {
      inString = true;
      out += c;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
      out += '\n';
    } else {
      out += c;
    }
  }
  return out;
}

export function lowerCamel(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

export function kebab(name: string): string {
  return name
    .replace(/KRaft/g, 'Kraft')
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .replace(/([A-Z])([A-Z][a-z])/g, '$1-$2')
    .toLowerCase();
}

interface JsonField {
  name: string;
  type: string;
  versions: string;
  about?: string;
  nullableVersions?: string;
  taggedVersions?: string;
  tag?: number;
  flexibleVersions?: string;
  default?: unknown;
  zeroCopy?: boolean;
  fields?: JsonField[];
}

interface JsonSpec {
  name: string;
  type: MessageModel['type'];
  apiKey?: number;
  listeners?: string[];
  validVersions: string;
  flexibleVersions: string;
  latestVersionUnstable?: boolean;
  fields: JsonField[];
  commonStructs?: { name: string; versions: string; fields: JsonField[] }[];
}

export function loadMessage(path: string, file: string): MessageModel {
  const spec = JSON.parse(stripComments(readFileSync(path, 'utf8'))) as JsonSpec;
  const name = spec.name;
  const valid = parseRange(spec.validVersions);
  if (valid === null) throw new Error(`${file}: no valid versions`);
  const flexible = parseRange(spec.flexibleVersions);
  const structs: StructModel[] = [];
  const byName = new Map<string, StructModel>();
  const tsNameOf = (specName: string): string => (specName.startsWith(name) ? specName : name + specName);

  const newStruct = (specName: string, isTop: boolean): StructModel => {
    const s: StructModel = { specName, tsName: isTop ? name : tsNameOf(specName), fields: [], ctx: null, isTop, usedAsValue: false };
    if (!isTop) {
      if (byName.has(specName)) throw new Error(`${file}: struct ${specName} defined twice`);
      byName.set(specName, s);
    }
    structs.push(s);
    return s;
  };

  // Common structs first, so that fields can refer to them by name.
  const pending: [StructModel, JsonField[]][] = [];
  for (const cs of spec.commonStructs ?? []) pending.push([newStruct(cs.name, false), cs.fields]);
  const top = newStruct(name, true);
  structs.splice(structs.indexOf(top), 1);
  structs.unshift(top);
  pending.unshift([top, spec.fields]);

  const fillFields = (s: StructModel, fields: JsonField[]): void => {
    for (const f of fields) {
      const isArray = f.type.startsWith('[]');
      const base = isArray ? f.type.slice(2) : f.type;
      const model: FieldModel = {
        jsonName: f.name,
        prop: lowerCamel(f.name),
        about: f.about ?? '',
        kind: 'prim',
        versions: parseRange(f.versions),
        nullable: f.nullableVersions === undefined ? null : parseRange(f.nullableVersions),
        tagged: f.taggedVersions === undefined ? null : parseRange(f.taggedVersions),
        flexible: f.flexibleVersions === undefined ? flexible : parseRange(f.flexibleVersions),
        defaultRaw: f.default,
        zeroCopy: f.zeroCopy === true,
      };
      if (f.tag !== undefined) model.tag = f.tag;
      if (model.tagged !== null && model.tag === undefined) throw new Error(`${file}: ${f.name} is tagged without a tag`);
      if (PRIM_TYPES.has(base)) {
        model.kind = isArray ? 'primArray' : 'prim';
        model.prim = base as PrimType;
        if (f.fields) throw new Error(`${file}: primitive field ${f.name} has fields`);
      } else {
        model.kind = isArray ? 'structArray' : 'struct';
        let st: StructModel | undefined;
        if (f.fields) {
          st = newStruct(base, false);
          fillFields(st, f.fields);
        } else {
          st = byName.get(base);
          if (st === undefined) throw new Error(`${file}: field ${f.name} refers to unknown struct ${base}`);
        }
        model.struct = st;
        if (!isArray) st.usedAsValue = true;
      }
      s.fields.push(model);
    }
  };
  for (const [s, fields] of pending) fillFields(s, fields);

  // Version hulls: repeat until stable (a common struct can be reached from several fields).
  top.ctx = valid;
  for (let changed = true; changed; ) {
    changed = false;
    for (const s of structs) {
      for (const f of s.fields) {
        if (!f.struct) continue;
        const reach = intersect(s.ctx, f.versions);
        const h = hull(f.struct.ctx, reach);
        if (h !== null && (f.struct.ctx === null || h.lo !== f.struct.ctx.lo || h.hi !== f.struct.ctx.hi)) {
          f.struct.ctx = h;
          changed = true;
        }
      }
    }
  }
  // A struct used as a value needs helpers for every struct value it contains.
  for (let changed = true; changed; ) {
    changed = false;
    for (const s of structs) {
      if (!s.usedAsValue) continue;
      for (const f of s.fields) {
        if (f.kind === 'struct' && !f.struct!.usedAsValue) {
          f.struct!.usedAsValue = true;
          changed = true;
        }
      }
    }
  }

  const model: MessageModel = {
    file,
    name,
    type: spec.type,
    listeners: spec.listeners ?? [],
    valid,
    flexible,
    latestVersionUnstable: spec.latestVersionUnstable === true,
    top,
    structs,
  };
  if (spec.apiKey !== undefined) model.apiKey = spec.apiKey;
  return model;
}
