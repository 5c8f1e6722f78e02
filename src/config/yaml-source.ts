import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import type { ConfigIssue } from '../errors.js';

/** A parsed YAML file plus a way to find the line a key path came from. */
export interface YamlSource {
  /** Plain data (`{}` for an empty file); undefined when the file could not be parsed. */
  readonly data: unknown;
  readonly errors: ConfigIssue[];
  readonly warnings: string[];
  /** 1-based line of the deepest existing key on `path` (line 1 for the root). */
  locate(path: readonly string[]): number;
}

interface Ranged {
  range?: [number, number, number] | null;
}

function startOf(node: unknown): number | undefined {
  return (node as Ranged | null | undefined)?.range?.[0];
}

function keyText(key: unknown): string {
  return isScalar(key) ? String(key.value) : String(key);
}

function locateIn(root: Node | null, lines: LineCounter, path: readonly string[]): number {
  let node: unknown = root;
  let offset: number | undefined = startOf(root);
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && keyText(p.key) === seg);
      if (!pair) break;
      // The key's own line reads best, for scalars and for nested blocks alike.
      offset = startOf(pair.key) ?? startOf(pair.value) ?? offset;
      node = pair.value;
    } else if (isSeq(node)) {
      const item = node.items[Number(seg)];
      if (item === undefined) break;
      offset = startOf(item) ?? offset;
      node = item;
    } else {
      break;
    }
  }
  return offset === undefined ? 1 : lines.linePos(offset).line;
}

/** Parses YAML text; syntax errors become issues with their line, never exceptions. */
export function readYamlSource(text: string): YamlSource {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const errors: ConfigIssue[] = doc.errors.map((e) => ({
    path: '',
    line: lines.linePos(e.pos[0]).line,
    message: `YAML syntax error: ${e.message.split('\n')[0]}`,
  }));
  const warnings = doc.warnings.map((w) => `line ${lines.linePos(w.pos[0]).line}: ${w.message.split('\n')[0]}`);
  const root = doc.contents as Node | null;
  let data: unknown;
  if (errors.length === 0) {
    try {
      data = doc.toJS({ maxAliasCount: 100 }) ?? {};
    } catch (err) {
      errors.push({ path: '', line: 1, message: `YAML error: ${(err as Error).message}` });
    }
  }
  return { data, errors, warnings, locate: (path) => locateIn(root, lines, path) };
}
