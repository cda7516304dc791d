import {
  type AgentCard,
  TaskPushNotificationConfig,
  TaskState,
  verifyAgentCardSignature,
  type Message,
} from '@a2a-js/sdk';
import type { Client } from '@a2a-js/sdk/client';
import type { PushDeliveryView } from '@app/a2a';
import {
  connectAgent,
  isTask,
  openTestDataSource,
  spawnApp,
  userData,
  userMessage,
  waitFor,
  type SpawnedApp,
  memberKey as newMemberKey,
} from '@app/testing';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createRemoteJWKSet, decodeJwt, jwtVerify, type JWK } from 'jose';
import { createHash, generateKeyPairSync, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DataSource } from 'typeorm';

const ADMIN_KEY = 'dev-local-key';

interface Received {
  readonly path: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

/** A webhook receiver whose answer per path the test sets. */
class Webhook {
  readonly received: Received[] = [];
  readonly answers = new Map<string, () => number>();
  private server?: Server;
  port = 0;

  async start(port = 0): Promise<void> {
    this.server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      request.on('end', () => {
        const path = request.url ?? '/';
        this.received.push({ path, headers: request.headers, body });
        const status = (this.answers.get(path) ?? (() => 200))();
        const location = status === 307 ? this.redirects.get(path) : undefined;
        response.writeHead(status, location ? { location } : {}).end();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  readonly redirects = new Map<string, string>();

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  at(path: string): Received[] {
    return this.received.filter((entry) => entry.path === path);
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}

const hasState = (entry: Received, state: string) => entry.body.includes(state);

describe('push notifications (queued, signed, SSRF-guarded)', () => {
  const webhook = new Webhook();
  const trap = new Webhook();
  let app: SpawnedApp;
  let math: Client;
  let slow: Client;
  let dataSource: DataSource;
  let memberKey: string;
  let env: Record<string, string>;
  const signingKey = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    .privateKey.export({ format: 'pem', type: 'pkcs8' })
    .toString();

  const send = (client: Client, message: Message, url: string) =>
    client.sendMessage({
      tenant: '',
      message,
      configuration: {
        acceptedOutputModes: [],
        returnImmediately: false,
        taskPushNotificationConfig: TaskPushNotificationConfig.fromJSON({
          url,
          token: 'hook-token',
        }),
      },
      metadata: undefined,
    });

  const admin = async (path: string, init: RequestInit = {}, key = ADMIN_KEY) => {
    const response = await fetch(`${app.url}/admin/push-deliveries${path}`, {
      ...init,
      headers: { 'x-api-key': key },
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  const failedFor = async (taskId: string): Promise<PushDeliveryView[]> =>
    ((await admin('?state=failed&limit=500')).body.deliveries as PushDeliveryView[]).filter(
      (delivery) => delivery.taskId === taskId,
    );

  beforeAll(async () => {
    await Promise.all([webhook.start(), trap.start()]);
    env = {
      AGENTS: 'math,slow',
      // Its own queues: agent apps of other test files would otherwise deliver these jobs.
      REDIS_KEY_PREFIX: `${process.env.REDIS_KEY_PREFIX}-push`,
      // Only the test's webhook may be private; the trap's port is not allowed.
      PUSH_ALLOWED_HOSTS: `127.0.0.1:${webhook.port}`,
      PUSH_ATTEMPTS: '3',
      PUSH_BACKOFF_MS: '100',
      PUSH_TIMEOUT_MS: '2000',
      A2A_SIGNING_KEY: signingKey,
      A2A_SIGNING_KEY_ID: 'e2e-key',
    };
    [app, dataSource] = await Promise.all([spawnApp('agent', env), openTestDataSource()]);
    memberKey = await newMemberKey(dataSource, `push-${randomUUID().slice(0, 8)}`);
    [math, slow] = await Promise.all([
      connectAgent(`${app.url}/agents/math`, memberKey),
      connectAgent(`${app.url}/agents/slow`, memberKey),
    ]);
  });

  afterAll(async () => {
    await app?.stop();
    await Promise.all([webhook.stop(), trap.stop(), dataSource?.destroy()]);
  });

  it('every event of a streamed task reaches the webhook with a JWT that verifies against the JWKS', async () => {
    const path = `/ok/${randomUUID()}`;
    const stream = math.sendMessageStream({
      tenant: '',
      message: userMessage('Calculate 6*7'),
      configuration: {
        acceptedOutputModes: [],
        returnImmediately: false,
        taskPushNotificationConfig: TaskPushNotificationConfig.fromJSON({
          url: webhook.url(path),
          token: 'hook-token',
        }),
      },
      metadata: undefined,
    });
    let events = 0;
    let taskId = '';
    for await (const event of stream) {
      events++;
      if (event.payload?.$case === 'task') taskId = event.payload.value.id;
    }
    expect(events).toBeGreaterThanOrEqual(3);
    await waitFor(() => webhook.at(path).length >= events, { what: 'one notification per event' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const received = webhook.at(path);
    expect(received).toHaveLength(events);
    expect(received.some((entry) => hasState(entry, 'TASK_STATE_COMPLETED'))).toBe(true);

    const jwks = createRemoteJWKSet(new URL(`${app.url}/.well-known/jwks.json`));
    const ids = new Set<string>();
    for (const entry of received) {
      expect(entry.headers['x-a2a-notification-token']).toBe('hook-token');
      const token = entry.headers['x-a2a-notification-jwt'] as string;
      expect(entry.headers.authorization).toBe(`Bearer ${token}`);
      const { payload, protectedHeader } = await jwtVerify(token, jwks);
      expect(protectedHeader.kid).toBe('e2e-key');
      expect(payload.task_id).toBe(taskId);
      expect(payload.request_body_sha256).toBe(
        createHash('sha256').update(entry.body).digest('hex'),
      );
      expect(typeof payload.iat).toBe('number');
      ids.add(payload.jti as string);
    }
    expect(ids.size).toBe(events);
  });

  it('a webhook that fails twice and then answers receives the event', async () => {
    const path = `/flaky/${randomUUID()}`;
    let calls = 0;
    webhook.answers.set(path, () => (++calls <= 2 ? 503 : 200));
    const task = await send(math, userMessage('Calculate 2+3'), webhook.url(path));
    if (!isTask(task)) throw new Error('expected a task');
    await waitFor(
      () => webhook.at(path).filter((entry) => hasState(entry, 'TASK_STATE_COMPLETED')).length > 0,
      { what: 'the final notification after two failures' },
    );
    expect(calls).toBeGreaterThanOrEqual(3);
    expect(await failedFor(task.id)).toEqual([]);
  });

  it('a webhook that always fails ends failed after the configured attempts; an admin re-drives it', async () => {
    const path = `/down/${randomUUID()}`;
    let status = 500;
    webhook.answers.set(path, () => status);
    const task = await send(math, userMessage('Calculate 3*3'), webhook.url(path));
    if (!isTask(task)) throw new Error('expected a task');

    // One delivery per event (its JWT id), each tried 3 times, then kept as failed.
    const events = () =>
      new Set(
        webhook
          .at(path)
          .map((entry) => decodeJwt(entry.headers['x-a2a-notification-jwt'] as string).jti),
      ).size;
    let failed: PushDeliveryView[] = [];
    await waitFor(
      async () => {
        failed = await failedFor(task.id);
        return (
          webhook.at(path).some((entry) => hasState(entry, 'TASK_STATE_COMPLETED')) &&
          failed.length === events() &&
          failed.every((delivery) => delivery.attemptsMade === 3)
        );
      },
      { what: 'every delivery to fail after 3 attempts', timeoutMs: 20_000 },
    );
    expect(failed[0]).toMatchObject({
      state: 'failed',
      agent: 'math',
      maxAttempts: 3,
      failedReason: 'Webhook answered HTTP 500',
    });
    expect(webhook.at(path)).toHaveLength(3 * failed.length);

    // Only admins see deliveries.
    expect((await admin('', {}, memberKey)).status).toBe(403);
    expect((await admin('?state=nope')).status).toBe(400);
    expect((await admin('/no-such-job/retry', { method: 'POST' })).status).toBe(404);

    status = 200;
    const before = webhook.at(path).length;
    const retried = await admin(`/${failed[0].id}/retry`, { method: 'POST' });
    expect(retried.status).toBe(202);
    await waitFor(async () => (await admin(`/${failed[0].id}`)).body.state === 'completed', {
      what: 'the re-driven delivery to complete',
    });
    expect(webhook.at(path).length).toBe(before + 1);
    expect((await admin(`/${failed[0].id}/retry`, { method: 'POST' })).status).toBe(409);
  });

  it('webhooks at loopback, private and metadata addresses are refused when configured', async () => {
    const task = await send(math, userMessage('Calculate 1+1'), webhook.url('/setup'));
    if (!isTask(task)) throw new Error('expected a task');
    for (const url of [
      trap.url('/hook'),
      'http://10.0.0.1/hook',
      'http://169.254.169.254/latest/meta-data',
      `http://localhost:${webhook.port}/hook`,
      'http://[::1]/hook',
    ]) {
      await expect(
        math.createTaskPushNotificationConfig(
          TaskPushNotificationConfig.fromJSON({ taskId: task.id, url }),
        ),
      ).rejects.toThrow(/push notification url refused/);
    }
  });

  it('a webhook that redirects to a private address is refused at delivery, and nothing reaches the target', async () => {
    const path = `/redirect/${randomUUID()}`;
    webhook.answers.set(path, () => 307);
    webhook.redirects.set(path, trap.url('/stolen'));
    const task = await send(math, userMessage('Calculate 4+4'), webhook.url(path));
    if (!isTask(task)) throw new Error('expected a task');
    let failed: PushDeliveryView[] = [];
    await waitFor(
      async () => {
        failed = await failedFor(task.id);
        return failed.length > 0;
      },
      { what: 'the redirected delivery to fail' },
    );
    expect(failed[0].attemptsMade).toBe(1);
    expect(failed[0].failedReason).toMatch(/Webhook refused: 127\.0\.0\.1 is a private address/);
    expect(trap.received).toEqual([]);
  });

  it('the card is signed (JWS over its canonical form) and the SDK verifier accepts it with the JWKS key', async () => {
    const wire = (await (
      await fetch(`${app.url}/agents/math/.well-known/agent-card.json`)
    ).json()) as {
      signatures: Array<{ protected: string }>;
    };
    expect(wire.signatures).toHaveLength(1);
    const jwks = (await (await fetch(`${app.url}/.well-known/jwks.json`)).json()) as {
      keys: JWK[];
    };
    const verify = verifyAgentCardSignature((kid, jku) => {
      expect(jku).toBe(`${app.url}/.well-known/jwks.json`);
      const jwk = jwks.keys.find((key) => key.kid === kid);
      return jwk ? Promise.resolve(jwk) : Promise.reject(new Error(`no key ${kid}`));
    });
    // The verifier canonicalises the ProtoJSON form (an SDK object would lose the security schemes).
    await expect(verify(wire as unknown as AgentCard)).resolves.toBeUndefined();
    const tampered = { ...wire, description: 'something else' };
    await expect(verify(tampered as unknown as AgentCard)).rejects.toThrow();
  });

  it('push configs and in-flight deliveries survive a restart of the agent app', async () => {
    const path = `/gate/${randomUUID()}`;
    let open = false;
    webhook.answers.set(path, () => (open ? 200 : 503));
    const restartEnv = { ...env, PUSH_ATTEMPTS: '10', PUSH_BACKOFF_MS: '1500' };
    await app.stop();
    app = await spawnApp('agent', restartEnv);
    slow = await connectAgent(`${app.url}/agents/slow`, memberKey);

    const task = await send(
      slow,
      userData({ steps: 1, intervalMs: 0, askInput: true }),
      webhook.url(path),
    );
    if (!isTask(task)) throw new Error('expected a task');
    expect(task.status?.state).toBe(TaskState.TASK_STATE_INPUT_REQUIRED);
    await waitFor(() => webhook.at(path).length > 0, { what: 'a first, refused attempt' });
    // Every delivery of the task is waiting for its retry (none is half-way through an attempt).
    await waitFor(
      async () => {
        const delayed = (await admin('?state=delayed&limit=500')).body
          .deliveries as PushDeliveryView[];
        const active = (await admin('?state=active&limit=500')).body
          .deliveries as PushDeliveryView[];
        return (
          delayed.some((delivery) => delivery.taskId === task.id) &&
          !active.some((delivery) => delivery.taskId === task.id)
        );
      },
      { what: 'the deliveries to wait for their retry' },
    );

    // Killed with deliveries waiting for their retry; the webhook recovers while the app is down.
    await app.stop('SIGKILL');
    open = true;
    app = await spawnApp('agent', restartEnv);
    await waitFor(
      () => webhook.at(path).some((entry) => hasState(entry, 'TASK_STATE_INPUT_REQUIRED')),
      { what: 'the queued notifications to arrive after the restart', timeoutMs: 30_000 },
    );

    // The config was kept: the task's next events reach the webhook too.
    slow = await connectAgent(`${app.url}/agents/slow`, memberKey);
    const done = await slow.sendMessage({
      tenant: '',
      message: userMessage('Quarterly', { taskId: task.id, contextId: task.contextId }),
      configuration: undefined,
      metadata: undefined,
    });
    expect(isTask(done) && done.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    await waitFor(() => webhook.at(path).some((entry) => hasState(entry, 'TASK_STATE_COMPLETED')), {
      what: 'the notification of the resumed task',
    });
  });
});
