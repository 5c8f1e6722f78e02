import type { Redis } from 'ioredis';

/** A Lua script and how many of its arguments are keys. */
export interface ScriptDef {
  readonly keys: number;
  readonly lua: string;
}

/**
 * Defines each script on the connection once (several engines may share one connection) and
 * returns it typed with them. ioredis sends EVALSHA, falling back to EVAL once per connection.
 */
export function withScripts<T extends Redis>(redis: Redis, scripts: Readonly<Record<string, ScriptDef>>): T {
  const r = redis as unknown as Record<string, unknown>;
  for (const [name, s] of Object.entries(scripts)) {
    if (typeof r[name] !== 'function') redis.defineCommand(name, { numberOfKeys: s.keys, lua: s.lua });
  }
  return redis as T;
}

type PipelineResult = Array<[Error | null, unknown]> | null;

/** The `i`th reply of an executed pipeline; its error is thrown. */
export function unwrap(res: PipelineResult, i: number): unknown {
  const r = res?.[i];
  if (!r) throw new Error('redis pipeline returned no result');
  if (r[0]) throw r[0];
  return r[1];
}

/** Throws the first error among an executed pipeline's replies. */
export function check(res: PipelineResult): void {
  for (const [err] of res ?? []) if (err) throw err;
}
