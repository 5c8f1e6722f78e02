/**
 * Versions of node-to-node messages during a rolling upgrade (issue 12). Each node announces the
 * range of versions it speaks; two nodes talk the highest version both speak, and a node whose
 * range misses a live node's range refuses to join rather than misread or be misread.
 */
import { ErrorCode, IotsError } from '../errors.js';

/** The lowest and highest node-protocol version a node speaks (inclusive). */
export interface ProtocolRange {
  readonly min: number;
  readonly max: number;
}

/** What a node's registry record says about its versions; `protocols` is absent in records of nodes that predate ranges. */
export interface ProtocolAnnouncement {
  /** The highest version it speaks (records before ranges held only this). */
  readonly protocol: number;
  readonly protocols?: ProtocolRange;
}

/** The range a record announces: a record with a single version speaks just that one. */
export function rangeOf(a: ProtocolAnnouncement): ProtocolRange {
  return a.protocols ?? { min: a.protocol, max: a.protocol };
}

/** The announcement fields for `range`: the range, and its highest version for readers that know only `protocol`. */
export function announceRange(range: ProtocolRange): { protocol: number; protocols: ProtocolRange } {
  return { protocol: range.max, protocols: { min: range.min, max: range.max } };
}

/** The highest version both ranges hold, or undefined when they do not overlap. */
export function highestCommon(a: ProtocolRange, b: ProtocolRange): number | undefined {
  const v = Math.min(a.max, b.max);
  return v >= Math.max(a.min, b.min) ? v : undefined;
}

/** The part of `a` that `b` holds too, or undefined. */
export function intersect(a: ProtocolRange, b: ProtocolRange): ProtocolRange | undefined {
  const min = Math.max(a.min, b.min);
  const max = Math.min(a.max, b.max);
  return min <= max ? { min, max } : undefined;
}

export function formatRange(r: ProtocolRange): string {
  return r.min === r.max ? `${r.min}` : `${r.min}..${r.max}`;
}

/** The first of `others` (not `self`) whose range misses `own`: the node that keeps `self` out. */
export function firstIncompatible<N extends ProtocolAnnouncement & { readonly node: string }>(
  self: string, own: ProtocolRange, others: readonly N[],
): N | undefined {
  return others.find((n) => n.node !== self && highestCommon(own, rangeOf(n)) === undefined);
}

/** A starting node's range misses a live node's: it refuses to join (exit 2, a runtime failure: retried once the other node is gone). */
export class NodeProtocolMismatchError extends IotsError {
  readonly node: string;
  readonly own: ProtocolRange;
  readonly other: { readonly node: string; readonly address: string; readonly protocols: ProtocolRange };
  constructor(node: string, own: ProtocolRange, other: { node: string; address: string; protocols: ProtocolRange }) {
    super(ErrorCode.CLUSTER_PROTOCOL,
      `node ${node} speaks node protocol ${formatRange(own)} and cannot join: live node ${other.node} (${other.address}) speaks ${formatRange(other.protocols)}; ` +
      'a rolling upgrade must step one version at a time (upgrade or stop that node first)');
    this.name = 'NodeProtocolMismatchError';
    this.node = node;
    this.own = own;
    this.other = other;
  }
}
