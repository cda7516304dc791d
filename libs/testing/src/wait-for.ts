import { setTimeout as sleep } from 'node:timers/promises';

/** Polls until `check` returns true; rethrows what `check` throws, fails after the timeout. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  options: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline)
      throw new Error(`Timed out waiting for ${options.what ?? 'a condition'}`);
    await sleep(options.intervalMs ?? 100);
  }
}
