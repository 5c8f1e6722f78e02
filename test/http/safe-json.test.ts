import t, { type Test } from 'tap';
import { jsonDepth, parseJsonBody } from '../../src/http/safe-json.js';

const parse = (s: string | Buffer) => parseJsonBody(Buffer.isBuffer(s) ? s : Buffer.from(s), 32);
const refused = (t: Test, s: string | Buffer, name: string) => t.throws(() => parse(s), { code: 'ERR_IOTS_HTTP_BAD_JSON' }, name);

t.test('jsonDepth counts nesting outside strings', async (t) => {
  t.equal(jsonDepth('1'), 0);
  t.equal(jsonDepth('{"a":[1,{"b":[]}]}'), 4);
  t.equal(jsonDepth('["[[[{{{", "\\"[[["]'), 1, 'brackets and escaped quotes inside strings are skipped');
});

t.test('depth limit 32, checked before parsing', async (t) => {
  t.same(parse('['.repeat(32) + ']'.repeat(32)), JSON.parse('['.repeat(32) + ']'.repeat(32)), '32 levels parse');
  refused(t, '['.repeat(33) + ']'.repeat(33), '33 levels refused');
  refused(t, '['.repeat(100_000), 'a very deep unterminated text is refused without recursion');
});

t.test('prototype poisoning (secure-json-parse rules)', async (t) => {
  refused(t, '{"__proto__":{"x":1}}', '__proto__ at the top');
  refused(t, '{"a":[{"b":{"__proto__":null}}]}', '__proto__ deep inside');
  refused(t, '{"\\u005f\\u005fproto__":1}', '__proto__ spelled with escapes');
  refused(t, '{"constructor":{"prototype":{"x":1}}}', 'constructor.prototype');
  t.same(parse('{"constructor":{"name":"x"},"proto":1}'), { constructor: { name: 'x' }, proto: 1 }, 'harmless look-alikes pass');
  t.same(parse('"__proto__"'), '__proto__', 'as a string value it is harmless');
  t.equal(({} as Record<string, unknown>).x, undefined, 'Object.prototype untouched');
});

t.test('syntax and encoding', async (t) => {
  refused(t, '', 'empty');
  refused(t, '{"a":1', 'truncated');
  refused(t, '1 2', 'two values');
  refused(t, Buffer.from([0x22, 0xc3, 0x28, 0x22]), 'invalid UTF-8');
  t.equal(parse('\ufeff"x"'), 'x', 'a leading BOM is tolerated');
});
