/**
 * Child process: the http-rr baseline. A bare node:http server that answers `POST /request`
 * itself with `200 {"Code": 0, "Payload", "Format"}` taken from the body (JSON.parse and
 * JSON.stringify, keep-alive): the floor for any Node process serving this API, without
 * routing, validation, tracking or an object behind it.
 */
import { createServer } from 'node:http';
import { failChild, lifeline, serveHttpChild, toParent, type Msg } from './child.js';

async function main(): Promise<void> {
  lifeline(2 * 60 * 60_000);
  const server = createServer({ keepAliveTimeout: 30_000 }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let text: string;
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { Payload?: unknown; Format?: unknown };
        text = JSON.stringify({ Code: 0, Payload: body.Payload, Format: body.Format });
      } catch {
        res.writeHead(400).end();
        return;
      }
      res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) }).end(text);
    });
  });
  await serveHttpChild(server, (m: Msg) => {
    if (m.type !== 'cpu') return;
    const u = process.cpuUsage();
    toParent({ type: 'cpu', micros: u.user + u.system });
  });
}

main().catch(failChild);
