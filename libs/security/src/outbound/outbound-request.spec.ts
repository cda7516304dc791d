import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import {
  OutboundRequestFailed,
  OutboundRequestRefused,
  outboundRequest,
} from './outbound-request.js';
import { isPrivateAddress } from './private-addresses.js';

describe('isPrivateAddress', () => {
  it.each([
    '127.0.0.1',
    '10.0.0.1',
    '172.16.5.4',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '::1',
    'fe80::1',
    'fd00::1',
    '::ffff:127.0.0.1',
    '::ffff:10.0.0.1',
  ])('%s is private', (address) => expect(isPrivateAddress(address)).toBe(true));
  it.each(['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '::ffff:8.8.8.8'])(
    '%s is public',
    (address) => expect(isPrivateAddress(address)).toBe(false),
  );
});

describe('outboundRequest (real sockets on loopback)', () => {
  let server: Server;
  let base: string;

  beforeAll(async () => {
    server = createServer((request, response) => {
      if (request.url === '/redirect-to-metadata') {
        response.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
      } else if (request.url === '/redirect-home') {
        response.writeHead(302, { location: '/card' }).end();
      } else if (request.url === '/big') {
        response.end('x'.repeat(10_000));
      } else if (request.url === '/slow') {
        setTimeout(() => response.end('late'), 2_000);
      } else {
        response.end('{"ok":true}');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const allowed = { allowPrivate: true, timeoutMs: 1_000, maxBytes: 1_000 };
  const strict = { ...allowed, allowPrivate: false };

  it('fetches when private targets are allowed, and follows safe redirects', async () => {
    expect((await outboundRequest(`${base}/card`, allowed)).body).toBe('{"ok":true}');
    const redirected = await outboundRequest(`${base}/redirect-home`, allowed);
    expect(redirected).toMatchObject({ status: 200, url: `${base}/card` });
  });

  it.each([
    'http://127.0.0.1/card',
    'http://10.0.0.1/card',
    'http://169.254.169.254/latest/meta-data/',
    'http://[::1]/card',
    'http://localhost/card',
    'file:///etc/passwd',
  ])('refuses %s when private targets are not allowed', async (url) => {
    await expect(outboundRequest(url, strict)).rejects.toBeInstanceOf(OutboundRequestRefused);
  });

  it('refuses a name that resolves to a loopback address, at connect time', async () => {
    // The machine's own name passes the name check; the (loopback or private) address it resolves to does not.
    await expect(
      outboundRequest(`http://${hostname()}:${new URL(base).port}/card`, strict),
    ).rejects.toBeInstanceOf(OutboundRequestRefused);
  });

  it('refuses a redirect to the metadata address, even from a host that is allowed', async () => {
    const fromAllowedHost = { ...strict, allowHosts: ['127.0.0.1'] };
    expect((await outboundRequest(`${base}/card`, fromAllowedHost)).status).toBe(200);
    await expect(
      outboundRequest(`${base}/redirect-to-metadata`, fromAllowedHost),
    ).rejects.toBeInstanceOf(OutboundRequestRefused);
  });

  it('stops at the size limit and at the timeout', async () => {
    await expect(outboundRequest(`${base}/big`, allowed)).rejects.toMatchObject({
      reason: 'too-large',
    });
    const slow = outboundRequest(`${base}/slow`, { ...allowed, timeoutMs: 200 });
    await expect(slow).rejects.toBeInstanceOf(OutboundRequestFailed);
    await expect(slow).rejects.toMatchObject({ reason: 'timeout' });
  });
});
