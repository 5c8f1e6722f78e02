import type { Redis } from 'ioredis';
import type { BufferRefusal } from '../registry/offline-buffer.js';
import type { BufferBounds, BufferedEntry, NotKept, SessionBuffers } from '../registry/session-buffers.js';
import { RedisKeys } from './keys.js';
import { withScripts } from './scripts.js';

// One stream per kept session ({uid} tag) and its byte count in a second key of the same tag:
// the bounds are checked in the script that appends, so two nodes appending at once cannot
// overshoot them.

/**
 * KEYS: stream, bytes, the UID's directory hash (same tag). ARGV: maxCount, maxBytes, ttl, bytes,
 * dir, tracking, node ('' for none), object uid ('' for none), claim ('' for no guard), run, expiresAt ('' for none).
 */
const APPEND = `
if ARGV[9] ~= '' then
  local e = redis.call('HMGET', KEYS[3], 'state', 'claim')
  if e[1] ~= 'kept' or e[2] ~= ARGV[9] then return 'not-kept' end
end
if redis.call('XLEN', KEYS[1]) >= tonumber(ARGV[1]) then return 'session-count' end
local used = tonumber(redis.call('GET', KEYS[2]) or '0')
if used + string.len(ARGV[4]) > tonumber(ARGV[2]) then return 'session-bytes' end
if ARGV[7] == '' then
  redis.call('XADD', KEYS[1], '*', 'b', ARGV[4])
else
  local f = {'b', ARGV[4], 'd', ARGV[5], 'k', ARGV[6], 'n', ARGV[7]}
  if ARGV[8] ~= '' then f[#f + 1] = 'u'; f[#f + 1] = ARGV[8] end
  if ARGV[10] ~= '' then f[#f + 1] = 'r'; f[#f + 1] = ARGV[10] end
  if ARGV[11] ~= '' then f[#f + 1] = 'x'; f[#f + 1] = ARGV[11] end
  redis.call('XADD', KEYS[1], '*', unpack(f))
end
redis.call('INCRBY', KEYS[2], string.len(ARGV[4]))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return false`;

/** KEYS: stream, bytes. Returns the entries and deletes both keys. */
const TAKE = `
local e = redis.call('XRANGE', KEYS[1], '-', '+')
redis.call('DEL', KEYS[1], KEYS[2])
return e`;

/** KEYS: stream, bytes. ARGV: dir, tracking, object uid ('' for any). 1 when a request was removed. */
const REMOVE = `
for _, e in ipairs(redis.call('XRANGE', KEYS[1], '-', '+')) do
  local f = e[2]
  local d, k, b, u
  for i = 1, #f, 2 do
    if f[i] == 'd' then d = f[i + 1] elseif f[i] == 'k' then k = f[i + 1] elseif f[i] == 'b' then b = f[i + 1] elseif f[i] == 'u' then u = f[i + 1] end
  end
  if d == ARGV[1] and k == ARGV[2] and (ARGV[3] == '' or u == ARGV[3]) then
    redis.call('XDEL', KEYS[1], e[1])
    redis.call('DECRBY', KEYS[2], string.len(b))
    return 1
  end
end
return 0`;

type Scripted = Redis & {
  iotsBufAppend(stream: string, bytes: string, session: string, ...argv: Array<string | Buffer>): Promise<string | null>;
  iotsBufTakeBuffer(stream: string, bytes: string): Promise<Array<[Buffer, Buffer[]]>>;
  iotsBufRemove(stream: string, bytes: string, dir: string, tracking: string, uid: string): Promise<number>;
};

export class RedisSessionBuffers implements SessionBuffers {
  readonly #r: Scripted;
  readonly #k: RedisKeys;

  constructor(redis: Redis, keys: RedisKeys) {
    this.#r = withScripts<Scripted>(redis, {
      iotsBufAppend: { keys: 3, lua: APPEND },
      iotsBufTake: { keys: 2, lua: TAKE },
      iotsBufRemove: { keys: 2, lua: REMOVE },
    });
    this.#k = keys;
  }

  async append(uid: string, entry: BufferedEntry, bounds: BufferBounds, whileKept?: string): Promise<BufferRefusal | NotKept | undefined> {
    const q = entry.request;
    const refusal = await this.#r.iotsBufAppend(this.#k.buffer(uid), this.#k.bufferBytes(uid), this.#k.session(uid),
      String(bounds.maxCount), String(bounds.maxBytes), String(Math.max(1, Math.ceil(bounds.ttlMs))), entry.bytes,
      q?.dir ?? '', String(q?.tracking ?? ''), q?.node ?? '', q?.uid ?? '', whileKept ?? '', q?.run ?? '', q?.expiresAt === undefined ? '' : String(q.expiresAt));
    return refusal === null ? undefined : (refusal as BufferRefusal | NotKept);
  }

  async take(uid: string): Promise<BufferedEntry[]> {
    const raw = await this.#r.iotsBufTakeBuffer(this.#k.buffer(uid), this.#k.bufferBytes(uid));
    return raw.map(([, fields]) => {
      const f: Record<string, Buffer> = {};
      for (let i = 0; i < fields.length; i += 2) f[fields[i]!.toString()] = fields[i + 1]!;
      const bytes = f.b ?? Buffer.alloc(0);
      if (!f.n) return { bytes };
      const request = {
        dir: f.d!.toString() === 'up' ? 'up' as const : 'down' as const, tracking: Number(f.k!.toString()), node: f.n.toString(),
        ...(f.u && { uid: f.u.toString() }), ...(f.r && { run: f.r.toString() }), ...(f.x && { expiresAt: Number(f.x.toString()) }),
      };
      return { bytes, request };
    });
  }

  async remove(uid: string, dir: 'down' | 'up', tracking: number, requestUid?: string): Promise<boolean> {
    return (await this.#r.iotsBufRemove(this.#k.buffer(uid), this.#k.bufferBytes(uid), dir, String(tracking), requestUid ?? '')) === 1;
  }

  async stats(uid: string): Promise<{ count: number; bytes: number }> {
    const [count, bytes] = await Promise.all([this.#r.xlen(this.#k.buffer(uid)), this.#r.get(this.#k.bufferBytes(uid))]);
    return { count, bytes: Number(bytes ?? 0) };
  }
}
