#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/ (no TypeScript loader in production).
import { main } from '../dist/src/cli/main.js';

main(process.argv).then((code) => { if (typeof code === 'number') process.exitCode = code; });
