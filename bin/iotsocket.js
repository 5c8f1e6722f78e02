#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/ (no TypeScript loader in production). The young
// generation's growth and V8's tier-up are held before the program loads (young-generation.ts
// and tier-up.ts say why).
import { holdYoungGeneration } from '../dist/src/cli/young-generation.js';
import { holdTierUp } from '../dist/src/cli/tier-up.js';

holdYoungGeneration();
holdTierUp();
const { main } = await import('../dist/src/cli/main.js');
main(process.argv).then((code) => { if (typeof code === 'number') process.exitCode = code; });
