/**
 * Command line of the broker, Kafka's shape:
 *   main.js [server.properties] [--override key=value]...
 * Kafka requires the properties file; Tributary starts with defaults without one.
 * `--override key=value` and `--override=key=value` are accepted; the value may contain
 * '=' (only the first one separates). Overrides win over the file.
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from './config-def.js';
import { parseProperties } from './properties-file.js';

export interface ServerArgs {
  readonly propertiesFile: string | undefined;
  readonly overrides: Record<string, string>;
}

export function parseServerArgs(argv: readonly string[]): ServerArgs {
  let propertiesFile: string | undefined;
  const overrides: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    let pair: string | undefined;
    if (arg === '--override') {
      pair = argv[++i];
      if (pair === undefined) throw new ConfigError('TRIB_ERR_CONFIG_SYNTAX', '--override needs a key=value argument');
    } else if (arg.startsWith('--override=')) {
      pair = arg.slice('--override='.length);
    } else if (arg.startsWith('-')) {
      throw new ConfigError('TRIB_ERR_CONFIG_SYNTAX', `Unknown option ${JSON.stringify(arg)}: expected [server.properties] [--override key=value]...`);
    } else if (propertiesFile === undefined) {
      propertiesFile = arg;
      continue;
    } else {
      throw new ConfigError('TRIB_ERR_CONFIG_SYNTAX', `Unexpected argument ${JSON.stringify(arg)}: only one properties file may be given (already ${propertiesFile})`);
    }
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new ConfigError('TRIB_ERR_CONFIG_SYNTAX', `Invalid --override ${JSON.stringify(pair)}: expected key=value`);
    overrides[pair.slice(0, eq).trim()] = pair.slice(eq + 1);
  }
  return { propertiesFile, overrides };
}

/** Reads a properties file into raw key/value pairs (Java reads ISO-8859-1; UTF-8 is what people write today). */
export function readPropertiesFile(path: string): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError('TRIB_ERR_CONFIG_SYNTAX', `Cannot read properties file ${path}: ${(err as Error).message}`);
  }
  return Object.fromEntries(parseProperties(text));
}
