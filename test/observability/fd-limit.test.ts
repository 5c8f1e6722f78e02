import t from 'tap';
import { join } from 'node:path';
import { openFilesLimit } from '../../src/observability/fd-limit.js';
import { testConfig } from '../helpers/config.js';
import { startDaemon } from '../helpers/daemon.js';

t.test('reads the soft open-file limit from a /proc/self/limits text', async (t) => {
  const dir = t.testdir({
    limits: 'Limit                     Soft Limit           Hard Limit           Units     \nMax open files            1024                 524288               files     \n',
    unlimited: 'Max open files            unlimited            unlimited            files     \n',
  });
  t.equal(openFilesLimit(join(dir, 'limits')), 1024);
  t.equal(openFilesLimit(join(dir, 'unlimited')), undefined);
  t.equal(openFilesLimit(join(dir, 'missing')), undefined);
});

t.test('the daemon warns at start when the limit cannot hold tcp.maxConnections', async (t) => {
  const limit = openFilesLimit();
  if (limit === undefined) {
    t.comment('no /proc/self/limits on this platform');
    return;
  }
  const d = await startDaemon(t, testConfig(t, { tcp: { maxConnections: limit + 1 } }));
  t.match(d.logs.find('fd-limit-low')[0], { limit, maxConnections: limit + 1 });
});
