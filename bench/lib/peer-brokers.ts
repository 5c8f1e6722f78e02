/**
 * The four systems the peers scenario compares, behind one interface: this daemon (the
 * daemon-main child), nats-server and mosquitto (Debian's binaries, started here on a free
 * loopback port) and aedes (aedes-main child). CPU and RSS of the binaries come from /proc;
 * the two Node brokers give process.cpuUsage() and their RSS after two forced GCs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { Child, libScript } from './child.js';
import { benchConfig } from './config.js';
import { startDaemonProcess } from './daemon-process.js';
import { procCpuMicros, procRssBytes } from './proc-stat.js';
import { freePort } from './redis-server.js';

export type System = 'daemon' | 'nats' | 'mosquitto' | 'aedes';
export const SYSTEMS: readonly System[] = ['daemon', 'nats', 'mosquitto', 'aedes'];
export const SYSTEM_TITLES: Readonly<Record<System, string>> = { daemon: 'this daemon', nats: 'NATS', mosquitto: 'Mosquitto', aedes: 'aedes' };

/** The Debian packages of the peer binaries, and the command that installs them. */
export const PEER_PACKAGES = ['nats-server', 'mosquitto'] as const;
export const INSTALL_PEERS = `apt-get install -y ${PEER_PACKAGES.join(' ')}`;
const BINARIES: Partial<Record<System, string>> = { nats: 'nats-server', mosquitto: 'mosquitto' };

export interface Broker {
  readonly system: System;
  readonly port: number;
  readonly pid: number;
  /** CPU time (user + system) used since it started, in µs. */
  cpuMicros(): Promise<number>;
  /** Resident set, in bytes (the Node brokers: after two forced GCs). */
  rssBytes(): Promise<number>;
  stop(): Promise<void>;
}

/** Absolute path of a program on PATH or in the sbin directories (Debian puts both binaries in /usr/sbin, often not on a user's PATH). */
export function findBinary(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/local/sbin', '/usr/sbin', '/sbin'];
  for (const d of dirs) {
    if (!d) continue;
    try {
      accessSync(join(d, name), constants.X_OK);
      return join(d, name);
    } catch {
      // not there
    }
  }
  return undefined;
}

/** Why a system cannot run here, or undefined when it can. */
export function missing(system: System): string | undefined {
  const bin = BINARIES[system];
  return bin && !findBinary(bin) ? `not installed (apt-get install -y ${bin})` : undefined;
}

export interface BrokerOptions {
  /** Scratch directory for configs, ACL and logs. */
  readonly dir: string;
  /** Devices the daemon's ACL must admit (the peers run without authentication, as their packages ship). */
  readonly devices: number;
  readonly cpuProfDir?: string;
}

export async function startBroker(system: System, o: BrokerOptions): Promise<Broker> {
  switch (system) {
    case 'daemon': {
      const d = await startDaemonProcess(benchConfig({ dir: o.dir, objects: o.devices }), { cpuProfDir: o.cpuProfDir });
      return {
        system, port: d.port, pid: d.pid, cpuMicros: () => d.cpuMicros(),
        rssBytes: async () => (await d.memory()).usage.rss, stop: () => d.stop(),
      };
    }
    case 'aedes': {
      const c = new Child(libScript('aedes-main'), { maxMs: 2 * 60 * 60_000 }, { execArgv: ['--expose-gc'], name: 'aedes' });
      const ready = await c.next<{ port: number; pid: number }>('ready', 20_000).catch((err: unknown) => {
        c.proc.kill('SIGKILL');
        throw err;
      });
      return {
        system, port: ready.port, pid: ready.pid, cpuMicros: async () => procCpuMicros(ready.pid),
        rssBytes: async () => {
          c.send({ type: 'mem' });
          return (await c.next<{ rss: number }>('mem', 30_000)).rss;
        },
        stop: () => c.stop(5_000),
      };
    }
    case 'nats':
    case 'mosquitto': {
      const port = await freePort();
      const bin = findBinary(BINARIES[system]!);
      if (!bin) throw new Error(`${BINARIES[system]} ${missing(system)}`);
      let args: string[];
      if (system === 'nats') args = ['-a', '127.0.0.1', '-p', String(port)];
      else {
        const conf = join(o.dir, 'mosquitto.conf');
        // Debian's defaults but anonymous on one loopback listener, no persistence, and
        // TCP_NODELAY as NATS and this daemon set it (Nagle would only add latency).
        writeFileSync(conf, [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence false', 'set_tcp_nodelay true', 'log_dest stderr', 'log_type error', ''].join('\n'));
        args = ['-c', conf];
      }
      return startBinary(system, bin, args, port);
    }
  }
}

/** Runs a broker binary with a raised descriptor limit (the idle phase holds thousands of connections); ready once its port accepts. */
async function startBinary(system: System, bin: string, args: string[], port: number): Promise<Broker> {
  const sh = 'ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$0" "$@"';
  const child = spawn('bash', ['-c', sh, bin, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => { stderr = (stderr + b.toString()).slice(-4_000); });
  // If the bench itself ends abruptly, the broker does not outlive it: the 'exit' handler for
  // an exception, the watchdog for a SIGKILL (a tap timeout), which runs no handler.
  const orphan = () => child.kill('SIGKILL');
  process.once('exit', orphan);
  const guard = watchdog(child.pid!);
  const stop = async () => {
    process.off('exit', orphan);
    guard.kill('SIGTERM');
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  };
  const deadline = Date.now() + 10_000;
  while (!(await accepts(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`${bin} did not accept on 127.0.0.1:${port} within 10 s: ${stderr.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  const pid = child.pid!;
  return { system, port, pid, cpuMicros: async () => procCpuMicros(pid), rssBytes: async () => procRssBytes(pid), stop };
}

/** A shell that ends `pid` once this process is gone, however it ended. */
function watchdog(pid: number): ChildProcess {
  const sh = `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; kill -TERM ${pid} 2>/dev/null; sleep 5; kill -KILL ${pid} 2>/dev/null`;
  const w = spawn('bash', ['-c', sh], { stdio: 'ignore' });
  w.unref();
  return w;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}
