import type { ApiKeyRole } from '@app/persistence';

/** Who is calling: resolved from the transport headers of every non-public request. */
export interface AuthContext {
  readonly tenantId: string;
  readonly apiKeyId: string;
  readonly role: ApiKeyRole;
}

/** The request properties the platform reads and writes (Fastify request or its raw message). */
export interface AuthenticatedRequest {
  auth?: AuthContext;
  headers: Record<string, string | string[] | undefined>;
}
