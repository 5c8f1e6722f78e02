/**
 * The model a chaos run is checked against (issue 11 §3): every request has a unique id carried
 * in its payload, every device records the ids it is handed, every caller records the one answer
 * it gets. At the end the model says what was lost, duplicated or misrouted.
 *
 * What is counted, exactly:
 * - **lost**: a request whose caller got no answer within its deadline (the concentrator's request
 *   timeout + the fleet's backstop grace + a margin), or whose transport failed while the node it
 *   was sent to was alive.
 * - **abandoned** (not a loss): the caller's own connection ended before the answer (the test
 *   moved that client, or killed the node it was connected to). PROTOCOL §6 keeps the session, but
 *   the SDK's new connection has a fresh tracking table, so the caller cannot be answered.
 * - **duplicated**: an answer carrying request id X reached more than one caller; or a device was
 *   handed X twice. A second hand-over is allowed only as a PROTOCOL §6 re-delivery: on another
 *   connection than every earlier one, while X's caller was not answered yet.
 * - **misrouted**: a device handed a request addressed to someone else (or an unknown id); the
 *   central handed a request naming another object than its sender; an answer carrying another id
 *   than its request's, or naming another answerer. One case is excused ("crossed"): after a
 *   caller moved, its new connection reuses tracking numbers from 0, so the session's late answer
 *   to an abandoned request of the same caller to the same target may settle a new request.
 * - **late**: a device handed X more than LATE_MARGIN_MS after X's caller got a generated 0xA0/0xA1
 *   (PROTOCOL §6: a request whose origin was answered is never delivered late).
 */

export type Kind = 'central-tcp' | 'central-http' | 'object-up';

export interface SentRequest {
  readonly id: string;
  readonly kind: Kind;
  /** The object UID a central-side request is for; '' for an object's request to the central. */
  readonly target: string;
  /** The sending entity: 'central', the object's UID, or 'http'. */
  readonly sender: string;
  /** The sender's connection ('central#3@n1'), or the node an HTTP call was posted to ('http@n1'). */
  readonly conn: string;
  readonly quiet: boolean;
  /** The answerer waits past the request timeout: a 0xA1 is the expected answer. */
  readonly slow: boolean;
  readonly sentAt: number;
}

export type Outcome =
  | { readonly type: 'ok' }
  | { readonly type: 'refused'; readonly code: number; readonly reason: string }
  | { readonly type: 'crossed'; readonly carried: string }
  | { readonly type: 'abandoned'; readonly why: string }
  | { readonly type: 'lost'; readonly why: string }
  | { readonly type: 'wrong'; readonly why: string };

interface Entry {
  readonly req: SentRequest;
  outcome?: Outcome;
  answeredAt?: number;
  /** The concentrator answered with a code of its own (0xA0/0xA1...). */
  generated?: boolean;
}

interface Sighting {
  readonly by: string;
  readonly conn: string;
  readonly at: number;
  readonly from?: string;
}

const LATE_MARGIN_MS = 500;
const MAX_LISTED = 25;

export class ChaosModel {
  readonly #entries = new Map<string, Entry>();
  readonly #sightings = new Map<string, Sighting[]>();
  /** Request id carried by an answer → how many callers got an answer carrying it. */
  readonly #carried = new Map<string, number>();
  readonly #violations: string[] = [];
  readonly #notes = new Map<string, number>();
  #seq = 0;
  /** Told of each violation as it is seen (the world's trace). */
  onViolation: ((what: string) => void) | undefined;
  /** A world's excuse for a late hand-over of `req` whose caller was refused at `answeredAt` (a note, then, not a violation); undefined: none. */
  excuseLate: ((req: SentRequest, answeredAt: number) => string | undefined) | undefined;

  /** `timeoutMs`: the concentrator's request timeout, for the figure of answers that came after it. */
  constructor(readonly now: () => number = Date.now, readonly timeoutMs = Infinity) {}

  nextId(prefix: string): string {
    return `${prefix}${++this.#seq}`;
  }

  sent(req: Omit<SentRequest, 'sentAt'>): SentRequest {
    const r = { ...req, sentAt: this.now() };
    this.#entries.set(r.id, { req: r });
    return r;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** A violation seen by the world itself (an unexpected close, a node not routable after healing). */
  violation(what: string): void {
    this.#violations.push(what);
    this.onViolation?.(what);
  }

  /** Something worth a figure in the report (an allowed re-delivery, a crossed answer...). */
  note(what: string): void {
    this.#notes.set(what, (this.#notes.get(what) ?? 0) + 1);
  }

  /** A device (`by`: object UID or 'central') was handed request `id` on connection `conn`; `from`: the object UID the central saw. */
  seen(id: unknown, by: string, conn: string, from?: string): void {
    if (typeof id !== 'string' || !this.#entries.has(id)) return this.violation(`misrouted: ${by} (${conn}) handed an unknown request ${JSON.stringify(id)}`);
    const { req } = this.#entries.get(id)!;
    if (by === 'central') {
      if (req.kind !== 'object-up') this.violation(`misrouted: the central handed ${id}, a ${req.kind} request for ${req.target}`);
      else if (from !== req.sender) this.violation(`misrouted: the central handed ${id} as from ${from}, sent by ${req.sender}`);
    } else if (req.kind === 'object-up' || req.target !== by) {
      this.violation(`misrouted: ${by} handed ${id}, a ${req.kind} request for ${req.target || 'the central'}`);
    }
    const list = this.#sightings.get(id) ?? [];
    list.push({ by, conn, at: this.now(), from });
    this.#sightings.set(id, list);
  }

  /**
   * The caller of `id` got an answer. For a successful one, `carried`/`by` are what its payload
   * names; `generated`: the concentrator's own code (0xA0, 0xA1, 0xA2, 0x01).
   */
  answered(id: string, outcome: Outcome, generated = false): void {
    const e = this.#entries.get(id)!;
    if (e.outcome) return this.violation(`duplicated: ${id} answered twice (${fmt(e.outcome)}, then ${fmt(outcome)})`);
    e.outcome = outcome;
    e.answeredAt = this.now();
    e.generated = generated;
  }

  /** A successful answer to `id` carrying `carried` (the id in its payload) from `by`: ok, crossed or misrouted. */
  success(id: string, carried: unknown, by: unknown): void {
    const e = this.#entries.get(id)!;
    const expectedBy = e.req.kind === 'object-up' ? 'central' : e.req.target;
    if (typeof carried === 'string') this.#carried.set(carried, (this.#carried.get(carried) ?? 0) + 1);
    if (carried === id && by === expectedBy) return this.answered(id, { type: 'ok' });
    const other = typeof carried === 'string' ? this.#entries.get(carried) : undefined;
    if (other && by === expectedBy && this.#crossable(e.req, other)) {
      this.note('crossed answers (a moved caller\'s abandoned request answered on its new connection)');
      return this.answered(id, { type: 'crossed', carried: carried as string });
    }
    this.answered(id, { type: 'wrong', why: `answer carries ${JSON.stringify(carried)} by ${JSON.stringify(by)}` });
    this.violation(`misrouted: the answer to ${id} (${e.req.kind} to ${e.req.target || 'central'}) carries ${JSON.stringify(carried)} from ${JSON.stringify(by)}`);
  }

  /** A crossed answer is excused only between two connections of the same caller, to the same target, the older request abandoned. */
  #crossable(req: SentRequest, other: Entry): boolean {
    return other.req.kind === req.kind && other.req.kind !== 'central-http' && other.req.sender === req.sender
      && other.req.target === req.target && other.req.conn !== req.conn && other.outcome?.type === 'abandoned';
  }

  /** The checks; call once every request has settled. */
  verdict(): Verdict {
    const v = [...this.#violations];
    const counts: Record<string, number> = {};
    const quiet = { total: 0, ok: 0, slow: 0 };
    const quietFailures: string[] = [];
    const latency = { maxMs: 0, pastTimeout: 0, worst: '' };
    for (const e of this.#entries.values()) {
      const o = e.outcome;
      const key = !o ? 'unsettled' : o.type === 'refused' ? `refused ${hex(o.code)} ${o.reason}` : o.type === 'abandoned' ? `abandoned (${o.why})` : o.type;
      counts[`${e.req.kind}: ${key}`] = (counts[`${e.req.kind}: ${key}`] ?? 0) + 1;
      if (e.answeredAt !== undefined && o?.type !== 'abandoned') {
        const ms = e.answeredAt - e.req.sentAt;
        if (ms > latency.maxMs) [latency.maxMs, latency.worst] = [ms, `${e.req.id} (${e.req.kind}${e.req.slow ? ', slow answerer' : ''}): ${fmt(o!)}`];
        if (ms > this.timeoutMs + 1000) latency.pastTimeout++;
      }
      if (!o) v.push(`lost: ${e.req.id} (${e.req.kind} to ${e.req.target || 'central'}) never settled`);
      else if (o.type === 'lost') v.push(`lost: ${e.req.id} (${e.req.kind} via ${e.req.conn} to ${e.req.target || 'central'}, sent at +${e.req.sentAt}): ${o.why}`);
      if (e.req.quiet) {
        quiet.total++;
        if (e.req.slow) quiet.slow++;
        else if (o?.type === 'ok') quiet.ok++;
        else if (quietFailures.length < MAX_LISTED) quietFailures.push(`${e.req.id} (${e.req.kind} via ${e.req.conn} to ${e.req.target || 'central'}, sent at +${e.req.sentAt}): ${o ? fmt(o) : 'unsettled'}`);
      }
      const seen = this.#sightings.get(e.req.id) ?? [];
      for (let i = 1; i < seen.length; i++) {
        const s = seen[i]!;
        const fresh = seen.slice(0, i).every((p) => p.conn !== s.conn);
        const unanswered = e.answeredAt === undefined || e.answeredAt > s.at;
        if (fresh && unanswered) this.note('re-deliveries on a new connection, before the answer (PROTOCOL §6)');
        else v.push(`duplicated: ${e.req.id} handed to ${s.by} again on ${s.conn} (before: ${seen.slice(0, i).map((p) => p.conn).join(', ')}; answered ${e.answeredAt === undefined ? 'never' : `at +${e.answeredAt}`}, seen at +${s.at})`);
      }
      if (e.generated && e.answeredAt !== undefined) {
        for (const s of seen) {
          const excuse = s.at > e.answeredAt + LATE_MARGIN_MS ? this.excuseLate?.(e.req, e.answeredAt) : undefined;
          if (excuse) this.note(`late, excused: ${excuse}`);
          else if (s.at > e.answeredAt + LATE_MARGIN_MS) v.push(`late: ${e.req.id} (sent at +${e.req.sentAt} via ${e.req.conn}) handed to ${s.by} on ${s.conn} at +${s.at}, ${s.at - e.answeredAt} ms after its caller got ${fmt(e.outcome!)}`);
        }
      }
    }
    for (const [carried, n] of this.#carried) if (n > 1) v.push(`duplicated: an answer carrying ${carried} reached ${n} callers`);
    const listed = v.length > MAX_LISTED ? [...v.slice(0, MAX_LISTED), `… and ${v.length - MAX_LISTED} more`] : v;
    return { violations: listed, violationCount: v.length, counts: sortKeys(counts), notes: Object.fromEntries(this.#notes), quiet, quietFailures, latency };
  }
}

export interface Verdict {
  readonly violations: string[];
  readonly violationCount: number;
  readonly counts: Record<string, number>;
  readonly notes: Record<string, number>;
  /** Requests sent while nothing failed: how many, how many succeeded, how many were meant to time out. */
  readonly quiet: { readonly total: number; readonly ok: number; readonly slow: number };
  /** Quiet-phase requests that did not succeed, and why (the first few). */
  readonly quietFailures: string[];
  /** The slowest answer, and how many came more than 1 s after the request timeout (a figure, not a check). */
  readonly latency: { readonly maxMs: number; readonly pastTimeout: number; readonly worst: string };
}

function hex(n: number): string {
  if (n > 0xff) return `HTTP ${n}`;
  return `0x${n.toString(16).padStart(2, '0').toUpperCase()}`;
}

function fmt(o: Outcome): string {
  return o.type === 'refused' ? `${hex(o.code)} ${o.reason}` : 'why' in o ? `${o.type} (${o.why})` : o.type;
}

function sortKeys(o: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
}

/** A small seeded PRNG (mulberry32): a run's choices are replayed from its seed. */
export class Rng {
  #s: number;
  constructor(seed: number) {
    this.#s = seed >>> 0;
  }
  next(): number {
    this.#s = (this.#s + 0x6d2b79f5) >>> 0;
    let t = this.#s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  /** One of `weights`' keys, in proportion to its weight (0 or less: never). */
  weighted<K extends string>(weights: Record<K, number>): K {
    const entries = (Object.entries(weights) as Array<[K, number]>).filter(([, w]) => w > 0);
    let r = this.next() * entries.reduce((a, [, w]) => a + w, 0);
    for (const [k, w] of entries) if ((r -= w) < 0) return k;
    return entries[entries.length - 1]![0];
  }
}
