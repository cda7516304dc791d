import { Injectable } from '@nestjs/common';

/** Whether the app is draining; `/ready` answers 503 from the moment shutdown begins. */
@Injectable()
export class LifecycleState {
  private shuttingDown = false;
  private readonly startedAt = Date.now();

  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  get uptimeSeconds(): number {
    return Math.round((Date.now() - this.startedAt) / 1000);
  }

  beginShutdown(): void {
    this.shuttingDown = true;
  }
}
