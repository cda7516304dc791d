import type { PlatformConfig } from '@app/config';
import { afterAll, describe, expect, it, jest } from '@jest/globals';
import { ConfigService } from '@nestjs/config';
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { RunningTasksRegistry } from './running-tasks.registry.js';
import { TaskEventHub } from './task-event-hub.js';

describe('RunningTasksRegistry (real Redis)', () => {
  const redis = new Redis({ host: '127.0.0.1', port: Number(process.env.REDIS_PORT ?? 6379) });
  const hub = new TaskEventHub(redis);
  const registryOf = (instanceId: string) =>
    new RunningTasksRegistry(
      redis,
      hub,
      new ConfigService<PlatformConfig, true>({
        redis: { keyPrefix: `${process.env.REDIS_KEY_PREFIX}-running` },
        app: { instanceId },
      } as PlatformConfig),
    );

  afterAll(async () => {
    await redis.quit();
  });

  /** `ended` does not wait for Redis: poll until the key has the expected owner. */
  async function ownerBecomes(
    registry: RunningTasksRegistry,
    taskId: string,
    expected: string | undefined,
  ): Promise<void> {
    for (let attempt = 0; attempt < 100; attempt++) {
      if ((await registry.executorOf(taskId)) === expected) return;
      await sleep(10);
    }
    expect(await registry.executorOf(taskId)).toBe(expected);
  }

  it('releases a task it runs with the release script sent by its SHA, not as text each time', async () => {
    const registry = registryOf('replica-a');
    const run = async () => {
      const taskId = randomUUID();
      registry.started(taskId);
      registry.claim([taskId]);
      await ownerBecomes(registry, taskId, 'replica-a');
      registry.ended(taskId);
      await ownerBecomes(registry, taskId, undefined);
    };
    // The first use on a connection sends the script (EVAL); every later one, its SHA.
    await run();
    const send = jest.spyOn(redis, 'sendCommand');
    await run();
    await run();
    const names = send.mock.calls.map(([command]) => command.name.toLowerCase());
    send.mockRestore();
    expect(names.filter((name) => name === 'evalsha')).toHaveLength(2);
    expect(names).not.toContain('eval');
  });

  it('does not release a task another replica has taken over since', async () => {
    const a = registryOf('replica-a');
    const b = registryOf('replica-b');
    const taskId = randomUUID();
    a.started(taskId);
    a.claim([taskId]);
    await ownerBecomes(a, taskId, 'replica-a');
    b.started(taskId);
    b.claim([taskId]);
    await ownerBecomes(a, taskId, 'replica-b');
    a.ended(taskId);
    // The release of replica A has run once a later command on the same connection answers.
    await redis.ping();
    expect(await a.executorOf(taskId)).toBe('replica-b');
    b.ended(taskId);
    await ownerBecomes(b, taskId, undefined);
  });

  it('claims a task only once, only while it runs, and a task that ended unclaimed costs Redis nothing', async () => {
    const registry = registryOf('replica-a');
    const [short, long, foreign] = [randomUUID(), randomUUID(), randomUUID()];
    const send = jest.spyOn(redis, 'sendCommand');
    registry.started(short);
    registry.ended(short);
    registry.claim([short, foreign]);
    await redis.ping();
    const afterShort = send.mock.calls.map(([command]) => command.name.toLowerCase());
    registry.started(long);
    registry.claim([long]);
    registry.claim([long]);
    await ownerBecomes(registry, long, 'replica-a');
    const claims = send.mock.calls.filter(([command]) => command.name.toLowerCase() === 'set');
    send.mockRestore();
    // Nothing but the ping for the task that ended before its events were written.
    expect(afterShort).toEqual(['ping']);
    expect(await registry.executorOf(short)).toBeUndefined();
    expect(await registry.executorOf(foreign)).toBeUndefined();
    expect(claims).toHaveLength(1);
    registry.ended(long);
    await ownerBecomes(registry, long, undefined);
  });
});
