/**
 * Java `.properties` text, the format of Kafka's `server.properties` and `meta.properties`.
 *
 * Parsing follows `java.util.Properties.load`:
 * - natural lines end at \n, \r or \r\n; leading blanks (space, tab, form feed) are skipped;
 * - a line whose first non-blank character is `#` or `!` is a comment (never continued);
 * - a line ending in an odd number of backslashes continues on the next line, whose
 *   leading blanks are dropped;
 * - the key ends at the first unescaped `=`, `:` or blank; blanks, then at most one `=` or
 *   `:`, then blanks separate it from the value (so `k=v`, `k: v` and `k v` all work);
 * - escapes: \t \n \r \f, \uXXXX, and a backslash before any other character stands for
 *   that character (`\=`, `\:`, `\ `, `\\`).
 * A malformed \u escape raises ConfigError (Java throws IllegalArgumentException).
 * Later duplicates of a key replace earlier ones, as in Java.
 */
import { ConfigError } from './config-def.js';

const BLANK = new Set([' ', '\t', '\f']);

export function parseProperties(text: string): Map<string, string> {
  const result = new Map<string, string>();
  const lines = text.split(/\r\n|\r|\n/);
  let i = 0;
  while (i < lines.length) {
    let line = stripLeadingBlanks(lines[i]!);
    const lineNumber = i + 1;
    i++;
    if (line === '' || line[0] === '#' || line[0] === '!') continue;
    // Join continuation lines: an odd count of trailing backslashes escapes the line end.
    while (endsWithOddBackslashes(line)) {
      line = line.slice(0, -1);
      if (i >= lines.length) break;
      line += stripLeadingBlanks(lines[i]!);
      i++;
    }
    const [key, value] = splitKeyValue(line, lineNumber);
    result.set(key, value);
  }
  return result;
}

function stripLeadingBlanks(line: string): string {
  let start = 0;
  while (start < line.length && BLANK.has(line[start]!)) start++;
  return line.slice(start);
}

function endsWithOddBackslashes(line: string): boolean {
  let count = 0;
  for (let j = line.length - 1; j >= 0 && line[j] === '\\'; j--) count++;
  return count % 2 === 1;
}

function splitKeyValue(line: string, lineNumber: number): [string, string] {
  let keyEnd = 0;
  let hasSeparator = false;
  while (keyEnd < line.length) {
    const c = line[keyEnd]!;
    if (c === '\\') { keyEnd += 2; continue; }
    if (c === '=' || c === ':') { hasSeparator = true; break; }
    if (BLANK.has(c)) break;
    keyEnd++;
  }
  keyEnd = Math.min(keyEnd, line.length);
  let valueStart = keyEnd;
  if (hasSeparator) valueStart++;
  else {
    while (valueStart < line.length && BLANK.has(line[valueStart]!)) valueStart++;
    if (valueStart < line.length && (line[valueStart] === '=' || line[valueStart] === ':')) valueStart++;
  }
  while (valueStart < line.length && BLANK.has(line[valueStart]!)) valueStart++;
  return [unescape(line.slice(0, keyEnd), lineNumber), unescape(line.slice(valueStart), lineNumber)];
}

function unescape(text: string, lineNumber: number): string {
  if (!text.includes('\\')) return text;
  let out = '';
  for (let j = 0; j < text.length; j++) {
    const c = text[j]!;
    if (c !== '\\') { out += c; continue; }
    j++;
    if (j >= text.length) break;
    const e = text[j]!;
    switch (e) {
      case 't': out += '\t'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 'f': out += '\f'; break;
      case 'u': {
        const hex = text.slice(j + 1, j + 5);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) {
          throw new ConfigError('TRIB_ERR_CONFIG_SYNTAX', `Malformed \\uxxxx escape ${JSON.stringify('\\u' + hex)} on line ${lineNumber}: expected four hex digits`);
        }
        out += String.fromCharCode(parseInt(hex, 16));
        j += 4;
        break;
      }
      default: out += e;
    }
  }
  return out;
}

/**
 * Writes properties the way Java's `Properties.store` does: a comment line, then
 * `key=value` lines with separators, comment markers, leading blanks and non-ASCII
 * escaped, so `parseProperties` (and Java) read back exactly the same pairs.
 */
export function formatProperties(entries: Iterable<readonly [string, string]>, comment?: string): string {
  let out = '';
  if (comment !== undefined) out += `#${comment.replace(/[\r\n]+/g, ' ')}\n`;
  for (const [key, value] of entries) out += `${escape(key, true)}=${escape(value, false)}\n`;
  return out;
}

function escape(text: string, isKey: boolean): string {
  let out = '';
  for (let j = 0; j < text.length; j++) {
    const c = text[j]!;
    const code = c.charCodeAt(0);
    if (c === '\\') out += '\\\\';
    else if (c === '\t') out += '\\t';
    else if (c === '\n') out += '\\n';
    else if (c === '\r') out += '\\r';
    else if (c === '\f') out += '\\f';
    else if (c === '=' || c === ':' || c === '#' || c === '!') out += '\\' + c;
    else if (c === ' ' && (isKey || j === 0)) out += '\\ ';
    else if (code < 0x20 || code > 0x7e) out += '\\u' + code.toString(16).padStart(4, '0');
    else out += c;
  }
  return out;
}
