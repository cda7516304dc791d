import { Extensions } from '@a2a-js/sdk';
import { ServerCallContext, type User } from '@a2a-js/sdk/server';
import type { AuthContext } from '@app/security';

/** The platform principal as the SDK sees it: always authenticated, named by its API key id. */
export class PlatformUser implements User {
  constructor(readonly auth: AuthContext) {}

  get isAuthenticated(): boolean {
    return true;
  }

  get userName(): string {
    return this.auth.apiKeyId;
  }
}

export const A2A_VERSION_HEADER = 'a2a-version';
export const A2A_EXTENSIONS_HEADER = 'a2a-extensions';
export const LEGACY_EXTENSIONS_HEADER = 'x-a2a-extensions';

function header(
  headers: Record<string, string | string[] | undefined>,
  name: string,
): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/**
 * The SDK call context of one request: tenant and caller come from the
 * platform's authentication (never from the payload), the protocol version
 * and extensions from the transport headers.
 */
export function buildCallContext(
  auth: AuthContext,
  headers: Record<string, string | string[] | undefined>,
  legacy: boolean,
): ServerCallContext {
  const extensions = legacy
    ? (header(headers, LEGACY_EXTENSIONS_HEADER) ?? header(headers, A2A_EXTENSIONS_HEADER))
    : header(headers, A2A_EXTENSIONS_HEADER);
  return new ServerCallContext({
    user: new PlatformUser(auth),
    tenant: auth.tenantId,
    requestedVersion: header(headers, A2A_VERSION_HEADER),
    requestedExtensions: Extensions.parseServiceParameter(extensions),
  });
}

/** The scope every stored object of a request belongs to. */
export interface TaskScope {
  readonly tenantId: string;
  readonly owner: string;
}

export function scopeOf(context: ServerCallContext): TaskScope {
  const user = context.user;
  if (!(user instanceof PlatformUser)) throw new Error('A2A call without platform credentials');
  return { tenantId: user.auth.tenantId, owner: user.auth.apiKeyId };
}

/**
 * Set on the context of a blocking SendMessage: the caller learns of the task
 * only once it has settled, so its intermediate saves need not be durable.
 */
export const CALLER_AWAITS_SETTLED = 'a2a.callerAwaitsSettled';

/** Whether a SendMessage request (v1.0 or v0.3 wire form) blocks until the task settles. */
export function isBlockingSend(params: unknown, legacy: boolean): boolean {
  const configuration = (params as { configuration?: Record<string, unknown> } | undefined)
    ?.configuration;
  return legacy ? configuration?.blocking !== false : configuration?.returnImmediately !== true;
}

/**
 * Set on the context of a send whose message names no task: the SDK makes a
 * new task for it, with an id nobody else can know yet.
 */
export const NEW_TASK_REQUEST = 'a2a.newTaskRequest';
/** The id of the task the SDK made for a {@link NEW_TASK_REQUEST}, until its first save. */
export const FRESH_TASK_ID = 'a2a.freshTaskId';
