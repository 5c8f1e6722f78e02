#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/ (no TypeScript loader in production). The young
// generation's growth is held before the program loads (young-generation.ts says why).
import { holdYoungGeneration } from '../dist/src/cli/young-generation.js';

holdYoungGeneration();
const { main } = await import('../dist/src/cli/main.js');
main(process.argv).then((code) => { if (typeof code === 'number') process.exitCode = code; });
