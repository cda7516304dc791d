import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export interface HttpFetchOptions {
  /** Most connections per origin (default 256). */
  readonly maxSockets?: number;
  /**
   * An idle connection is closed after this long (default 4 s), before the
   * server closes it (Node's servers wait 5 s), so that a request never goes
   * out on a connection the server is closing.
   */
  readonly idleTimeoutMs?: number;
}

/**
 * A response whose body has been read into memory: its `text()`, `json()`
 * and `arrayBuffer()` decode the buffer directly instead of streaming it
 * again through a web stream.
 */
function bufferedResponse(buffer: Buffer, init: ResponseInit): Response {
  const response = new Response(null, init);
  const text = () => Promise.resolve(buffer.toString('utf8'));
  Object.defineProperties(response, {
    text: { value: text },
    json: { value: () => text().then((decoded) => JSON.parse(decoded) as unknown) },
    arrayBuffer: {
      value: () =>
        Promise.resolve(
          buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength),
        ),
    },
  });
  return response;
}

function headersOf(response: IncomingMessage): Headers {
  const headers = new Headers();
  const raw = response.rawHeaders;
  for (let index = 0; index + 1 < raw.length; index += 2)
    headers.append(raw[index], raw[index + 1]);
  return headers;
}

/**
 * `fetch` for calls between services, over keep-alive connections of
 * `node:http` / `node:https`: the requests the A2A client makes (a JSON or
 * empty body, a JSON or event-stream answer) cost a fraction of the CPU that
 * the global fetch spends on them. Behaves as fetch does where callers can
 * tell: network errors reject with `TypeError('fetch failed')` and the cause,
 * an aborted signal rejects with its reason, redirects are followed,
 * event streams arrive as they are sent. Anything else (a `Request` object, a
 * streamed request body, a redirect) goes to the global fetch.
 */
export function createHttpFetch(options: HttpFetchOptions = {}): typeof fetch {
  const agentOptions = {
    keepAlive: true,
    maxSockets: options.maxSockets ?? 256,
    timeout: options.idleTimeoutMs ?? 4_000,
    scheduling: 'lifo' as const,
  };
  const agents = { http: new http.Agent(agentOptions), https: new https.Agent(agentOptions) };

  const httpFetch = (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    const body = init.body;
    if (
      input instanceof Request ||
      (body !== undefined &&
        body !== null &&
        typeof body !== 'string' &&
        !(body instanceof Uint8Array))
    ) {
      return fetch(input, init);
    }
    const url = typeof input === 'string' ? new URL(input) : input;
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return fetch(input, init);
    const signal = init.signal ?? undefined;
    if (signal?.aborted) return Promise.reject(signal.reason as Error);

    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((value, name) => (headers[name] = value));
    if (body !== undefined && body !== null && headers['content-length'] === undefined) {
      headers['content-length'] = String(
        typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength,
      );
    }
    const secure = url.protocol === 'https:';

    return new Promise<Response>((resolve, reject) => {
      let settled = false;
      const request = (secure ? https : http).request(url, {
        method: init.method ?? 'GET',
        headers,
        agent: secure ? agents.https : agents.http,
      });
      const onAbort = () => {
        request.destroy();
        if (!settled) {
          settled = true;
          reject(signal!.reason as Error);
        }
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const done = () => signal?.removeEventListener('abort', onAbort);

      request.on('error', (error) => {
        done();
        if (settled) return;
        settled = true;
        reject(new TypeError('fetch failed', { cause: error }));
      });
      request.on('response', (response) => {
        const status = response.statusCode ?? 0;
        const responseInit: ResponseInit = {
          status,
          statusText: response.statusMessage ?? '',
          headers: headersOf(response),
        };
        if (REDIRECTS.has(status) && response.headers.location !== undefined) {
          // Not answered where it was sent: the global fetch follows the redirect as fetch does.
          response.resume();
          done();
          settled = true;
          fetch(input, init).then(resolve, reject);
          return;
        }
        if (response.headers['content-type']?.startsWith('text/event-stream')) {
          settled = true;
          response.once('close', done);
          resolve(
            new Response(Readable.toWeb(response) as ReadableStream<Uint8Array>, responseInit),
          );
          return;
        }
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', (error) => {
          done();
          if (settled) return;
          settled = true;
          reject(new TypeError('fetch failed', { cause: error }));
        });
        response.on('end', () => {
          done();
          if (settled) return;
          settled = true;
          resolve(bufferedResponse(Buffer.concat(chunks), responseInit));
        });
      });
      request.end(body ?? undefined);
    });
  };
  return httpFetch;
}
