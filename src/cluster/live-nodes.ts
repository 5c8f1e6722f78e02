import type { Logger } from 'pino';
import { ErrorCode, IotsError } from '../errors.js';
import { formatRange, highestCommon, intersect, rangeOf, type ProtocolRange } from '../registry/node-protocol.js';
import type { NodeInfo } from '../registry/node-registry.js';
import { NODE_PROTOCOLS } from './node-messages.js';

/**
 * The live nodes as the last heartbeat tick listed them: their ids (who gets a `moved` notice),
 * the load each announced (metrics), and the node-protocol version to write to each: the highest
 * one both sides speak. Read on the hot path (one map lookup per message), written once a tick.
 */
export class LiveNodes {
  readonly self: string;
  /** What this node announces: the versions this build writes, unless a test claims another release's. */
  readonly announced: ProtocolRange;
  /** The versions this node can actually write and also announces. */
  readonly #talk: ProtocolRange | undefined;
  readonly #writes: ProtocolRange;
  readonly #log: Logger;
  #ids: ReadonlySet<string> = new Set();
  #infos: readonly NodeInfo[] = [];
  readonly #versions = new Map<string, number>();
  /** For a node not listed yet (it joined since the last tick): the highest version every listed node speaks. */
  #fallback: number;
  /** versionFor's last answer (cleared by each update). */
  #lastNode: string | undefined;
  #lastVersion = 0;
  readonly #mismatchLogged = new Set<string>();

  /** `writes`: the versions this build's codec writes (a parameter so that a test can model a build with two). */
  constructor(self: string, log: Logger, announced: ProtocolRange = NODE_PROTOCOLS, writes: ProtocolRange = NODE_PROTOCOLS) {
    this.self = self;
    this.#log = log;
    this.announced = announced;
    this.#writes = writes;
    this.#talk = intersect(announced, writes);
    this.#fallback = this.#talk?.max ?? writes.max;
  }

  /** Throws ERR_IOTS_CLUSTER_PROTOCOL when this node would announce versions this build cannot write. */
  assertWritable(): void {
    if (this.#talk) return;
    throw new IotsError(ErrorCode.CLUSTER_PROTOCOL, `node ${this.self} would announce node protocol ${formatRange(this.announced)}, but this build writes only ${formatRange(this.#writes)}`);
  }

  get ids(): ReadonlySet<string> {
    return this.#ids;
  }

  /** Every live node (this one included) with what it announced, as of the last tick. */
  get infos(): readonly NodeInfo[] {
    return this.#infos;
  }

  /** The version to write to `node`. */
  versionFor(node: string): number {
    // The node written to last, again (most messages of a turn go to one): no Map lookup.
    if (node === this.#lastNode) return this.#lastVersion;
    const v = this.#versions.get(node) ?? this.#fallback;
    this.#lastNode = node;
    this.#lastVersion = v;
    return v;
  }

  update(list: readonly NodeInfo[]): void {
    const talk = this.#talk ?? this.announced;
    this.#ids = new Set(list.map((n) => n.node));
    this.#infos = list;
    this.#versions.clear();
    this.#lastNode = undefined;
    let common: ProtocolRange | undefined = talk;
    for (const n of list) {
      if (n.node === this.self) continue;
      const theirs = rangeOf(n);
      common = common && intersect(common, theirs);
      const v = highestCommon(talk, theirs);
      if (v !== undefined) {
        this.#versions.set(n.node, v);
        continue;
      }
      // Joined without the check (a release before ranges, or a race of two starts): say so once; never misread.
      this.#versions.set(n.node, talk.max);
      if (this.#mismatchLogged.has(`${n.node}.${n.incarnation}`)) continue;
      this.#mismatchLogged.add(`${n.node}.${n.incarnation}`);
      this.#log.error({ event: 'node-protocol-mismatch', node: this.self, protocols: talk, other: n.node, otherAddress: n.address, otherProtocols: theirs },
        `live node ${n.node} (${n.address}) speaks node protocol ${formatRange(theirs)}, this node ${formatRange(talk)}: their messages are dropped on both sides; stop one of them`);
    }
    this.#fallback = common?.max ?? talk.min;
  }
}
