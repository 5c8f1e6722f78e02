// `npm run build` runs this (under tsx) before tsc: the standalone code of the validators ajv
// compiles from the config and HTTP body schemas, as src/**/*.generated.ts (src/validator-codegen.ts
// says why). The same schemas write the same files; a file is rewritten only when it changed.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { generatedValidatorSource } from '../src/config/compile-validator.js';
import { generatedBodyValidatorsSource } from '../src/http/compile-body-validators.js';

const OUT: Array<[string, () => string]> = [
  ['../src/config/config-validator.generated.ts', generatedValidatorSource],
  ['../src/http/body-validators.generated.ts', generatedBodyValidatorsSource],
];
for (const [rel, source] of OUT) {
  const file = fileURLToPath(new URL(rel, import.meta.url));
  const text = source();
  let old = '';
  try { old = readFileSync(file, 'utf8'); } catch { /* first build */ }
  if (text !== old) writeFileSync(file, text);
}
