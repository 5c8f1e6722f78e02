import t from 'tap';
import { locateJsonError } from '../../src/registry/json-error-position.js';
import { parseAclJson } from '../../src/registry/acl-file.js';

t.test('the first error of a JSON text, by line and column', async (t) => {
  const cases: Array<[string, number, number, RegExp]> = [
    ['{\n  "a": }', 2, 8, /expected a value, found "}"/],
    ['{\n "a": 1,\n}', 3, 1, /expected a property name \(no comma before "}"\)/],
    ['{"a" 1}', 1, 6, /expected ":"/],
    ['{"a": 1', 1, 8, /expected "," or "}", found the end of the file/],
    ['', 1, 1, /empty/],
    ['{"a": "x\ny"}', 1, 9, /control character/],
    ['{} x', 1, 4, /after the end/],
    ['[1, 2', 1, 6, /expected "," or "\]"/],
    ['\ufeff{}', 1, 1, /byte-order mark/],
    ["{'a': 1}", 1, 2, /double quotes/],
  ];
  for (const [text, line, column, message] of cases) {
    t.throws(() => JSON.parse(text), `${JSON.stringify(text)} is invalid JSON`);
    t.match(locateJsonError(text), { line, column, message }, JSON.stringify(text));
  }
  for (const ok of ['{}', '{"a": {"b": [1, -2.5e3, true, null, "\\u00e9\\n"]}}', ' [] ']) t.equal(locateJsonError(ok), undefined, ok);
});

t.test('parseAclJson names line and column, not a character position', async (t) => {
  const r = parseAclJson('{\n  "dev-1": { "GroupName": "Devices" "AuthKey": "00" }\n}');
  t.same(r, { error: 'not valid JSON at line 2, column 37: expected "," or "}", found "\\""' });
});
