import type { ErrorObject } from 'ajv';

/** An ajv error restated for an operator: the key path it is about and a plain message. */
export interface SchemaIssue {
  readonly path: string[];
  readonly message: string;
}

function pointerToPath(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function describe(e: ErrorObject): string {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'type':
      // An all-digit hex key reads as a YAML number unless quoted.
      if (e.instancePath.endsWith('/authKey')) return 'must be 32 hex digits as a string (quote it in YAML)';
      return `must be of type ${String(p.type)}`;
    case 'enum':
      return `must be one of: ${(p.allowedValues as unknown[]).join(', ')}`;
    case 'pattern':
      // The only pattern in the schema is the auth key's.
      return 'must be exactly 32 hex digits';
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
      return e.message ?? 'out of range';
    default:
      return e.message ?? `fails ${e.keyword}`;
  }
}

/** Converts ajv errors (run with allErrors) into one issue per problem, with its key path. */
export function schemaIssues(errors: readonly ErrorObject[] | null | undefined): SchemaIssue[] {
  const out: SchemaIssue[] = [];
  for (const e of errors ?? []) {
    const base = pointerToPath(e.instancePath);
    const p = e.params as Record<string, unknown>;
    if (e.keyword === 'additionalProperties') {
      out.push({ path: [...base, String(p.additionalProperty)], message: 'unknown key' });
    } else if (e.keyword === 'required') {
      out.push({ path: [...base, String(p.missingProperty)], message: 'is required' });
    } else if (e.keyword === 'propertyNames') {
      continue; // the failing keyword under propertyNames was already reported with the name
    } else if (e.propertyName !== undefined) {
      out.push({ path: [...base, e.propertyName], message: `name ${describe(e)}` });
    } else {
      out.push({ path: base, message: describe(e) });
    }
  }
  return out;
}
