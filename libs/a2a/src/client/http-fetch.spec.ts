import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHttpFetch } from './http-fetch.js';

type Handler = (request: IncomingMessage, body: string, response: ServerResponse) => void;

describe('createHttpFetch (against a real HTTP server)', () => {
  const routes = new Map<string, Handler>();
  const sockets = new Set<unknown>();
  let server: Server;
  let base = '';
  const httpFetch = createHttpFetch();

  beforeAll(async () => {
    server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      request.on('end', () => routes.get(request.url ?? '')?.(request, body, response));
    });
    server.on('connection', (socket) => sockets.add(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('sends method, headers and body, and reads status, headers and JSON', async () => {
    routes.set('/echo', (request, body, response) => {
      response.writeHead(201, 'Made', { 'content-type': 'application/json', 'x-seen': 'yes' });
      response.end(
        JSON.stringify({
          method: request.method,
          auth: request.headers.authorization,
          length: request.headers['content-length'],
          body: JSON.parse(body) as unknown,
        }),
      );
    });
    const payload = JSON.stringify({ text: 'grüße' });
    const response = await httpFetch(`${base}/echo`, {
      method: 'POST',
      headers: { authorization: 'Bearer k', 'content-type': 'application/json' },
      body: payload,
    });
    expect(response.status).toBe(201);
    expect(response.ok).toBe(true);
    expect(response.statusText).toBe('Made');
    expect(response.headers.get('X-Seen')).toBe('yes');
    expect(await response.json()).toEqual({
      method: 'POST',
      auth: 'Bearer k',
      length: String(Buffer.byteLength(payload)),
      body: { text: 'grüße' },
    });
  });

  it('keeps connections alive between calls', async () => {
    routes.set('/ping', (_request, _body, response) => response.end('pong'));
    const before = sockets.size;
    for (let index = 0; index < 5; index++) {
      expect(await (await httpFetch(`${base}/ping`)).text()).toBe('pong');
    }
    expect(sockets.size - before).toBeLessThanOrEqual(1);
  });

  it('waits for a slow answer longer than the idle timeout of its connection', async () => {
    const shortIdle = createHttpFetch({ idleTimeoutMs: 100 });
    routes.set('/slow-answer', (_request, _body, response) => {
      setTimeout(() => response.end('late'), 400);
    });
    expect(await (await shortIdle(`${base}/slow-answer`)).text()).toBe('late');
  });

  it('gives error answers as responses, with their body', async () => {
    routes.set('/missing', (_request, _body, response) => {
      response.writeHead(404, { 'content-type': 'text/plain' });
      response.end('no such thing');
    });
    const response = await httpFetch(`${base}/missing`);
    expect(response.ok).toBe(false);
    expect(response.status).toBe(404);
    expect(await response.text()).toBe('no such thing');
  });

  it('streams an event stream as it is written', async () => {
    let finish: (() => void) | undefined;
    routes.set('/events', (_request, _body, response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.write('data: first\n\n');
      finish = () => response.end('data: second\n\n');
    });
    const response = await httpFetch(`${base}/events`);
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toBe('data: first\n\n');
    finish!();
    let rest = '';
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read())
      rest += new TextDecoder().decode(chunk.value);
    expect(rest).toBe('data: second\n\n');
  });

  it('follows a redirect as fetch does', async () => {
    routes.set('/old', (_request, _body, response) => {
      response.writeHead(307, { location: '/new' });
      response.end();
    });
    routes.set('/new', (request, body, response) => response.end(`${request.method} ${body}`));
    const response = await httpFetch(`${base}/old`, { method: 'POST', body: 'again' });
    expect(await response.text()).toBe('POST again');
  });

  it('rejects like fetch: a refused connection with its cause, an aborted call with its reason', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const refused = await httpFetch(`http://127.0.0.1:${port}/`).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(TypeError);
    expect((refused as { cause: { code: string } }).cause.code).toBe('ECONNREFUSED');

    routes.set('/slow', () => undefined);
    const timedOut = await httpFetch(`${base}/slow`, { signal: AbortSignal.timeout(100) }).catch(
      (error: unknown) => error,
    );
    expect((timedOut as Error).name).toBe('TimeoutError');

    const controller = new AbortController();
    controller.abort(new Error('stop'));
    await expect(httpFetch(`${base}/ping`, { signal: controller.signal })).rejects.toThrow('stop');
  });
});
