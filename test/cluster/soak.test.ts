import t from 'tap';
import { OBJECTS, REQUEST_TIMEOUT_SEC, runSoak, type SoakOptions } from '../helpers/soak-world.js';

/**
 * The soak (issue 12 §3, CLUSTER.md guarantees 2, 4, 5, 8): three real daemon processes on one
 * real Redis (AOF) for a set time, nodes killed with SIGKILL and started again, Redis restarted
 * twice, devices and the central moving and reconnecting through any live node, TCP and HTTP
 * requests to the objects, UDP telemetry to any node; checked against the chaos model (0 lost,
 * 0 duplicated, 0 misrouted, and a refusal only while something was failing), then measured:
 * RSS and Redis memory flat after warm-up, descriptors back to baseline, no key left without an
 * owner or expiry. See docs/cluster-chaos.md, "The soak".
 *
 * `npm test`: about 30 s of traffic. `npm run test:stress` (IOTS_STRESS=1): 10 minutes.
 * IOTS_SOAK_SEC=<seconds> sets another length; SOAK_SEED=<n> another seed.
 */

const stress = process.env.IOTS_STRESS === '1';
const durationMs = Number(process.env.IOTS_SOAK_SEC ?? (stress ? 600 : 30)) * 1000;
const seed = Number(process.env.SOAK_SEED ?? 20261212);
const shape: SoakOptions = durationMs >= 120_000
  ? { seed, durationMs, faultEveryMs: [6_000, 15_000], requestGapMs: 40 }
  : { seed, durationMs, faultEveryMs: [2_000, 4_000], requestGapMs: 40 };
const MiB = 1024;
/** Generous on a loaded 2-core machine: GC and allocator noise are tens of MiB; a leak over the run is more. */
const rssBound = (warmKiB: number) => Math.round(warmKiB * 1.5 + 32 * MiB);
const redisBound = (warm: number) => Math.round(warm * 1.5 + 2 * 1024 * 1024);
/** Keys the fleet keeps by itself with no expiry besides those there at the start: the token index (its members lapse with their tokens). */
const FLEET_INDEXES = ['soak:tokens'];

t.test(`soak, ${durationMs / 1000} s, seed ${seed}: real processes, kill -9, Redis restarts; 0 lost, duplicated, misrouted; flat memory, descriptors back`, { timeout: durationMs + 240_000 }, async (t) => {
  const r = await runSoak(t, shape);
  const v = r.verdict;
  const n = (k: string) => Object.entries(v.counts).filter(([c]) => c.startsWith(k)).reduce((a, [, x]) => a + x, 0);
  const answered = (k: string) => n(`${k}: ok`) + n(`${k}: refused`) + n(`${k}: crossed`);
  t.comment(`SOAK ${r.elapsedMs} ms: requests tcp ${r.requests.tcp} sent / ${answered('central-tcp')} answered, http ${r.requests.http} sent / ${answered('central-http')} answered; `
    + `faults ${JSON.stringify(r.faults)}; datagrams ${r.telemetry.sent} sent / ${r.telemetry.central + r.telemetry.webhook} counted (central ${r.telemetry.central}, webhook ${r.telemetry.webhook}); `
    + `rss KiB ${r.nodes.map((x) => `${x.id} ${x.rssWarmKiB}→${x.rssEndKiB}`).join(', ')}; redis used_memory ${r.redis.memWarm}→${r.redis.memEnd} B; `
    + `fds ${r.nodes.map((x) => `${x.id} ${x.fdsBaseline}→${x.fdsEnd}`).join(', ')}; keys without expiry ${r.redis.persistentBaseline.length}→${r.redis.persistentEnd.length}, with expiry at the end ${r.redis.expiringEnd}, token index ${r.redis.tokenIndex}`);
  t.comment(`  phases ended at (ms): ${JSON.stringify(r.phases)}`);
  t.comment(`  stalls (Redis PING or this process's timers ≥ 250 ms late, outside the planned Redis restarts): ${r.stalls.count}, longest ${r.stalls.longestMs} ms${r.stalls.seen.length ? `: ${r.stalls.seen.join('; ')}` : ''}`);
  for (const [k, x] of Object.entries(v.counts)) t.comment(`  ${k}: ${x}`);
  for (const [k, x] of Object.entries(v.notes)) t.comment(`  note: ${k}: ${x}`);
  t.comment(`  slowest answer ${v.latency.maxMs} ms (${v.latency.worst}); ${v.latency.pastTimeout} answered more than 1 s past the ${REQUEST_TIMEOUT_SEC} s request timeout`);
  t.comment(`  datagrams at the nodes' current runs: ${JSON.stringify(r.telemetry.atNodes)}`);
  if (v.violationCount || r.telemetry.violations.length || r.telemetry.calmMissing.length) t.comment(`  trace:\n${r.trace.map((l) => `    ${l}`).join('\n')}`);

  t.same(v.violations, [], `requests: no violation (${v.violationCount}): lost, duplicated, misrouted, late, refused with nothing failing, unexpected closes, left tracked`);
  t.ok(r.requests.tcp >= 50 && r.requests.http >= 50, `enough traffic to judge (${r.requests.tcp} TCP, ${r.requests.http} HTTP)`);
  t.ok(n('central-tcp: ok') + n('central-http: ok') >= 0.5 * (r.requests.tcp + r.requests.http), `most requests answered by their object (${n('central-tcp: ok') + n('central-http: ok')})`);
  t.ok((r.faults['kill -9'] ?? 0) >= 1 && r.faults['redis restarts'] === 2, `faults happened: ${JSON.stringify(r.faults)}`);
  for (const x of r.nodes) t.same(x.crashes, [], `${x.id} never exited by itself (${x.starts} starts)`);

  t.same(r.telemetry.violations, [], 'telemetry: none duplicated or misattributed');
  t.ok(r.telemetry.calmSent >= 10, `telemetry sent with nothing failing: ${r.telemetry.calmSent}`);
  t.same(r.telemetry.calmMissing, [], `telemetry sent with nothing failing: all counted at the central or the webhook (${r.telemetry.calmSent - r.telemetry.calmMissing.length} of ${r.telemetry.calmSent})`);

  for (const x of r.nodes) {
    t.ok(x.rssEndKiB > 0 && x.rssEndKiB <= rssBound(x.rssWarmKiB), `${x.id} RSS flat after warm-up: ${x.rssWarmKiB} → ${x.rssEndKiB} KiB (bound ${rssBound(x.rssWarmKiB)})`);
    // Between live nodes the direct links stay open (one each way per peer), opened after the baseline was read.
    const links = 2 * (r.nodes.length - 1);
    t.ok(x.fdsEnd <= x.fdsBaseline + links, `${x.id} descriptors back to baseline plus its ${links} node links: ${x.fdsBaseline} → ${x.fdsEnd} (${JSON.stringify(x.fdsBaselineKinds)} → ${JSON.stringify(x.fdsEndKinds)})`);
  }
  t.ok(r.redis.memEnd <= redisBound(r.redis.memWarm), `Redis used_memory flat after warm-up: ${r.redis.memWarm} → ${r.redis.memEnd} B (bound ${redisBound(r.redis.memWarm)})`);
  t.equal(r.redis.sessionsLeft, 0, 'no session entry left once every session ended');
  t.ok(r.redis.tokenIndex <= 4 * OBJECTS, `the token index stays bounded: ${r.redis.tokenIndex} members for ${OBJECTS} objects (at most two live tokens each)`);
  const extra = r.redis.persistentEnd.filter((k) => !r.redis.persistentBaseline.includes(k) && !FLEET_INDEXES.includes(k));
  t.same(extra, [], `every key has an owner or an expiry: no key without expiry beyond the fleet's own (${r.redis.persistentBaseline.join(', ')})`);
});
