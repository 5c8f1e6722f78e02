import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { Config } from '../config/types.js';

/**
 * The soft limit on open files (Linux: /proc/self/limits), or undefined elsewhere. Running out
 * of descriptors is invisible to the daemon (libuv closes the pending clients itself), so the
 * start warns when the limit cannot hold what the config can use (descriptorsNeeded). Node
 * raises its soft limit to the hard one at startup, so this is in effect the hard limit: only
 * raising that (root's `ulimit -n`, LimitNOFILE, docker --ulimit) gives the daemon more.
 */
export function openFilesLimit(procLimits = '/proc/self/limits'): number | undefined {
  try {
    const line = readFileSync(procLimits, 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const soft = line?.split(/\s{2,}/)[1];
    return soft === undefined || soft === 'unlimited' ? undefined : Number(soft);
  } catch {
    return undefined;
  }
}

/** Linux's default net.ipv4.ip_local_port_range, 32768-60999. */
const DEFAULT_EPHEMERAL_PORTS = 28_232;

/** Ports the kernel hands to outgoing connections (net.ipv4.ip_local_port_range), the default elsewhere. */
export function ephemeralPortCount(procRange = '/proc/sys/net/ipv4/ip_local_port_range'): number {
  try {
    const [low, high] = readFileSync(procRange, 'utf8').trim().split(/\s+/).map(Number);
    return low !== undefined && high !== undefined && high >= low ? high - low + 1 : DEFAULT_EPHEMERAL_PORTS;
  } catch {
    return DEFAULT_EPHEMERAL_PORTS;
  }
}

/** 127.0.0.0/8, ::1 (and IPv4-mapped 127.x) or `localhost`: only this host can connect. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  return isIP(v4) === 4 && v4.startsWith('127.');
}

/** Listeners, the ACL and log files, stdio and libuv's own descriptors, with room to spare. */
const FD_BASE = 100;

export interface DescriptorNeed {
  total: number;
  tcp: number;
  http: number;
  webhooks: number;
  base: number;
  /** The listeners whose count is capped by the loopback ephemeral ports rather than the config. */
  loopbackCapped: Array<'tcp' | 'http'>;
}

/**
 * Descriptors the daemon can really hold at once under `config`: one per TCP session, one per
 * held HTTP request (each is an open connection), the webhook pools (one per hook and origin,
 * `connections` sockets each), and a base. What `LimitNOFILE` must cover.
 *
 * The rule for "really": a listener bound to a loopback address only ever sees this host's
 * clients, and each of them connects from the loopback address through an ephemeral port
 * (the kernel keeps the 4-tuple unique), so it cannot hold more connections than there are
 * ephemeral ports, whatever tcp.maxConnections or http.maxHeldRequests allow. A listener on
 * any other address can be filled up to the configured maximum.
 */
export function descriptorsNeeded(config: Config, ephemeralPorts = ephemeralPortCount()): DescriptorNeed {
  const w = config.central.webhooks;
  const hooks = [w.request, w.telemetry, w.presence].filter((u) => u !== undefined).length;
  const loopbackCapped: DescriptorNeed['loopbackCapped'] = [];
  const reach = (name: 'tcp' | 'http', host: string, max: number) => {
    if (!isLoopbackHost(host) || max <= ephemeralPorts) return max;
    loopbackCapped.push(name);
    return ephemeralPorts;
  };
  const tcp = reach('tcp', config.tcp.host, config.tcp.maxConnections);
  const http = config.http.enabled ? reach('http', config.http.host, config.http.maxHeldRequests) : 0;
  const webhooks = hooks * w.connections;
  return { total: tcp + http + webhooks + FD_BASE, tcp, http, webhooks, base: FD_BASE, loopbackCapped };
}

/**
 * The warning's text: what is short, where the number comes from, and how to raise the limit
 * where the daemon actually runs (the unit, a container, a shell). Undefined when it fits.
 */
export function fdLimitAdvice(limit: number | undefined, need: DescriptorNeed, ephemeralPorts = ephemeralPortCount()): string | undefined {
  if (limit === undefined || limit >= need.total) return undefined;
  const suggest = Math.ceil(need.total / 1000) * 1000;
  const capped = need.loopbackCapped.length ? ` (${need.loopbackCapped.join(' and ')} on loopback: at most the ${ephemeralPorts} ephemeral ports)` : '';
  return `open-file limit ${limit} is below the ${need.total} descriptors this config can use: `
    + `${need.tcp} TCP sessions (tcp.maxConnections) + ${need.http} held HTTP requests (http.maxHeldRequests) + webhook pools ${need.webhooks} + ${need.base}${capped}. `
    + `Connections past the limit are dropped without an answer. Raise the hard limit to ${suggest}: LimitNOFILE=${suggest} in the systemd unit, `
    + `docker run --ulimit nofile=${suggest}, or \`ulimit -n ${suggest}\` as root (or nofile in /etc/security/limits.conf) in the shell that starts it `
    + `(Node already raises its soft limit to the hard one); or lower those keys`;
}
