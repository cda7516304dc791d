import { TooManyRequestsException } from '@app/throttling';
import {
  Catch,
  HttpException,
  HttpStatus,
  Logger,
  type ArgumentsHost,
  type ExceptionFilter,
} from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';

/** RFC 9457 problem details: the error shape of every non-A2A HTTP route. */
export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  errorId?: string;
  errors?: string[];
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** Builds the problem body for a status; internals never leave the process (5xx gets an error id). */
export function toProblem(
  status: number,
  detail: string | undefined,
  extra: Partial<ProblemDetails> = {},
): ProblemDetails {
  return {
    type: 'about:blank',
    title: STATUS_CODES[status] ?? 'Error',
    status,
    ...(detail !== undefined ? { detail } : {}),
    ...extra,
  };
}

/** Writes a problem response with the headers its status calls for. */
export function sendProblem(
  reply: FastifyReply,
  problem: ProblemDetails,
  retryAfterSeconds?: number,
): void {
  if (problem.status === 401) {
    void reply.header('WWW-Authenticate', 'Bearer realm="a2a-platform"');
  }
  if (retryAfterSeconds !== undefined) void reply.header('Retry-After', String(retryAfterSeconds));
  void reply.status(problem.status).header('Content-Type', PROBLEM_CONTENT_TYPE).send(problem);
}

function describeHttpException(exception: HttpException): {
  detail?: string;
  errors?: string[];
  body?: object;
} {
  const response = exception.getResponse();
  if (typeof response === 'string') return { detail: response };
  const body = response as { message?: unknown; status?: unknown };
  if (Array.isArray(body.message))
    return { detail: 'The request is not valid', errors: body.message.map(String) };
  if (typeof body.message === 'string') return { detail: body.message };
  return { body: response };
}

/** Route config key: routes that must answer errors as JSON-RPC envelopes set it to 'jsonrpc'. */
export const ERROR_SHAPE_CONFIG = 'errorShape';

const JSON_RPC_PARSE_ERRORS = new Set([
  'FST_ERR_CTP_INVALID_JSON_BODY',
  'FST_ERR_CTP_EMPTY_JSON_BODY',
]);

/** A JSON-RPC error for a failure that happened before the request reached its handler. */
function toJsonRpcError(status: number, detail: string | undefined, cause: unknown) {
  const code = (cause as { code?: unknown } | undefined)?.code;
  const reason = (name: string) => [
    { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: name, domain: 'a2a-platform' },
  ];
  if (typeof code === 'string' && JSON_RPC_PARSE_ERRORS.has(code)) {
    return { code: -32700, message: 'Parse error: the body is not valid JSON' };
  }
  switch (status) {
    case 401:
    case 403:
      return { code: -32600, message: detail ?? 'Unauthorized', data: reason('UNAUTHENTICATED') };
    case 404:
      return { code: -32601, message: detail ?? 'Not found', data: reason('NOT_FOUND') };
    case 413:
      return {
        code: -32600,
        message: detail ?? 'Request body too large',
        data: reason('PAYLOAD_TOO_LARGE'),
      };
    case 415:
      return { code: -32005, message: detail ?? 'Content type not supported' };
    case 429:
      return {
        code: -32600,
        message: detail ?? 'Rate limit exceeded',
        data: reason('RATE_LIMITED'),
      };
    default:
      return status < 500
        ? { code: -32600, message: detail ?? 'Invalid request' }
        : {
            code: -32603,
            message: 'Internal error',
            data: reason(status === 503 ? 'UNAVAILABLE' : 'INTERNAL'),
          };
  }
}

const GRPC_STATUS: Readonly<Record<number, string>> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  409: 'ALREADY_EXISTS',
  413: 'INVALID_ARGUMENT',
  415: 'INVALID_ARGUMENT',
  429: 'RESOURCE_EXHAUSTED',
  503: 'UNAVAILABLE',
};

/** The A2A HTTP+JSON error body (google.rpc.Status) for a failure before the handler. */
function toA2aRestError(status: number, detail: string | undefined) {
  return {
    error: {
      code: status,
      status: GRPC_STATUS[status] ?? (status < 500 ? 'INVALID_ARGUMENT' : 'INTERNAL'),
      message: status < 500 ? (detail ?? STATUS_CODES[status] ?? 'Error') : 'Internal error',
      details: [],
    },
  };
}

function routeErrorShape(request: FastifyRequest): unknown {
  return (request.routeOptions?.config as unknown as Record<string, unknown> | undefined)?.[
    ERROR_SHAPE_CONFIG
  ];
}

/**
 * The catch-all filter: known HTTP errors keep their status and message,
 * anything else is logged with an error id and answered as a bare 500.
 */
@Catch()
export class ProblemDetailsFilter implements ExceptionFilter {
  private readonly logger = new Logger('Errors');

  catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') throw exception;
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    const request = host.switchToHttp().getRequest<FastifyRequest>();
    if (reply.sent) return;

    const shape = routeErrorShape(request);
    if (shape === 'jsonrpc' || shape === 'a2a-rest') {
      const status = exception instanceof HttpException ? exception.getStatus() : 500;
      if (status >= 500) this.logger.error({ err: exception }, 'Unhandled error on an A2A route');
      const detail =
        exception instanceof HttpException ? describeHttpException(exception).detail : undefined;
      const cause = exception instanceof HttpException ? exception.cause : exception;
      if (status === 401) void reply.header('WWW-Authenticate', 'Bearer realm="a2a-platform"');
      if (exception instanceof TooManyRequestsException) {
        void reply.header('Retry-After', String(exception.retryAfterSeconds));
      }
      const body =
        shape === 'jsonrpc'
          ? { jsonrpc: '2.0', id: null, error: toJsonRpcError(status, detail, cause) }
          : toA2aRestError(status, detail);
      void reply.status(status).header('Content-Type', 'application/json').send(body);
      return;
    }

    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const { detail, errors, body } = describeHttpException(exception);
      if (body !== undefined && status === 503) {
        // Readiness answers keep Terminus' shape, which probes and dashboards expect.
        void reply.status(status).header('Cache-Control', 'no-store').send(body);
        return;
      }
      const retryAfter =
        exception instanceof TooManyRequestsException ? exception.retryAfterSeconds : undefined;
      sendProblem(
        reply,
        toProblem(status, detail, { instance: request.url, ...(errors ? { errors } : {}) }),
        retryAfter,
      );
      return;
    }

    const fastifyStatus = (exception as { statusCode?: unknown }).statusCode;
    if (typeof fastifyStatus === 'number' && fastifyStatus >= 400 && fastifyStatus < 500) {
      sendProblem(
        reply,
        toProblem(fastifyStatus, (exception as Error).message, { instance: request.url }),
      );
      return;
    }

    const errorId = randomUUID();
    this.logger.error({ err: exception, errorId }, `Unhandled error ${errorId}`);
    sendProblem(
      reply,
      toProblem(HttpStatus.INTERNAL_SERVER_ERROR, 'An unexpected error occurred', {
        errorId,
        instance: request.url,
      }),
    );
  }
}
