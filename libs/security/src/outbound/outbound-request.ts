import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { isPrivateAddress } from './private-addresses.js';

/** The request was not made: its target (or a redirect, or the address a name resolved to) is not allowed. */
export class OutboundRequestRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OutboundRequestRefused';
  }
}

/** The request was made and failed: timeout, connection error, body too large, too many redirects. */
export class OutboundRequestFailed extends Error {
  constructor(
    message: string,
    readonly reason: 'timeout' | 'connection' | 'too-large' | 'redirects',
  ) {
    super(message);
    this.name = 'OutboundRequestFailed';
  }
}

export interface OutboundRequestOptions {
  readonly method?: 'GET' | 'POST';
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
  /** Allow loopback, private and link-local targets (local development, tests). */
  readonly allowPrivate: boolean;
  /**
   * Hosts that may be called although private (a known internal service):
   * a name or IP literal (any port) or `host:port` (that port only).
   */
  readonly allowHosts?: readonly string[];
  readonly timeoutMs: number;
  readonly maxBytes: number;
  readonly maxRedirects?: number;
}

export interface OutboundResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** The URL that answered, after redirects. */
  readonly url: string;
}

const hostOf = (url: URL) => url.hostname.replace(/^\[|\]$/g, '');

const DEFAULT_PORTS: Readonly<Record<string, string>> = { 'http:': '80', 'https:': '443' };

/** Whether options let `url` reach a private address (allowPrivate, or its host in allowHosts). */
export function privateTargetAllowed(url: URL, options: OutboundRequestOptions): boolean {
  if (options.allowPrivate) return true;
  const allowed = options.allowHosts ?? [];
  const host = hostOf(url).toLowerCase();
  const port = url.port || DEFAULT_PORTS[url.protocol];
  return allowed.includes(host) || allowed.includes(`${host}:${port}`);
}

/**
 * Checked when the socket connects, so that a name whose address changes
 * between a check and the request (DNS rebinding) cannot slip through.
 */
function guardedLookup(allowPrivate: boolean): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error, '', 4);
      const refused = allowPrivate
        ? undefined
        : addresses.find((entry) => isPrivateAddress(entry.address));
      if (refused) {
        return callback(
          new OutboundRequestRefused(
            `${hostname} resolves to a private address (${refused.address})`,
          ),
          '',
          4,
        );
      }
      if (options.all)
        return (callback as unknown as (error: null, all: LookupAddress[]) => void)(
          null,
          addresses,
        );
      return callback(null, addresses[0].address, addresses[0].family);
    });
  };
}

/** Checks a URL before any request: scheme, credentials, and private IP literals or names. */
export function checkOutboundUrl(raw: string, options: OutboundRequestOptions): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new OutboundRequestRefused(`Not an absolute URL: ${raw}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new OutboundRequestRefused(`Only http and https URLs are allowed (got ${url.protocol})`);
  }
  if (url.username || url.password)
    throw new OutboundRequestRefused('URLs with credentials are not allowed');
  if (privateTargetAllowed(url, options)) return url;
  const host = hostOf(url);
  if (host === 'localhost' || host.endsWith('.localhost'))
    throw new OutboundRequestRefused(`${host} is a loopback name`);
  // Sockets skip the lookup for IP literals: check them here.
  if (isIP(host) !== 0 && isPrivateAddress(host))
    throw new OutboundRequestRefused(`${host} is a private address`);
  return url;
}

function once(
  url: URL,
  options: OutboundRequestOptions,
  signal: AbortSignal,
): Promise<OutboundResponse> {
  return new Promise((resolve, reject) => {
    const transport = url.protocol === 'https:' ? https : http;
    const body = options.body;
    const request = transport.request(
      url,
      {
        method: options.method ?? 'GET',
        headers: {
          ...options.headers,
          ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}),
        },
        lookup: guardedLookup(privateTargetAllowed(url, options)),
        signal,
        agent: false,
      },
      (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        let tooLarge = false;
        const refuseSize = () => {
          tooLarge = true;
          reject(
            new OutboundRequestFailed(
              `Response larger than ${options.maxBytes} bytes`,
              'too-large',
            ),
          );
          request.destroy();
        };
        if (Number(response.headers['content-length'] ?? 0) > options.maxBytes) return refuseSize();
        response.on('data', (chunk: Buffer) => {
          if (tooLarge) return;
          size += chunk.length;
          if (size > options.maxBytes) return refuseSize();
          chunks.push(chunk);
        });
        response.on('end', () => {
          if (tooLarge) return;
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(chunks).toString('utf8'),
            url: url.href,
          });
        });
        response.on('error', (error) => {
          if (!tooLarge) reject(error);
        });
      },
    );
    request.on('error', (error: Error) => {
      if (error instanceof OutboundRequestRefused || error instanceof OutboundRequestFailed)
        return reject(error);
      if (signal.aborted)
        return reject(
          new OutboundRequestFailed(`No answer within ${options.timeoutMs} ms`, 'timeout'),
        );
      reject(new OutboundRequestFailed(error.message, 'connection'));
    });
    if (body !== undefined) request.write(body);
    request.end();
  });
}

/**
 * An HTTP request to a URL a caller gave us (agent cards, webhooks), made so
 * that it cannot be turned against our own network: the target and every
 * redirect are checked, and the address each name resolves to is checked at
 * connect time; with a timeout and a size limit.
 */
export async function outboundRequest(
  rawUrl: string,
  options: OutboundRequestOptions,
): Promise<OutboundResponse> {
  const signal = AbortSignal.timeout(options.timeoutMs);
  let url = checkOutboundUrl(rawUrl, options);
  for (let redirects = 0; ; redirects++) {
    const response = await once(url, options, signal);
    const location = response.headers.location;
    if (response.status < 300 || response.status >= 400 || location === undefined) return response;
    if (redirects >= (options.maxRedirects ?? 3))
      throw new OutboundRequestFailed('Too many redirects', 'redirects');
    url = checkOutboundUrl(new URL(location, url).href, options);
  }
}
