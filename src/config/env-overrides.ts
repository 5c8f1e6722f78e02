import { parse as parseYaml } from 'yaml';
import type { ConfigIssue } from '../errors.js';

/**
 * `IOTSOCKET_<KEY>__<SUB>=value` environment overrides, applied to the parsed file before
 * validation. Segments match schema keys case-insensitively (group names match the groups
 * already in the file). Values are YAML scalars, except where the schema wants a string,
 * where the text is kept as is (so an all-digit hex key stays a string).
 */

export const ENV_PREFIX = 'IOTSOCKET_';

interface SchemaNode {
  type?: string;
  properties?: Record<string, SchemaNode>;
  additionalProperties?: SchemaNode | boolean;
}

export interface EnvOverrides {
  readonly issues: ConfigIssue[];
  /** Dotted key path -> the environment variable that set it. */
  readonly sources: ReadonlyMap<string, string>;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function matchKey(keys: Iterable<string>, seg: string): string | undefined {
  for (const k of keys) if (k.toLowerCase() === seg.toLowerCase()) return k;
  return undefined;
}

/** Resolves env segments to real key names, walking the schema and the data side by side. */
function resolvePath(schema: SchemaNode, data: Obj, segs: string[]): { path: string[]; leaf: SchemaNode } | string {
  const path: string[] = [];
  let node: SchemaNode = schema;
  let cursor: unknown = data;
  for (const seg of segs) {
    let key = node.properties ? matchKey(Object.keys(node.properties), seg) : undefined;
    let next = key ? node.properties![key] : undefined;
    if (!next && typeof node.additionalProperties === 'object') {
      key = isObj(cursor) ? matchKey(Object.keys(cursor), seg) : undefined;
      if (!key) return `no entry named "${seg}" under ${path.join('.') || 'the root'} in the file`;
      next = node.additionalProperties;
    }
    if (!next || !key) return `unknown key "${[...path, seg.toLowerCase()].join('.')}"`;
    path.push(key);
    node = next;
    cursor = isObj(cursor) ? cursor[key] : undefined;
  }
  return { path, leaf: node };
}

function setIn(data: Obj, path: string[], value: unknown): boolean {
  let obj = data;
  for (const key of path.slice(0, -1)) {
    if (obj[key] === undefined || obj[key] === null) obj[key] = {};
    const next = obj[key];
    if (!isObj(next)) return false;
    obj = next;
  }
  obj[path[path.length - 1]!] = value;
  return true;
}

/** Mutates `data` in place. Variables are applied in name order, so the result is stable. */
export function applyEnvOverrides(data: Obj, env: Record<string, string | undefined>, schema: object): EnvOverrides {
  const issues: ConfigIssue[] = [];
  const sources = new Map<string, string>();
  const names = Object.keys(env).filter((n) => n.toUpperCase().startsWith(ENV_PREFIX) && env[n] !== undefined).sort();
  for (const name of names) {
    // The prefix is case-sensitive, like every shell variable: a near miss would otherwise be
    // silently ignored while the README promises an unknown variable is an error.
    if (!name.startsWith(ENV_PREFIX)) {
      const meant = ENV_PREFIX + name.slice(ENV_PREFIX.length).toUpperCase();
      issues.push({ path: '', message: `environment variable ${name}: the prefix must be ${ENV_PREFIX} in upper case (did you mean ${meant}?)` });
      continue;
    }
    const segs = name.slice(ENV_PREFIX.length).split('__');
    const found = segs.some((s) => s === '') ? `malformed name` : resolvePath(schema as SchemaNode, data, segs);
    if (typeof found === 'string') {
      issues.push({ path: segs.join('.').toLowerCase(), message: `environment variable ${name}: ${found}` });
      continue;
    }
    const raw = env[name]!;
    let value: unknown = raw;
    if (found.leaf.type !== 'string') {
      try {
        value = parseYaml(raw);
      } catch {
        issues.push({ path: found.path.join('.'), message: `environment variable ${name}: not a valid YAML value` });
        continue;
      }
    }
    if (!setIn(data, found.path, value)) {
      issues.push({ path: found.path.join('.'), message: `environment variable ${name}: a parent key is not a mapping` });
      continue;
    }
    sources.set(found.path.join('.'), name);
  }
  return { issues, sources };
}
