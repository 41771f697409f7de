/**
 * `ssl.principal.mapping.rules` (KIP-371), Kafka's SslPrincipalMapper: a list of rules,
 * comma- or newline-separated, tried in order on the certificate subject (RFC 2253 text);
 * the first that applies gives the principal name.
 *
 *   DEFAULT                           the subject unchanged
 *   RULE:pattern/replacement/         when `pattern` matches the whole subject, the subject
 *   RULE:pattern/replacement/L        with every match replaced (`$1` refers to groups),
 *   RULE:pattern/replacement/U        then lower- or upper-cased
 *
 * e.g. `RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/,DEFAULT` maps
 * `CN=alice,OU=ServiceUsers,O=Example` to `alice`. When no rule applies Kafka fails the
 * connection's authentication; getName answers null and the caller refuses the channel.
 *
 * Patterns are JavaScript regular expressions; Java's syntax agrees for everything the
 * rules are used for (groups, classes, lazy quantifiers, anchors).
 */

/** Kafka's RULE_PATTERN: DEFAULT, RULE:pattern/replacement/[LU], or anything else (invalid). */
const RULE_BODY = String.raw`(DEFAULT)|RULE:((?:\\.|[^\\/])*)/((?:\\.|[^\\/])*)/([LU]?).*?|(.*?)`;
const RULE_SPLITTER = new RegExp(String.raw`\s*(${RULE_BODY})\s*(?:[,\n]\s*|$)`, 'gy');

export class PrincipalMappingError extends Error {
  readonly code = 'TRIB_ERR_PRINCIPAL_MAPPING' as const;
  constructor(message: string) {
    super(message);
    this.name = 'PrincipalMappingError';
  }
}

interface Rule {
  readonly isDefault: boolean;
  readonly whole?: RegExp;
  readonly global?: RegExp;
  readonly replacement?: string;
  readonly toLowerCase?: boolean;
  readonly toUpperCase?: boolean;
}

export class SslPrincipalMapper {
  private constructor(private readonly rules: readonly Rule[]) {}

  static fromRules(text: string): SslPrincipalMapper {
    const rules: Rule[] = [];
    RULE_SPLITTER.lastIndex = 0;
    const source = text.trim();
    while (RULE_SPLITTER.lastIndex < source.length) {
      const start = RULE_SPLITTER.lastIndex;
      const m = RULE_SPLITTER.exec(source);
      if (m === null || RULE_SPLITTER.lastIndex === start) throw new PrincipalMappingError(`Invalid ssl.principal.mapping.rules ${JSON.stringify(text)} at offset ${start}`);
      if (m[2] !== undefined) {
        rules.push({ isDefault: true });
      } else if (m[3] !== undefined) {
        const pattern = m[3];
        let whole: RegExp;
        let global: RegExp;
        try {
          whole = new RegExp(`^(?:${pattern})$`);
          global = new RegExp(pattern, 'g');
        } catch (err) {
          throw new PrincipalMappingError(`Invalid pattern ${JSON.stringify(pattern)} in ssl.principal.mapping.rules: ${(err as Error).message}`);
        }
        rules.push({ isDefault: false, whole, global, replacement: m[4]!, toLowerCase: m[5] === 'L', toUpperCase: m[5] === 'U' });
      } else if (m[6] !== undefined && m[6] !== '') {
        throw new PrincipalMappingError(`Invalid rule ${JSON.stringify(m[6])} in ssl.principal.mapping.rules: expected DEFAULT or RULE:pattern/replacement/[LU]`);
      }
    }
    if (rules.length === 0) rules.push({ isDefault: true });
    return new SslPrincipalMapper(rules);
  }

  /** The principal name for a subject, or null when no rule applies. */
  getName(distinguishedName: string): string | null {
    for (const rule of this.rules) {
      if (rule.isDefault) return distinguishedName;
      if (!rule.whole!.test(distinguishedName)) continue;
      let result = distinguishedName.replace(rule.global!, rule.replacement!);
      if (rule.toLowerCase) result = result.toLowerCase();
      else if (rule.toUpperCase) result = result.toUpperCase();
      return result;
    }
    return null;
  }
}
