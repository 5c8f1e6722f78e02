import type { ValidateFunction } from 'ajv';
import { validate } from './config-validator.generated.js';
import type { RawConfig } from './schema.js';

/**
 * The config validator, compiled at build time (compile-validator.ts says why). One function
 * for the process: its `errors` are those of the last call, read right after it (synchronous).
 * Fills in defaults in place.
 */
export const validateConfig = validate as unknown as ValidateFunction<RawConfig>;
