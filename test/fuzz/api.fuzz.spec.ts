import { JSON_RPC_METHODS, LEGACY_JSON_RPC_METHODS } from '@app/a2a';
import { spawnApp, type SpawnedApp } from '@app/testing';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';

/**
 * Property-based fuzzing of every HTTP API of the platform, against the apps
 * running as processes: whatever arrives (malformed JSON, wrong types, huge
 * or deeply nested bodies, unknown methods, invalid UTF-8, bad headers) gets
 * an error in the protocol's shape with a 4xx status (or a JSON-RPC error),
 * never a 5xx, and the app keeps serving. `FUZZ_RUNS` inputs per app (the
 * normal test run tries a few hundred; `npm run test:fuzz` many more).
 */
const RUNS = Number(process.env.FUZZ_RUNS ?? 150);
const KEY = `fuzz-key-${randomUUID()}`;
const BODY_LIMIT = 64 * 1024;

interface FuzzRequest {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body?: Buffer;
  /** JSON-RPC endpoints answer protocol errors with 200 and an `error` member. */
  readonly jsonRpc: boolean;
}

interface FuzzAnswer {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

const jsonValue = fc.jsonValue({ maxDepth: 4 });

/** Every method the agents answer, v1.0 and v0.3 names. */
const A2A_METHODS = [...JSON_RPC_METHODS, ...LEGACY_JSON_RPC_METHODS.keys()];

const part = fc.record(
  {
    text: fc.oneof(fc.string(), jsonValue),
    data: jsonValue,
    url: fc.oneof(fc.webUrl(), fc.string()),
    raw: fc.string(),
    mediaType: fc.string(),
    kind: fc.constantFrom('text', 'data', 'file', 'nope'),
  },
  { requiredKeys: [] },
);

const message = fc.record(
  {
    messageId: fc.oneof(fc.uuid(), fc.string(), jsonValue),
    role: fc.oneof(fc.constantFrom('ROLE_USER', 'ROLE_AGENT', 'user', 'agent'), jsonValue),
    parts: fc.oneof(fc.array(part, { maxLength: 70 }), jsonValue),
    taskId: fc.oneof(fc.uuid(), fc.string()),
    contextId: fc.oneof(fc.uuid(), fc.string()),
    metadata: jsonValue,
    kind: fc.constant('message'),
  },
  { requiredKeys: [] },
);

const params = fc.oneof(
  jsonValue,
  fc.record(
    {
      message,
      configuration: fc.oneof(
        jsonValue,
        fc.record(
          {
            returnImmediately: fc.boolean(),
            historyLength: fc.integer(),
            taskPushNotificationConfig: fc.record(
              { url: fc.oneof(fc.webUrl(), fc.string()), token: fc.string() },
              { requiredKeys: [] },
            ),
          },
          { requiredKeys: [] },
        ),
      ),
      id: fc.oneof(fc.uuid(), fc.string(), jsonValue),
      taskId: fc.oneof(fc.uuid(), fc.string()),
      pageSize: fc.oneof(fc.integer(), jsonValue),
      pageToken: fc.oneof(fc.string(), jsonValue),
      historyLength: fc.oneof(fc.integer(), jsonValue),
      statusTimestampAfter: fc.oneof(
        fc.string(),
        fc.date({ noInvalidDate: true }).map((date) => date.toISOString()),
      ),
      url: fc.oneof(fc.webUrl(), fc.string()),
    },
    { requiredKeys: [] },
  ),
);

const envelope = fc.record(
  {
    jsonrpc: fc.oneof(fc.constant('2.0'), jsonValue),
    id: fc.oneof(fc.integer(), fc.string(), fc.constant(null), jsonValue),
    method: fc.oneof(fc.constantFrom(...A2A_METHODS), fc.string()),
    params,
  },
  { requiredKeys: [] },
);

/** Bodies for any JSON API: well-formed but wrong, malformed, nested, huge, not UTF-8. */
function bodies(wellFormed: fc.Arbitrary<unknown>): fc.Arbitrary<Buffer> {
  const nested = fc
    .tuple(fc.integer({ min: 50, max: 20_000 }), fc.constantFrom('[', '{"a":'))
    .map(([depth, open]) =>
      Buffer.from(open.repeat(depth) + '1' + (open === '[' ? ']' : '}').repeat(depth)),
    );
  const invalidUtf8 = fc
    .uint8Array({ minLength: 1, maxLength: 64 })
    .map((bytes) =>
      Buffer.concat([
        Buffer.from(
          '{"jsonrpc":"2.0","id":1,"method":"SendMessage","params":{"message":{"messageId":"m","role":"ROLE_USER","parts":[{"text":"',
        ),
        Buffer.from(bytes.map((byte) => byte | 0x80)),
        Buffer.from('"}]}}}'),
      ]),
    );
  return fc.oneof(
    { weight: 6, arbitrary: wellFormed.map((value) => Buffer.from(JSON.stringify(value) ?? '')) },
    { weight: 2, arbitrary: fc.string({ maxLength: 200 }).map((text) => Buffer.from(text)) },
    { weight: 1, arbitrary: nested },
    { weight: 1, arbitrary: invalidUtf8 },
    {
      weight: 1,
      // NUL characters, which PostgreSQL stores in neither text nor jsonb.
      arbitrary: wellFormed.map((value) =>
        Buffer.from((JSON.stringify(value) ?? '{}').replace(/"([^"\\]{1,12})"/, '"$1\\u0000"')),
      ),
    },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 256 }).map((bytes) => Buffer.from(bytes)) },
    {
      weight: 1,
      arbitrary: fc
        .integer({ min: BODY_LIMIT, max: 4 * BODY_LIMIT })
        .map((size) => Buffer.from(`{"x":"${'a'.repeat(size)}"}`)),
    },
  );
}

const headers = fc
  .record(
    {
      'content-type': fc.constantFrom(
        'application/json',
        'application/a2a+json',
        'application/json; charset=utf-8',
        'application/json; charset=latin1',
        'text/plain',
        'multipart/form-data; boundary=x',
        'application/x-www-form-urlencoded',
        '',
      ),
      'a2a-version': fc.constantFrom('1.0', '0.3', '9.9', '', 'x'),
      auth: fc.constantFrom('key', 'key', 'key', 'wrong', 'none', 'bearer-garbage'),
      accept: fc.constantFrom('application/json', 'text/event-stream', '*/*'),
      'x-request-id': fc.string({ maxLength: 300 }),
      'a2a-extensions': fc.string({ maxLength: 100 }),
    },
    { requiredKeys: ['auth'] },
  )
  .map(({ auth, ...rest }) => {
    const result: Record<string, string> = {};
    for (const [name, value] of Object.entries(rest)) {
      // Only header values HTTP can carry; the rest would fail in the client, not the server.
      if (typeof value === 'string' && /^[\t\x20-\x7e]*$/.test(value)) result[name] = value;
    }
    if (auth === 'key') result['x-api-key'] = KEY;
    if (auth === 'wrong') result['x-api-key'] = 'not-a-key-of-this-platform';
    if (auth === 'bearer-garbage') result.authorization = 'Bearer \u0001';
    if (result.authorization && !/^[\t\x20-\x7e]*$/.test(result.authorization)) {
      delete result.authorization;
    }
    return result;
  });

const segment = fc.oneof(
  fc.uuid(),
  fc.string({ maxLength: 40 }).map(encodeURIComponent),
  fc.constantFrom('..', '%00', '%ff', '%2e%2e', 'a'.repeat(2_000), ':cancel', '%'),
);

const query = fc
  .dictionary(
    fc.constantFrom(
      'skill',
      'tag',
      'q',
      'tenant',
      'status',
      'limit',
      'offset',
      'pageSize',
      'workflow',
      'x',
    ),
    fc.oneof(fc.string({ maxLength: 30 }), fc.integer().map(String), fc.constant('%ff')),
    { maxKeys: 4 },
  )
  .map((entries) =>
    Object.entries(entries)
      .map(
        ([name, value]) => `${name}=${value.startsWith('%') ? value : encodeURIComponent(value)}`,
      )
      .join('&'),
  );

function request(
  method: FuzzRequest['method'],
  path: fc.Arbitrary<string>,
  body: fc.Arbitrary<Buffer> | undefined,
  jsonRpc = false,
): fc.Arbitrary<FuzzRequest> {
  return fc
    .record({ path, headers, body: body ?? fc.constant(undefined) })
    .map((value) => ({ method, jsonRpc, ...value }));
}

async function send(base: string, input: FuzzRequest): Promise<FuzzAnswer> {
  const url = new URL(input.path, base);
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(
      url,
      {
        method: input.method,
        headers: {
          ...input.headers,
          ...(input.body ? { 'content-length': String(input.body.length) } : {}),
        },
        timeout: 15_000,
      },
      (response) => {
        const contentType = String(response.headers['content-type'] ?? '');
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size < 256 * 1024) chunks.push(chunk);
          // A stream (SSE) that answered is enough: its first bytes show its shape.
          if (contentType.startsWith('text/event-stream') && size > 0) response.destroy();
        });
        const done = () =>
          resolve({
            status: response.statusCode ?? 0,
            contentType,
            body: Buffer.concat(chunks).toString('utf8'),
          });
        response.on('end', done);
        response.on('close', done);
      },
    );
    outgoing.on('timeout', () =>
      outgoing.destroy(new Error(`no answer to ${input.method} ${input.path}`)),
    );
    outgoing.on('error', (error: NodeJS.ErrnoException) => {
      // The server may answer 413 and close before the whole body is sent.
      if (error.code === 'EPIPE' || error.code === 'ECONNRESET') {
        resolve({ status: 413, contentType: '', body: '' });
      } else reject(error);
    });
    if (input.body) outgoing.write(input.body);
    outgoing.end();
  });
}

/** The property every answer must have. */
function checkAnswer(input: FuzzRequest, answer: FuzzAnswer): void {
  const where = `${input.method} ${input.path.slice(0, 120)} -> ${answer.status} ${answer.body.slice(0, 300)}`;
  if (answer.status >= 500 || answer.status < 100) throw new Error(`server error: ${where}`);
  if (answer.contentType.startsWith('text/event-stream') || answer.body === '') return;
  if (!answer.contentType.includes('json')) throw new Error(`not a JSON answer: ${where}`);
  const body = JSON.parse(answer.body) as Record<string, unknown>;
  if (input.jsonRpc && answer.status === 200) {
    if (body.jsonrpc !== '2.0' || !('result' in body || 'error' in body)) {
      throw new Error(`not a JSON-RPC response: ${where}`);
    }
    return;
  }
  if (answer.status >= 400) {
    const shaped =
      ('status' in body && 'title' in body) || // problem details
      typeof body.error === 'object' || // A2A HTTP+JSON and JSON-RPC errors
      'message' in body;
    if (!shaped) throw new Error(`error without a protocol shape: ${where}`);
  }
}

describe('fuzzing the HTTP APIs (fast-check)', () => {
  let registry: SpawnedApp;
  let agents: SpawnedApp;
  let orchestrator: SpawnedApp;
  const tried = { agent: 0, registry: 0, orchestrator: 0 };

  beforeAll(async () => {
    const prefix = `${process.env.REDIS_KEY_PREFIX}-fuzz`;
    const common = {
      BOOTSTRAP_TENANT: `fuzz-${randomUUID().slice(0, 8)}`,
      BOOTSTRAP_API_KEY: KEY,
      HTTP_BODY_LIMIT_BYTES: String(BODY_LIMIT),
      THROTTLE_DEFAULT_LIMIT: '1000000',
      THROTTLE_MESSAGE_LIMIT: '1000000',
      LOG_LEVEL: 'error',
    };
    registry = await spawnApp('registry', {
      ...common,
      REGISTRY_ALLOW_PRIVATE_URLS: 'false',
      REDIS_KEY_PREFIX: `${prefix}-registry`,
    });
    [agents, orchestrator] = await Promise.all([
      spawnApp('agent', { ...common, AGENTS: 'echo,math', REDIS_KEY_PREFIX: `${prefix}-agents` }),
      spawnApp('orchestrator', {
        ...common,
        REGISTRY_URL: registry.url,
        REDIS_KEY_PREFIX: `${prefix}-orchestrator`,
      }),
    ]);
  });

  afterAll(async () => {
    await Promise.all([orchestrator?.stop(), agents?.stop(), registry?.stop()]);
    const total = tried.agent + tried.registry + tried.orchestrator;
    process.stdout.write(
      `fuzz: ${total} inputs (agent ${tried.agent}, registry ${tried.registry}, orchestrator ${tried.orchestrator})\n`,
    );
  });

  const run = async (
    app: () => SpawnedApp,
    name: keyof typeof tried,
    arbitrary: fc.Arbitrary<FuzzRequest>,
  ) => {
    const result = await fc.check(
      fc.asyncProperty(arbitrary, async (input) => {
        tried[name]++;
        checkAnswer(input, await send(app().url, input));
      }),
      { numRuns: RUNS, endOnFailure: true },
    );
    // Counterexamples can be megabytes: report the failure, not the input.
    if (result.failed) {
      throw new Error(
        `${name}: ${String(result.errorInstance).slice(0, 1_500)} (seed ${result.seed})`,
      );
    }
    // Still serving, and still the same process.
    expect(app().child.exitCode).toBeNull();
    expect((await fetch(`${app().url}/health`)).status).toBe(200);
  };

  it('agent app: JSON-RPC and HTTP+JSON bindings, cards', async () => {
    const agent = fc.constantFrom('echo', 'math', 'nope');
    await run(
      () => agents,
      'agent',
      fc.oneof(
        {
          weight: 5,
          arbitrary: request(
            'POST',
            agent.map((name) => `/agents/${name}/a2a/jsonrpc`),
            bodies(envelope),
            true,
          ),
        },
        {
          weight: 2,
          arbitrary: request(
            'POST',
            agent.map((name) => `/agents/${name}/a2a/rest/message:send`),
            bodies(params),
          ),
        },
        {
          weight: 1,
          arbitrary: request(
            'GET',
            fc
              .tuple(agent, segment, query)
              .map(([name, id, q]) => `/agents/${name}/a2a/rest/tasks/${id}?${q}`),
            undefined,
          ),
        },
        {
          weight: 1,
          arbitrary: request(
            'GET',
            fc.tuple(agent, query).map(([name, q]) => `/agents/${name}/a2a/rest/tasks?${q}`),
            undefined,
          ),
        },
        {
          weight: 1,
          arbitrary: request(
            'POST',
            fc
              .tuple(agent, segment)
              .map(([name, id]) => `/agents/${name}/a2a/rest/tasks/${id}:cancel`),
            bodies(jsonValue),
          ),
        },
        {
          weight: 1,
          arbitrary: request(
            'POST',
            fc
              .tuple(agent, segment)
              .map(([name, id]) => `/agents/${name}/a2a/rest/tasks/${id}/pushNotificationConfigs`),
            bodies(params),
          ),
        },
        {
          weight: 1,
          arbitrary: request(
            'GET',
            agent.map((name) => `/agents/${name}/.well-known/agent-card.json`),
            undefined,
          ),
        },
      ),
    );
  });

  it('registry: registration, heartbeat, discovery', async () => {
    const card = fc.record(
      {
        name: fc.oneof(fc.string(), jsonValue),
        description: fc.oneof(fc.string(), jsonValue),
        version: fc.oneof(fc.string(), jsonValue),
        url: fc.oneof(fc.webUrl(), fc.string()),
        skills: fc.oneof(
          fc.array(
            fc.record(
              { id: fc.string(), name: fc.string(), tags: fc.array(fc.string()) },
              { requiredKeys: [] },
            ),
            { maxLength: 5 },
          ),
          jsonValue,
        ),
        supportedInterfaces: jsonValue,
        capabilities: jsonValue,
      },
      { requiredKeys: [] },
    );
    const registration = fc.record(
      {
        cardUrl: fc.oneof(
          fc.webUrl(),
          fc.string(),
          fc.constantFrom(
            'http://127.0.0.1/card',
            'http://169.254.169.254/latest',
            'file:///etc/passwd',
          ),
        ),
        card,
        url: fc.oneof(fc.webUrl(), fc.string()),
        shared: fc.oneof(fc.boolean(), jsonValue),
        tenant: jsonValue,
      },
      { requiredKeys: [] },
    );
    await run(
      () => registry,
      'registry',
      fc.oneof(
        { weight: 4, arbitrary: request('POST', fc.constant('/agents'), bodies(registration)) },
        {
          weight: 2,
          arbitrary: request(
            'GET',
            query.map((q) => `/agents?${q}`),
            undefined,
          ),
        },
        {
          weight: 1,
          arbitrary: request(
            'GET',
            query.map((q) => `/agents/resolve?${q}`),
            undefined,
          ),
        },
        {
          weight: 1,
          arbitrary: request(
            'GET',
            segment.map((id) => `/agents/${id}`),
            undefined,
          ),
        },
        {
          weight: 1,
          arbitrary: request(
            'PUT',
            segment.map((id) => `/agents/${id}/heartbeat`),
            bodies(jsonValue),
          ),
        },
        {
          weight: 1,
          arbitrary: request(
            'DELETE',
            segment.map((id) => `/agents/${id}`),
            undefined,
          ),
        },
      ),
    );
  });

  it('orchestrator: workflows, runs, and its own A2A endpoint', async () => {
    const step = fc.record(
      {
        id: fc.oneof(fc.string(), jsonValue),
        skill: fc.oneof(fc.string(), jsonValue),
        agentUrl: fc.oneof(fc.webUrl(), fc.string()),
        input: jsonValue,
        dependsOn: fc.oneof(fc.array(fc.string(), { maxLength: 4 }), jsonValue),
        retry: jsonValue,
        timeoutMs: fc.oneof(fc.integer(), jsonValue),
        idempotent: fc.oneof(fc.boolean(), jsonValue),
      },
      { requiredKeys: [] },
    );
    const workflow = fc.record(
      {
        name: fc.oneof(fc.string(), jsonValue),
        description: fc.string(),
        steps: fc.oneof(fc.array(step, { maxLength: 6 }), jsonValue),
        output: jsonValue,
      },
      { requiredKeys: [] },
    );
    await run(
      () => orchestrator,
      'orchestrator',
      fc.oneof(
        {
          weight: 3,
          arbitrary: request(
            'PUT',
            segment.map((name) => `/workflows/${name}`),
            bodies(workflow),
          ),
        },
        {
          weight: 2,
          arbitrary: request(
            'POST',
            segment.map((name) => `/workflows/${name}/runs`),
            bodies(jsonValue),
          ),
        },
        {
          weight: 1,
          arbitrary: request(
            'GET',
            query.map((q) => `/runs?${q}`),
            undefined,
          ),
        },
        {
          weight: 1,
          arbitrary: request(
            'GET',
            segment.map((id) => `/runs/${id}`),
            undefined,
          ),
        },
        {
          weight: 1,
          arbitrary: request(
            'POST',
            segment.map((id) => `/runs/${id}/input`),
            bodies(jsonValue),
          ),
        },
        {
          weight: 1,
          arbitrary: request(
            'POST',
            segment.map((id) => `/runs/${id}/cancel`),
            bodies(jsonValue),
          ),
        },
        {
          weight: 3,
          arbitrary: request('POST', fc.constant('/a2a/jsonrpc'), bodies(envelope), true),
        },
      ),
    );
  });
});
