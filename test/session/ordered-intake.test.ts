import t from 'tap';
import { ToT, type Transmission } from '../../src/protocol/index.js';
import { OrderedIntake } from '../../src/session/ordered-intake.js';

function deferred() {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => { resolve = res; reject = rej; });
  return { promise, resolve, reject };
}
const tick = () => new Promise((r) => setImmediate(r));

t.test('transmissions after a held step run after it, in arrival order, and reading pauses meanwhile', async (t) => {
  const seen: string[] = [];
  const link = { paused: 0, resumed: 0, pauseReading() { this.paused++; }, resumeReading() { this.resumed++; } };
  const steps = [deferred(), deferred()];
  let next = 0;
  const intake = new OrderedIntake((x: Transmission) => {
    seen.push(x.type === ToT.ACL ? `acl${next}` : x.type === ToT.PING ? 'ping' : 'pong');
    if (x.type === ToT.ACL) intake.holdUntil(steps[next++]!.promise);
  }, link);
  const acl: Transmission = { type: ToT.ACL, entries: [] };
  intake.push(acl);
  intake.push({ type: ToT.PING });
  intake.push(acl); // a second ACL among the held ones
  intake.push({ type: ToT.PONG });
  t.same(seen, ['acl0'], 'nothing after the ACL runs while it is held');
  t.same([link.paused, link.resumed, intake.holding], [1, 0, true]);

  steps[0]!.reject(new Error('write failed'));
  await tick();
  t.same(seen, ['acl0', 'ping', 'acl1'], 'a failed step releases too; the next ACL holds the rest again');
  t.equal(link.resumed, 0, 'still paused behind the second ACL');

  steps[1]!.resolve();
  await tick();
  t.same(seen, ['acl0', 'ping', 'acl1', 'pong']);
  t.same([link.resumed, intake.holding], [1, false], 'reading resumes once nothing is held');
  intake.push({ type: ToT.PING });
  t.equal(seen.at(-1), 'ping', 'not holding: handled at once');
});
