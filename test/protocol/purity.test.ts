import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

// GUIDE habit 1: the codec is pure. Only node:crypto (HMAC) is allowed from node builtins.
t.test('src/protocol imports no I/O, timers or logger', async (t) => {
  const dir = join(import.meta.dirname, '../../src/protocol');
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
    const src = readFileSync(join(dir, f), 'utf8');
    const imports = [...src.matchAll(/from\s+'([^']+)'/g)].map((m) => m[1]!);
    for (const i of imports) t.ok(i.startsWith('./') || i === 'node:crypto', `${f} imports ${i}`);
    t.notMatch(src, /\b(setTimeout|setInterval|setImmediate|process\.)/, `${f} uses no timers or process`);
  }
});
