import { SSE_HEADERS, formatSSEErrorEvent, formatSSEEvent } from '@a2a-js/sdk';
import type { FastifyReply } from 'fastify';
import type { Gauge } from 'prom-client';

export interface SseStream<T> {
  /** The first event, already read (so that an error before it could still be answered otherwise). */
  readonly first: IteratorResult<T, void>;
  readonly events: AsyncGenerator<T, void, undefined>;
  /** The wire form of one event. */
  readonly toWire: (event: T) => unknown;
  /** The wire form of an error raised while streaming. */
  readonly errorToWire: (error: unknown) => unknown;
  readonly activeStreams: Gauge<'agent'>;
  readonly agent: string;
}

/**
 * Writes an event stream to the caller until the events end or the caller
 * goes away (then the rest is not read). An error while streaming becomes a
 * final `event: error`.
 */
export async function pipeSse<T>(reply: FastifyReply, stream: SseStream<T>): Promise<void> {
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, { ...SSE_HEADERS, ...(reply.getHeaders() as Record<string, string>) });
  stream.activeStreams.inc({ agent: stream.agent });
  let open = true;
  raw.on('close', () => {
    open = false;
  });
  try {
    if (!stream.first.done) raw.write(formatSSEEvent(stream.toWire(stream.first.value)));
    while (open) {
      const next = await stream.events.next();
      if (next.done) break;
      raw.write(formatSSEEvent(stream.toWire(next.value)));
    }
    if (!open) await stream.events.return(undefined);
  } catch (error) {
    if (open) raw.write(formatSSEErrorEvent(stream.errorToWire(error)));
  } finally {
    stream.activeStreams.dec({ agent: stream.agent });
    if (!raw.writableEnded) raw.end();
  }
}
