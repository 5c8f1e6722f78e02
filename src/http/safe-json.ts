import { HttpApiError } from './errors.js';

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
// A forbidden key is either spelled plainly or hidden behind a \u escape: only then walk the value.
const MAY_HOLD_FORBIDDEN_KEY = /__proto__|constructor|\\u/;

/**
 * Parses a request body as one JSON value, refusing (400 ERR_IOTS_HTTP_BAD_JSON): invalid
 * UTF-8, invalid JSON, nesting deeper than `maxDepth` (checked on the text, before parsing),
 * and prototype-poisoning keys with secure-json-parse's rules: any `__proto__` key, and a
 * `constructor` key whose value is an object with a `prototype` key.
 */
export function parseJsonBody(body: Buffer, maxDepth: number): unknown {
  let text: string;
  try {
    text = strictUtf8.decode(body);
  } catch {
    throw new HttpApiError('ERR_IOTS_HTTP_BAD_JSON', 'body: is not valid UTF-8');
  }
  if (jsonDepth(text) > maxDepth) throw new HttpApiError('ERR_IOTS_HTTP_BAD_JSON', `body: JSON nested deeper than ${maxDepth} levels`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new HttpApiError('ERR_IOTS_HTTP_BAD_JSON', `body: is not valid JSON (${(err as Error).message})`);
  }
  if (MAY_HOLD_FORBIDDEN_KEY.test(text)) {
    const key = forbiddenKey(value);
    if (key) throw new HttpApiError('ERR_IOTS_HTTP_BAD_JSON', `${key}: forbidden key (prototype poisoning)`);
  }
  return value;
}

/** Deepest nesting of arrays and objects in JSON text (strings skipped); no recursion. */
export function jsonDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) { if (++depth > max) max = depth; }
    else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}

/** The path of the first forbidden key, or undefined. Iterative: depth is already bounded. */
function forbiddenKey(root: unknown): string | undefined {
  const stack: Array<[unknown, string]> = [[root, 'body']];
  while (stack.length > 0) {
    const [v, path] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) if (typeof v[i] === 'object') stack.push([v[i], `${path}[${i}]`]);
      continue;
    }
    for (const [k, child] of Object.entries(v)) {
      const at = `${path}.${k}`;
      if (k === '__proto__') return at;
      if (k === 'constructor' && typeof child === 'object' && child !== null && Object.hasOwn(child, 'prototype')) return at;
      stack.push([child, at]);
    }
  }
  return undefined;
}
