/**
 * Child process for udp-webhook: the central's telemetry webhook receiver. A node:http server
 * that answers every POST 200 with an empty body, counts bodies that are telemetry
 * (`{"UID", "Payload", "Format"}`), and counts TCP connections ('connection' events): with
 * a keep-alive pool that number stays at the pool's size, not at the POST count.
 */
import { createServer } from 'node:http';
import { failChild, lifeline, serveHttpChild, toParent, type Msg } from './child.js';

async function main(): Promise<void> {
  lifeline(2 * 60 * 60_000);
  let posts = 0;
  let bad = 0;
  let connections = 0;
  const server = createServer({ keepAliveTimeout: 30_000 }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { UID?: unknown; Payload?: unknown };
        if (typeof body.UID === 'string' && body.Payload !== undefined) posts++;
        else bad++;
      } catch {
        bad++;
      }
      res.writeHead(200, { 'Content-Length': 0 }).end();
    });
  });
  server.on('connection', () => connections++);
  await serveHttpChild(server, (m: Msg) => {
    if (m.type === 'count') toParent({ type: 'count', posts, bad, connections });
  });
}

main().catch(failChild);
