/**
 * Where a JSON text first goes wrong, as line and column (1-based). JSON.parse's messages
 * name a character offset at best (and in Node 20 not always): an editor wants a line.
 * A small strict scanner, run only after JSON.parse has failed, so its speed does not matter.
 */
export interface JsonErrorPosition {
  readonly line: number;
  readonly column: number;
  readonly message: string;
}

class Stop {
  constructor(readonly offset: number, readonly message: string) {}
}

export function locateJsonError(text: string): JsonErrorPosition | undefined {
  let i = 0;
  const ws = () => { while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++; };
  const fail = (message: string): never => { throw new Stop(i, message); };
  const found = () => (i >= text.length ? 'the end of the file' : `${JSON.stringify(text[i])}`);
  const expect = (what: string) => fail(`expected ${what}, found ${found()}`);

  function string(): void {
    i++; // opening quote
    for (;;) {
      if (i >= text.length) fail('unterminated string');
      const c = text[i]!;
      if (c === '"') { i++; return; }
      if (c === '\\') {
        i++;
        if (text[i] === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 1, i + 5))) fail('bad \\u escape in a string');
          i += 5;
        } else if (i < text.length && '"\\/bfnrt'.includes(text[i]!)) i++;
        else fail('bad escape in a string');
      } else if (c < ' ') fail('control character in a string (newlines must be written \\n)');
      else i++;
    }
  }

  function value(): void {
    ws();
    const c = text[i];
    if (c === '{') return object();
    if (c === '[') return array();
    if (c === '"') return string();
    const m = /^(?:-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i, i + 400));
    if (!m) expect('a value');
    i += m![0].length;
  }

  function object(): void {
    i++;
    ws();
    if (text[i] === '}') { i++; return; }
    for (;;) {
      ws();
      if (text[i] !== '"') expect(text[i] === '}' ? 'a property name (no comma before "}")' : 'a property name in double quotes');
      string();
      ws();
      if (text[i] !== ':') expect('":"');
      i++;
      value();
      ws();
      if (text[i] === ',') { i++; continue; }
      if (text[i] === '}') { i++; return; }
      expect('"," or "}"');
    }
  }

  function array(): void {
    i++;
    ws();
    if (text[i] === ']') { i++; return; }
    for (;;) {
      value();
      ws();
      if (text[i] === ',') { i++; continue; }
      if (text[i] === ']') { i++; return; }
      expect('"," or "]"');
    }
  }

  try {
    if (text.charCodeAt(0) === 0xfeff) fail('the file starts with a byte-order mark (save it as UTF-8 without BOM)');
    ws();
    if (i >= text.length) fail('the file is empty (an empty ACL is {})');
    value();
    ws();
    if (i < text.length) fail(`unexpected ${found()} after the end of the JSON value`);
    return undefined;
  } catch (err) {
    if (!(err instanceof Stop)) throw err;
    const before = text.slice(0, err.offset);
    const line = before.split('\n').length;
    const column = err.offset - (before.lastIndexOf('\n') + 1) + 1;
    return { line, column, message: err.message };
  }
}
