/**
 * A string's length in Unicode code points (a surrogate pair counts once), as JSON Schema's
 * minLength and maxLength count it: ajv's runtime/ucs2length, for the generated validator.
 */
export function ucs2length(str: string): number {
  const len = str.length;
  let length = 0;
  let pos = 0;
  while (pos < len) {
    length++;
    const value = str.charCodeAt(pos++);
    if (value >= 0xd800 && value <= 0xdbff && pos < len && (str.charCodeAt(pos) & 0xfc00) === 0xdc00) pos++; // a high surrogate and its low one
  }
  return length;
}
