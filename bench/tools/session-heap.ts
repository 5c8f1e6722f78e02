/**
 * `node dist/bench/tools/session-heap.js [N] [plain|tls] [OUTDIR]`: what one idle session holds
 * in the daemon's heap, by constructor (issue 14; bench/README.md "Memory"). A bench daemon
 * child (daemon-main.ts, benchConfig) holding no session writes a heap snapshot; a second one,
 * same config, opens N object sessions from two load processes (the sessions scenario's, each
 * session pinged once), writes its own; heap-diff.ts prints the difference per session, and the
 * RSS less the young generation of both daemons, after two forced GCs each.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateSelfSigned } from '../../src/tls/self-signed.js';
import { Child, libScript } from '../lib/child.js';
import { benchConfig } from '../lib/config.js';
import { startDaemonProcess } from '../lib/daemon-process.js';
import { diffGroups, formatGroups, groupSnapshot } from '../lib/heap-diff.js';
import { scratchDir } from '../lib/scenario.js';

const n = Number(process.argv[2] ?? 5_000);
const tls = process.argv[3] === 'tls';
const out = process.argv[4] ?? '/tmp/session-heap';
const SOURCES = Array.from({ length: 20 }, (_, i) => `127.0.0.${i + 1}`);

/** Resident bytes of a process by kind of mapping, from /proc/<pid>/smaps. */
function smapsRss(pid: number): { heap: number; anon: number; file: number } {
  const r = { heap: 0, anon: 0, file: 0 };
  let kind: keyof typeof r = 'anon';
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (head) kind = head[1] === '[heap]' ? 'heap' : head[1] === '' || head[1]!.startsWith('[') ? 'anon' : 'file';
    else if (line.startsWith('Rss:')) r[kind] += Number(line.split(/\s+/)[1]) * 1024;
  }
  return r;
}

async function main(): Promise<void> {
  mkdirSync(out, { recursive: true });
  const scratch = scratchDir('session-heap');
  const certs = await generateSelfSigned({ commonName: 'localhost', days: 2 });
  try {
    const config = benchConfig({ dir: scratch.dir, objects: n, tls: certs });
    const reference = await startDaemonProcess(config);
    const before = join(out, 'before.heapsnapshot');
    // Memory first: writing a snapshot grows the RSS.
    const m0 = await reference.memory();
    const s0 = smapsRss(reference.pid);
    writeFileSync(join(out, 'before.smaps'), readFileSync(`/proc/${reference.pid}/smaps`));
    await reference.heapSnapshot(before);
    await reference.stop();
    const daemon = await startDaemonProcess(config);
    const per = Math.ceil(n / 2);
    const children = [0, 1].map((p) => new Child(libScript('sessions-load-main'), {
      port: daemon.port, ca: tls ? certs.cert : undefined, from: p * per, to: Math.min(n, (p + 1) * per), localAddresses: SOURCES,
      concurrency: tls ? 64 : 128, openMs: 60_000, maxMs: 180_000,
    }, { name: `sessions-load-${p}` }));
    try {
      await Promise.all(children.map((c) => c.next('ready', 30_000)));
      for (const c of children) c.send({ type: 'go' });
      await Promise.all(children.map((c) => c.next('opened', 120_000)));
      for (const c of children) c.send({ type: 'ping' });
      await Promise.all(children.map((c) => c.next('pinged', 60_000)));
      const m1 = await daemon.memory();
      const s1 = smapsRss(daemon.pid);
      writeFileSync(join(out, 'after.smaps'), readFileSync(`/proc/${daemon.pid}/smaps`));
      const after = join(out, 'after.heapsnapshot');
      const { connections } = await daemon.heapSnapshot(after);
      const held = (m: typeof m0) => m.usage.rss - m.youngBytes;
      process.stdout.write(`${tls ? 'tls' : 'plain'}: ${connections} sessions; per session: RSS less young ${((held(m1) - held(m0)) / connections / 1024).toFixed(2)} KiB, `
        + `heapUsed ${((m1.usage.heapUsed - m0.usage.heapUsed) / connections).toFixed(0)} B, external ${((m1.usage.external - m0.usage.external) / connections).toFixed(0)} B, `
        + `arrayBuffers ${((m1.usage.arrayBuffers - m0.usage.arrayBuffers) / connections).toFixed(0)} B\n`);
      const kib = (a: number, b: number) => ((a - b) / connections / 1024).toFixed(2);
      process.stdout.write(`  RSS by mapping, KiB per session: malloc's [heap] ${kib(s1.heap, s0.heap)}, other anonymous (V8's pages, other arenas) ${kib(s1.anon, s0.anon)}, file-backed ${kib(s1.file, s0.file)}; `
        + `V8 heapTotal ${kib(m1.usage.heapTotal, m0.usage.heapTotal)}, young ${kib(m1.youngBytes, m0.youngBytes)}\n`);
      process.stdout.write(formatGroups(diffGroups(groupSnapshot(before), groupSnapshot(after), connections), 70));
      for (const c of children) c.send({ type: 'close' });
      await Promise.all(children.map((c) => c.next('closed', 60_000)));
    } finally {
      await Promise.all(children.map((c) => c.stop(10_000)));
      await daemon.stop();
    }
  } finally {
    scratch.cleanup();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
