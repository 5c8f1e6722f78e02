import type { Duplex } from 'node:stream';
import { ClientError, ClientErrorCode, toClientError } from './errors.js';

/** Returns the decoded value and the bytes it used, or undefined while more bytes are needed. */
export type Decoder<T> = (buf: Buffer) => { value: T; length: number } | undefined;

const EMPTY = Buffer.alloc(0);

/**
 * Reads the handshake's fixed messages off a stream, whatever the split of the bytes.
 * `detach()` hands the stream back paused, with the bytes read past the last message.
 */
export class ByteReader {
  readonly #stream: Duplex;
  #buf: Buffer = EMPTY;
  #failure: ClientError | undefined;
  #wake: (() => void) | undefined;

  readonly #onData = (chunk: Buffer): void => {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    this.#notify();
  };
  readonly #onError = (err: Error): void => {
    this.fail(toClientError(err, ClientErrorCode.CLOSED, 'connection failed during the handshake'));
  };
  readonly #onEnd = (): void => {
    this.fail(new ClientError(ClientErrorCode.CLOSED, 'connection closed during the handshake'));
  };

  constructor(stream: Duplex) {
    this.#stream = stream;
    stream.on('data', this.#onData);
    stream.on('error', this.#onError);
    stream.on('end', this.#onEnd);
    stream.on('close', this.#onEnd);
  }

  /** Makes the current and every later read() reject with `err` (the first failure wins). */
  fail(err: ClientError): void {
    this.#failure ??= err;
    this.#notify();
  }

  /** Waits until `decode` accepts the buffered bytes; bytes already received win over a later failure. */
  async read<T>(decode: Decoder<T>): Promise<T> {
    for (;;) {
      const r = decode(this.#buf);
      if (r) {
        this.#buf = this.#buf.subarray(r.length);
        return r.value;
      }
      if (this.#failure) throw this.#failure;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    }
  }

  /** Stops reading: pauses the stream, removes the listeners and returns the unread bytes. */
  detach(): Buffer {
    this.#stream.pause();
    this.#stream.off('data', this.#onData);
    this.#stream.off('error', this.#onError);
    this.#stream.off('end', this.#onEnd);
    this.#stream.off('close', this.#onEnd);
    const rest = this.#buf;
    this.#buf = EMPTY;
    return rest;
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}

/** A decoder for exactly `n` bytes (copied, so the caller may keep them). */
export function exactly(n: number): Decoder<Buffer> {
  return (buf) => (buf.length >= n ? { value: Buffer.from(buf.subarray(0, n)), length: n } : undefined);
}
