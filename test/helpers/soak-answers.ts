import { ClientErrorCode, decodePayloadJson, type ResponseResult } from '../../src/client/index.js';
import type { ChaosModel, SentRequest } from './chaos-model.js';
import type { Disturbances, Scope } from './disturbances.js';
import type { HttpAnswer } from './http.js';

/**
 * How the soak judges each answer a caller got: its object's echo (checked by the chaos model for
 * id and answerer), an explicit refusal that the moment allows (a disturbance of the fleet or of
 * the target overlapping the request's life), an abandonment (the caller's own connection or node
 * died), or a loss.
 */
export class AnswerJudge {
  constructor(readonly m: ChaosModel, readonly dist: Disturbances, readonly now: () => number, readonly deadlineMs: number) {}

  /** A refusal is allowed only while the fleet or the request's target was disturbed (or within the grace after). */
  refused(req: SentRequest, code: number, reason: string, extraScopes: readonly Scope[] = []): void {
    this.m.answered(req.id, { type: 'refused', code, reason }, true);
    const excuse = this.dist.overlapping(['fleet', req.target, ...extraScopes], req.sentAt, this.now());
    const label = code > 0xff ? `HTTP ${code}` : `0x${code.toString(16).toUpperCase()}`;
    if (!excuse) this.m.violation(`refused with nothing failing: ${req.id} (${req.kind} via ${req.conn} to ${req.target}, sent at +${req.sentAt}) got ${label} ${reason} at +${this.now()}`);
  }

  tcpAnswer(req: SentRequest, r: ResponseResult): void {
    if (r.code === 0) {
      let body: { id?: unknown; by?: unknown } = {};
      try {
        body = decodePayloadJson(r.payload);
      } catch { /* judged below: it carries no id */ }
      return this.m.success(req.id, body.id, body.by);
    }
    if ((r.code === 0xa0 || r.code === 0xa1) && r.payload.data.length === 0) return this.refused(req, r.code, 'tcp');
    // 0xA2: the central's new connection reused a tracking number still in flight from its old one.
    if (r.code === 0xa2 && r.payload.data.length === 0) return this.refused(req, r.code, 'tcp', ['central']);
    this.m.answered(req.id, { type: 'wrong', why: `code ${r.code}` });
    this.m.violation(`${req.id}: unexpected answer code 0x${r.code.toString(16)} with ${r.payload.data.length} payload bytes`);
  }

  tcpFailed(req: SentRequest, err: { code?: string; message?: string }): void {
    if (err.code === ClientErrorCode.CLOSED) return this.m.answered(req.id, { type: 'abandoned', why: 'its connection ended' });
    if (err.code === ClientErrorCode.TIMEOUT) return this.m.answered(req.id, { type: 'lost', why: `no answer within ${this.deadlineMs} ms` });
    this.m.answered(req.id, { type: 'lost', why: `request failed: ${err.message}` });
  }

  /** The call itself failed: abandoned if its node was killed meanwhile, else lost. */
  httpFailed(req: SentRequest, err: Error, nodeKilled: boolean): void {
    if (nodeKilled) return this.m.answered(req.id, { type: 'abandoned', why: 'the node it was posted to was killed' });
    this.m.answered(req.id, { type: 'lost', why: err.name === 'TimeoutError' ? `no HTTP answer within ${this.deadlineMs} ms` : `HTTP transport failed at a live node: ${err.message}` });
  }

  httpAnswer(req: SentRequest, r: HttpAnswer, nodeRestarted: boolean): void {
    const j = r.json as { Code?: number; Payload?: { id?: unknown; by?: unknown } | null; Reason?: string } | undefined;
    if (r.status === 200 && j?.Code === 0 && j.Reason === undefined) return this.m.success(req.id, j.Payload?.id, j.Payload?.by);
    if (r.status === 200 && typeof j?.Reason === 'string' && (j.Code === 0xa0 || j.Code === 0xa1)) return this.refused(req, j.Code, j.Reason);
    if (r.status === 503 && typeof j?.Reason === 'string') return this.refused(req, 503, j.Reason);
    if (r.status === 503 && nodeRestarted) return this.m.answered(req.id, { type: 'abandoned', why: 'its node was shutting down' });
    this.m.answered(req.id, { type: 'wrong', why: `HTTP ${r.status}` });
    this.m.violation(`${req.id}: unexpected HTTP answer ${r.status} ${r.text.slice(0, 200)}`);
  }
}
