import { accessSync, constants as fsConstants, statSync } from 'node:fs';

/** Why a file the config names cannot be read, or undefined when it can. */
export function fileProblem(file: string): string | undefined {
  try {
    accessSync(file, fsConstants.R_OK);
    return statSync(file).isFile() ? undefined : `${file} is not a regular file`;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? `file not found: ${file}` : `cannot read ${file} (${code ?? 'error'})`;
  }
}

/** True when a secret file is readable by group or others (POSIX only). */
export function readableByOthers(file: string): boolean {
  return process.platform !== 'win32' && (statSync(file).mode & 0o077) !== 0;
}
