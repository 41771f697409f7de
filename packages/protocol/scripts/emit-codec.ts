/**
 * Emits one TypeScript module per message: interfaces, and a decoder and an encoder per
 * struct written as straight-line code with version branches. Branches whose outcome is
 * fixed by the versions a struct can occur in are folded away at generation time, so the
 * common case (a field present in every version) costs one call and no test.
 */
import {
  covers, intersect, VERSION_MAX,
  type FieldModel, type MessageModel, type PrimType, type Range, type StructModel,
} from './spec-model.js';

export const ZERO_UUID = 'AAAAAAAAAAAAAAAAAAAAAA';

/** A version test for `range` that is known to be evaluated only within `ctx`. */
export function cond(range: Range | null, ctx: Range | null): string {
  const r = intersect(range, ctx);
  if (r === null || ctx === null) return 'false';
  const parts: string[] = [];
  if (r.lo > ctx.lo) parts.push(`version >= ${r.lo}`);
  if (r.hi < ctx.hi) parts.push(`version <= ${r.hi}`);
  return parts.length === 0 ? 'true' : parts.join(' && ');
}

class Code {
  private lines: string[] = [];
  private depth = 0;

  line(s = ''): void {
    this.lines.push(s === '' ? '' : '  '.repeat(this.depth) + s);
  }

  open(s: string): void {
    this.line(s);
    this.depth++;
  }

  /** A line at the enclosing depth without changing depth (`} else {`). */
  mid(s: string): void {
    this.depth--;
    this.line(s);
    this.depth++;
  }

  close(s = '}'): void {
    this.depth--;
    this.line(s);
  }

  /** `if (c) then else otherwise`, folded when c is constant. */
  branch(c: string, then: () => void, otherwise?: () => void): void {
    if (c === 'true') {
      then();
    } else if (c === 'false') {
      otherwise?.();
    } else {
      this.open(`if (${c}) {`);
      then();
      if (otherwise) {
        this.depth--;
        this.line('} else {');
        this.depth++;
        otherwise();
      }
      this.close();
    }
  }

  toString(): string {
    return this.lines.join('\n') + '\n';
  }
}

const FIXED_SIZE: Partial<Record<PrimType, number>> = {
  int8: 1, bool: 1, int16: 2, uint16: 2, int32: 4, uint32: 4, int64: 8, float64: 8, uuid: 16,
};

function isNumeric(p: PrimType): boolean {
  return p === 'int8' || p === 'int16' || p === 'int32' || p === 'int64' || p === 'uint16' || p === 'uint32' || p === 'float64';
}

function numericDefault(raw: unknown, file: string, prop: string): number {
  if (raw === undefined) return 0;
  const n = typeof raw === 'number' ? raw : Number(String(raw).trim());
  if (!Number.isFinite(n)) throw new Error(`${file}: ${prop}: bad numeric default ${JSON.stringify(raw)}`);
  return n;
}

/** TypeScript expression for the field's default value (fresh objects for arrays/structs). */
export function defaultExpr(f: FieldModel, file: string): string {
  const raw = f.defaultRaw;
  const isNullDefault = raw === 'null' || raw === null;
  switch (f.kind) {
    case 'primArray':
    case 'structArray':
      return isNullDefault ? 'null' : '[]';
    case 'struct':
      return isNullDefault ? 'null' : `default${f.struct!.tsName}()`;
    case 'prim':
      break;
  }
  const p = f.prim!;
  if (isNumeric(p)) return String(numericDefault(raw, file, f.prop));
  switch (p) {
    case 'bool':
      return raw === true || raw === 'true' ? 'true' : 'false';
    case 'string':
      return isNullDefault ? 'null' : JSON.stringify(raw === undefined ? '' : String(raw));
    case 'uuid':
      return JSON.stringify(raw === undefined ? ZERO_UUID : String(raw));
    case 'bytes':
      return isNullDefault ? 'null' : 'EMPTY_BYTES';
    case 'records':
      return 'null';
    default:
      throw new Error(`unhandled type ${p}`);
  }
}

/** The default as plain JSON data (for the schema table the tests use). */
export function defaultData(f: FieldModel, file: string): unknown {
  const e = defaultExpr(f, file);
  if (e === 'EMPTY_BYTES') return 'EMPTY_BYTES';
  if (e.startsWith('default')) return 'STRUCT';
  return JSON.parse(e) as unknown;
}

function nullableSomewhere(f: FieldModel): boolean {
  return intersect(f.nullable, f.versions) !== null;
}

function primTs(p: PrimType): string {
  switch (p) {
    case 'bool':
      return 'boolean';
    case 'string':
    case 'uuid':
      return 'string';
    case 'bytes':
    case 'records':
      return 'Buffer';
    default:
      return 'number';
  }
}

export function fieldTs(f: FieldModel): string {
  const nul = nullableSomewhere(f) || f.prim === 'records' ? ' | null' : '';
  switch (f.kind) {
    case 'prim':
      return primTs(f.prim!) + nul;
    case 'primArray':
      return `${primTs(f.prim!)}[]${nul}`;
    case 'struct':
      return f.struct!.tsName + nul;
    case 'structArray':
      return `${f.struct!.tsName}[]${nul}`;
  }
}

function isRequired(f: FieldModel, s: StructModel): boolean {
  return f.tagged === null && covers(f.versions, s.ctx);
}

function rangeText(r: Range | null): string {
  if (r === null) return 'none';
  if (r.hi === VERSION_MAX) return `${r.lo}+`;
  return r.lo === r.hi ? `${r.lo}` : `${r.lo}-${r.hi}`;
}

function docComment(code: Code, f: FieldModel): void {
  const notes = [`versions ${rangeText(f.versions)}`];
  if (f.nullable) notes.push(`nullable ${rangeText(f.nullable)}`);
  if (f.tagged) notes.push(`tagged ${rangeText(f.tagged)} as tag ${f.tag}`);
  const about = f.about.replace(/\*\//g, '* /').replace(/\s+/g, ' ').trim();
  code.line(`/** ${about ? about + ' ' : ''}(${notes.join(', ')}) */`);
}

// ---------------------------------------------------------------------------------------
// Reading

/** Expression reading one primitive value; `flex` / `nul` say which encoding applies. */
function readPrim(p: PrimType, flex: boolean, nul: boolean): string {
  switch (p) {
    case 'int8': return 'r.int8()';
    case 'int16': return 'r.int16()';
    case 'int32': return 'r.int32()';
    case 'int64': return 'r.int64()';
    case 'uint16': return 'r.uint16()';
    case 'uint32': return 'r.uint32()';
    case 'float64': return 'r.float64()';
    case 'bool': return 'r.bool()';
    case 'uuid': return 'r.uuid()';
    case 'string':
      return flex ? (nul ? 'r.compactNullableString()' : 'r.compactString()') : (nul ? 'r.nullableString()' : 'r.string()');
    case 'bytes':
    case 'records':
      return flex ? (nul ? 'r.compactNullableBytes()' : 'r.compactBytes()') : (nul ? 'r.nullableBytes()' : 'r.bytes()');
  }
}

/**
 * Emits `target = <value>` for field `f` read in versions `ctx` (all present, untagged,
 * or all tagged when `tagged`: then the compact encodings always apply).
 */
function emitRead(code: Code, f: FieldModel, target: string, ctx: Range, tagged: boolean): void {
  const flexC = tagged ? 'true' : cond(f.flexible, ctx);
  const nulC = cond(f.nullable, ctx);
  const name = f.prop;
  switch (f.kind) {
    case 'prim': {
      const p = f.prim!;
      if (FIXED_SIZE[p] !== undefined) {
        code.line(`${target} = ${readPrim(p, false, false)};`);
        return;
      }
      code.branch(flexC, () => {
        code.branch(nulC, () => code.line(`${target} = ${readPrim(p, true, true)};`),
          () => code.line(`${target} = ${readPrim(p, true, false)};`));
      }, () => {
        code.branch(nulC, () => code.line(`${target} = ${readPrim(p, false, true)};`),
          () => code.line(`${target} = ${readPrim(p, false, false)};`));
      });
      return;
    }
    case 'struct': {
      const st = f.struct!;
      const call = `decode${st.tsName}(r, version)`;
      code.branch(nulC, () => {
        // A nullable struct is preceded by a marker: int8 -1 / 1, or (tagged) uvarint 0 / 1.
        code.line(`${target} = ${tagged ? 'r.uvarint() === 0' : 'r.int8() < 0'} ? null : ${call};`);
      }, () => code.line(`${target} = ${call};`));
      return;
    }
    case 'primArray':
    case 'structArray': {
      const elemTs = f.kind === 'structArray' ? f.struct!.tsName : primTs(f.prim!);
      const emitArray = (flex: boolean): void => {
        const min = f.kind === 'primArray' ? (FIXED_SIZE[f.prim!] ?? (flex ? 1 : 2)) : 1;
        code.open('{');
        code.line(`const n = ${flex ? 'r.compactArrayLength' : 'r.arrayLength'}(${min});`);
        code.open('if (n < 0) {');
        code.branch(nulC, () => code.line(`${target} = null;`),
          () => code.line(`throw r.error('non-nullable array ${name} is null');`));
        code.mid('} else {');
        code.line(`const a: ${elemTs}[] = [];`);
        const elem = f.kind === 'structArray' ? `decode${f.struct!.tsName}(r, version)` : readPrim(f.prim!, flex, false);
        code.line(`for (let i = 0; i < n; i++) a.push(${elem});`);
        code.line(`${target} = a;`);
        code.close();
        code.close();
      };
      code.branch(flexC, () => emitArray(true), () => emitArray(false));
      return;
    }
  }
}

function emitDecoder(code: Code, msg: MessageModel, s: StructModel): void {
  const ctx = s.ctx!;
  const exported = s.isTop ? 'export ' : '';
  code.open(`${exported}function decode${s.tsName}(r: Reader, version: number): ${s.tsName} {`);
  if (s.isTop) {
    code.open(`if (version < ${msg.valid.lo} || version > ${msg.valid.hi}) {`);
    code.line(`throw new ProtocolDecodeError(\`cannot decode ${s.tsName} version \${version}: valid versions are ${msg.valid.lo}-${msg.valid.hi}\`);`);
    code.close();
  }
  const flexC = cond(msg.flexible, ctx);
  const taggedFields = s.fields.filter((f) => intersect(intersect(f.tagged, f.versions), ctx) !== null);
  for (const f of s.fields) {
    const fieldTsType = fieldTs(f);
    const untagged = f.versions === null ? null : f.tagged === null ? f.versions
      : subtractTagged(f.versions, f.tagged, msg.file, f.prop);
    const presentC = cond(untagged, ctx);
    const local = `_${f.prop}`;
    const inTagged = taggedFields.includes(f);
    if (presentC === 'true' && !inTagged && f.kind === 'prim' && FIXED_SIZE[f.prim!] !== undefined) {
      code.line(`const ${local} = ${readPrim(f.prim!, false, false)};`);
    } else if (presentC === 'true') {
      code.line(`let ${local}: ${fieldTsType};`);
      emitRead(code, f, local, intersect(untagged, ctx)!, false);
    } else {
      code.line(`let ${local}: ${fieldTsType} = ${defaultExpr(f, msg.file)};`);
      if (presentC !== 'false') code.branch(presentC, () => emitRead(code, f, local, intersect(untagged, ctx)!, false));
    }
  }
  const hasFlex = flexC !== 'false';
  if (hasFlex) code.line('let unknown: TaggedField[] | undefined;');
  code.branch(flexC, () => {
    if (taggedFields.length === 0) {
      code.line('unknown = r.unknownTaggedFields();');
      return;
    }
    code.line('const nTagged = r.taggedFieldCount();');
    code.open('for (let i = 0; i < nTagged; i++) {');
    code.line('const tag = r.uvarint();');
    code.line('const size = r.uvarint();');
    code.open('switch (tag) {');
    for (const f of taggedFields) {
      const tv = intersect(intersect(f.tagged, f.versions), ctx)!;
      const c = cond(tv, intersect(msg.flexible, ctx));
      code.open(`case ${f.tag}: {`);
      code.branch(c, () => {
        code.line('const end = r.taggedFieldEnd(size);');
        emitRead(code, f, `_${f.prop}`, tv, true);
        code.line(`r.endTaggedField(end, ${f.tag});`);
        code.line('continue;');
      });
      if (c !== 'true') code.line('break;');
      code.close();
    }
    code.close();
    code.line('(unknown ??= []).push({ tag, data: r.raw(size) });');
    code.close();
  });
  const props = s.fields.map((f) => `${f.prop}: _${f.prop}`).join(', ');
  if (hasFlex) {
    code.line(`const out: ${s.tsName} = { ${props} };`);
    code.line('if (unknown !== undefined) out.unknownTaggedFields = unknown;');
    code.line('return out;');
  } else {
    code.line(`return { ${props} };`);
  }
  code.close();
  code.line();
}

/** Versions in which a field is present and not tagged (Kafka requires tagged ⊆ a suffix). */
function subtractTagged(versions: Range, tagged: Range, file: string, prop: string): Range | null {
  const t = intersect(versions, tagged);
  if (t === null) return versions;
  if (t.lo <= versions.lo && t.hi >= versions.hi) return null;
  if (t.hi >= versions.hi) return { lo: versions.lo, hi: t.lo - 1 };
  if (t.lo <= versions.lo) return { lo: t.hi + 1, hi: versions.hi };
  throw new Error(`${file}: ${prop}: tagged versions in the middle of its versions are not supported`);
}

// ---------------------------------------------------------------------------------------
// Writing

function writePrim(p: PrimType, v: string, flex: boolean, nul: boolean, w = 'w'): string {
  switch (p) {
    case 'int8': return `${w}.int8(${v});`;
    case 'int16': return `${w}.int16(${v});`;
    case 'int32': return `${w}.int32(${v});`;
    case 'int64': return `${w}.int64(${v});`;
    case 'uint16': return `${w}.uint16(${v});`;
    case 'uint32': return `${w}.uint32(${v});`;
    case 'float64': return `${w}.float64(${v});`;
    case 'bool': return `${w}.bool(${v});`;
    case 'uuid': return `${w}.uuid(${v});`;
    case 'string':
      return flex ? (nul ? `${w}.compactNullableString(${v});` : `${w}.compactString(${v});`)
        : (nul ? `${w}.nullableString(${v});` : `${w}.string(${v});`);
    case 'bytes':
      return flex ? (nul ? `${w}.compactNullableBytes(${v});` : `${w}.compactBytes(${v});`)
        : (nul ? `${w}.nullableBytes(${v});` : `${w}.bytes(${v});`);
    case 'records':
      // Record data is appended by reference, never copied or re-encoded.
      if (nul) return flex ? `${w}.compactRecords(${v});` : `${w}.records(${v});`;
      return flex ? `${w}.compactNonNullRecords(${v});` : `${w}.nonNullRecords(${v});`;
  }
}

/** Expression for the value of `f` in `m`, with undefined meaning the default. */
function valueExpr(f: FieldModel, file: string): string {
  const d = defaultExpr(f, file);
  const numericOrBool = f.kind === 'prim' && (isNumeric(f.prim!) || f.prim === 'bool');
  if (numericOrBool || d === 'null') return `m.${f.prop} ?? ${d}`;
  return `m.${f.prop} === undefined ? ${d} : m.${f.prop}`;
}

function emitWrite(code: Code, f: FieldModel, v: string, ctx: Range, tagged: boolean, w = 'w'): void {
  const flexC = tagged ? 'true' : cond(f.flexible, ctx);
  const nulC = cond(f.nullable, ctx);
  switch (f.kind) {
    case 'prim': {
      const p = f.prim!;
      if (FIXED_SIZE[p] !== undefined) {
        code.line(writePrim(p, v, false, false, w));
        return;
      }
      // In versions where a sometimes-nullable field is not nullable, the writer itself
      // rejects a null at run time; the assertion only informs the type checker.
      const vn = nullableSomewhere(f) || p === 'records' ? `${v}!` : v;
      code.branch(flexC, () => {
        code.branch(nulC, () => code.line(writePrim(p, v, true, true, w)), () => code.line(writePrim(p, vn, true, false, w)));
      }, () => {
        code.branch(nulC, () => code.line(writePrim(p, v, false, true, w)), () => code.line(writePrim(p, vn, false, false, w)));
      });
      return;
    }
    case 'struct': {
      const call = `encode${f.struct!.tsName}(${w}, version, ${v});`;
      code.open(`if (${v} === null) {`);
      code.branch(nulC, () => code.line(tagged ? `${w}.uvarint(0);` : `${w}.int8(-1);`),
        () => code.line(`throw new ProtocolEncodeError('non-nullable struct ${f.prop} is null');`));
      code.mid('} else {');
      code.branch(nulC, () => code.line(tagged ? `${w}.uvarint(1);` : `${w}.int8(1);`));
      code.line(call);
      code.close();
      return;
    }
    case 'primArray':
    case 'structArray': {
      const emitArray = (flex: boolean): void => {
        code.open(`if (${v} === null) {`);
        code.branch(nulC, () => code.line(flex ? `${w}.uvarint(0);` : `${w}.int32(-1);`),
          () => code.line(`throw new ProtocolEncodeError('non-nullable array ${f.prop} is null');`));
        code.mid('} else {');
        code.line(flex ? `${w}.uvarint(${v}.length + 1);` : `${w}.int32(${v}.length);`);
        const elem = f.kind === 'structArray'
          ? `encode${f.struct!.tsName}(${w}, version, ${v}[i]!);`
          : writePrim(f.prim!, `${v}[i]!`, flex, false, w);
        code.line(`for (let i = 0; i < ${v}.length; i++) ${elem}`);
        code.close();
      };
      code.branch(flexC, () => emitArray(true), () => emitArray(false));
      return;
    }
  }
}

/** Expression that is true when tagged field value `v` differs from its default. */
function nonDefaultTest(f: FieldModel, v: string, file: string): string {
  const d = defaultExpr(f, file);
  if (d === 'null') return `${v} !== null`;
  switch (f.kind) {
    case 'primArray':
    case 'structArray':
      return `(${v} === null || ${v}.length !== 0)`;
    case 'struct':
      return `(${v} === null || !isDefault${f.struct!.tsName}(${v}))`;
    case 'prim':
      if (f.prim === 'bytes') return `(${v} === null || ${v}.length !== 0)`;
      return `${v} !== ${d}`;
  }
}

function emitEncoder(code: Code, msg: MessageModel, s: StructModel): void {
  const ctx = s.ctx!;
  const exported = s.isTop ? 'export ' : '';
  code.open(`${exported}function encode${s.tsName}(w: Writer, version: number, m: ${s.tsName}): void {`);
  if (s.isTop) {
    code.open(`if (version < ${msg.valid.lo} || version > ${msg.valid.hi}) {`);
    code.line(`throw new ProtocolEncodeError(\`cannot encode ${s.tsName} version \${version}: valid versions are ${msg.valid.lo}-${msg.valid.hi}\`);`);
    code.close();
  }
  const flexC = cond(msg.flexible, ctx);
  const taggedFields = s.fields.filter((f) => intersect(intersect(f.tagged, f.versions), ctx) !== null)
    .sort((a, b) => a.tag! - b.tag!);
  for (const f of s.fields) {
    const untagged = f.versions === null ? null : f.tagged === null ? f.versions
      : subtractTagged(f.versions, f.tagged, msg.file, f.prop);
    const presentC = cond(untagged, ctx);
    if (presentC === 'false') continue;
    code.branch(presentC, () => {
      const fixed = f.kind === 'prim' && FIXED_SIZE[f.prim!] !== undefined;
      if (fixed) {
        code.line(writePrim(f.prim!, valueExpr(f, msg.file), false, false));
      } else {
        code.open('{');
        code.line(`const v = ${valueExpr(f, msg.file)};`);
        emitWrite(code, f, 'v', intersect(untagged, ctx)!, false);
        code.close();
      }
    });
  }
  code.branch(flexC, () => {
    if (taggedFields.length === 0) {
      code.line('w.unknownTaggedFields(m.unknownTaggedFields);');
      return;
    }
    code.line('const u = m.unknownTaggedFields;');
    code.line('let nTagged = u === undefined ? 0 : u.length;');
    // Known tagged fields are written only when they differ from their default (as Kafka);
    // each is encoded on its own first because its size precedes it on the wire.
    for (const f of taggedFields) {
      const tv = intersect(intersect(f.tagged, f.versions), ctx)!;
      const t = `t${f.tag}`;
      code.line(`let ${t}: Buffer | null = null;`);
      code.branch(cond(tv, intersect(msg.flexible, ctx)), () => {
        // undefined means the default, which is never written: no need to build it.
        code.line(`const v${f.tag} = m.${f.prop};`);
        code.open(`if (v${f.tag} !== undefined && ${nonDefaultTest(f, `v${f.tag}`, msg.file)}) {`);
        code.line('const tw = new Writer(64);');
        emitWrite(code, f, `v${f.tag}`, tv, true, 'tw');
        code.line(`${t} = tw.finish();`);
        code.line('nTagged++;');
        code.close();
      });
    }
    code.line('w.uvarint(nTagged);');
    code.line('let ui = 0;');
    for (const f of taggedFields) {
      code.open(`if (t${f.tag} !== null) {`);
      code.line(`ui = w.unknownTaggedFieldsBefore(u, ui, ${f.tag});`);
      code.line(`w.taggedField(${f.tag}, t${f.tag});`);
      code.close();
    }
    code.line('w.unknownTaggedFieldsBefore(u, ui, Infinity);');
  });
  code.close();
  code.line();
}

// ---------------------------------------------------------------------------------------
// Defaults of struct values (used when a struct field is absent, and to decide whether a
// tagged struct must be written).

function emitStructDefaults(code: Code, msg: MessageModel, s: StructModel): void {
  const props = s.fields.map((f) => `${f.prop}: ${defaultExpr(f, msg.file)}`).join(', ');
  code.open(`function default${s.tsName}(): ${s.tsName} {`);
  code.line(`return { ${props} };`);
  code.close();
  code.line();
  code.open(`function isDefault${s.tsName}(s: ${s.tsName}): boolean {`);
  const tests: string[] = [];
  for (const f of s.fields) {
    const v = `s.${f.prop}`;
    tests.push(`(${v} === undefined || !(${nonDefaultTest(f, v, msg.file)}))`);
  }
  tests.push('(s.unknownTaggedFields === undefined || s.unknownTaggedFields.length === 0)');
  code.line(`return ${tests.join(' &&\n    ')};`);
  code.close();
  code.line();
}

// ---------------------------------------------------------------------------------------

export function emitMessageModule(msg: MessageModel, header: string, codecDir: string): string {
  const code = new Code();
  for (const l of header.split('\n')) code.line(l);
  code.line(`import { Reader } from '${codecDir}/reader.js';`);
  code.line(`import { Writer } from '${codecDir}/writer.js';`);
  const body = new Code();
  for (const s of msg.structs) {
    if (s.ctx === null) continue;
    body.open(`export interface ${s.tsName} {`);
    for (const f of s.fields) {
      docComment(body, f);
      body.line(`${f.prop}${isRequired(f, s) ? '' : '?'}: ${fieldTs(f)};`);
    }
    body.line('/** Tagged fields this code does not know, kept as raw bytes (flexible versions only). */');
    body.line('unknownTaggedFields?: TaggedField[];');
    body.close();
    body.line();
  }
  for (const s of msg.structs) {
    if (s.ctx === null) continue;
    emitDecoder(body, msg, s);
    emitEncoder(body, msg, s);
    if (s.usedAsValue) emitStructDefaults(body, msg, s);
  }
  const text = body.toString();
  const errs = ['ProtocolDecodeError', 'ProtocolEncodeError'].filter((e) => text.includes(e));
  if (errs.length > 0) code.line(`import { ${errs.join(', ')} } from '${codecDir}/errors.js';`);
  if (text.includes('EMPTY_BYTES')) code.line(`import { EMPTY_BYTES } from '${codecDir}/constants.js';`);
  code.line(`import type { TaggedField } from '${codecDir}/tagged-field.js';`);
  code.line();
  return code.toString() + text.replace(/\n+$/, '\n');
}
