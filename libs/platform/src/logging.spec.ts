import { describe, expect, it } from '@jest/globals';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { PlatformLogger } from './logging.js';

function capture(): { logger: PlatformLogger; lines: () => Array<Record<string, unknown>> } {
  let output = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      output += chunk.toString('utf8');
      done();
    },
  });
  const logger = new PlatformLogger(pino({ level: 'info', messageKey: 'msg' }, stream));
  return {
    logger,
    lines: () =>
      output
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

describe('PlatformLogger (Nest logger interface on pino)', () => {
  it('writes the message with its context, the way `new Logger(Context)` calls it', () => {
    const { logger, lines } = capture();
    logger.log('listening', 'Bootstrap');
    logger.warn('slow', 'Registry');
    expect(lines()).toMatchObject([
      { level: 30, msg: 'listening', context: 'Bootstrap' },
      { level: 40, msg: 'slow', context: 'Registry' },
    ]);
  });

  it('takes a first object as the fields of the line and the next string as its message', () => {
    const { logger, lines } = capture();
    logger.error({ err: new Error('boom'), errorId: 'e-1' }, 'Unhandled error e-1', 'Errors');
    const [line] = lines();
    expect(line).toMatchObject({ level: 50, msg: 'Unhandled error e-1', errorId: 'e-1' });
    expect(line.context).toBe('Errors');
    expect((line.err as { message: string; stack: string }).message).toBe('boom');
    expect((line.err as { stack: string }).stack).toContain('Error: boom');
  });

  it("keeps Nest's stack parameter and serialises a thrown Error", () => {
    const { logger, lines } = capture();
    logger.error('failed', 'Error: x\n    at here', 'Worker');
    logger.error(new Error('bad'), 'Worker');
    expect(lines()).toMatchObject([
      { msg: 'failed', stack: 'Error: x\n    at here', context: 'Worker' },
      { msg: 'bad', err: { message: 'bad' }, context: 'Worker' },
    ]);
  });

  it('writes nothing below its level', () => {
    const { logger, lines } = capture();
    logger.debug('details', 'X');
    logger.verbose('more', 'X');
    expect(lines()).toEqual([]);
  });
});
