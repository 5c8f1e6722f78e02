// The secret's form is checked where the config is read; the webhooks only sign with its bytes.

export const WEBHOOK_SECRET_PREFIX = 'whsec_';
/** The spec's bounds for a secret's decoded length. */
export const WEBHOOK_SECRET_MIN_BYTES = 24;
export const WEBHOOK_SECRET_MAX_BYTES = 64;

const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * The key bytes of `whsec_<base64>`, or why the text is not one. A secret without the prefix
 * is refused, not guessed at: reading it as UTF-8 or as base64 would each be right for some
 * senders and silently wrong for others, and a wrong guess only shows as failed verifications.
 */
export function decodeWebhookSecret(text: string): Buffer | string {
  if (!text.startsWith(WEBHOOK_SECRET_PREFIX)) return `must start with "${WEBHOOK_SECRET_PREFIX}" followed by base64 (the Standard Webhooks form)`;
  const b64 = text.slice(WEBHOOK_SECRET_PREFIX.length);
  if (b64 === '' || !STRICT_BASE64.test(b64)) return `the part after "${WEBHOOK_SECRET_PREFIX}" must be standard base64 (A-Z a-z 0-9 + /, = padding)`;
  const key = Buffer.from(b64, 'base64');
  if (key.length < WEBHOOK_SECRET_MIN_BYTES || key.length > WEBHOOK_SECRET_MAX_BYTES) {
    return `must decode to ${WEBHOOK_SECRET_MIN_BYTES}-${WEBHOOK_SECRET_MAX_BYTES} bytes, not ${key.length}`;
  }
  return key;
}
