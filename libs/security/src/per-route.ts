import type { ExecutionContext } from '@nestjs/common';

type Handler = ReturnType<ExecutionContext['getHandler']>;
type Controller = ReturnType<ExecutionContext['getClass']>;

/**
 * A value worked out once per route (controller class and handler) rather
 * than on every request, such as what the route's decorators say: reading
 * metadata through the Reflector costs more than a hot route's own work.
 */
export class PerRoute<T> {
  /** By controller class, then handler (a handler may be inherited by several controllers). */
  private readonly routes = new WeakMap<Controller, Map<Handler, T>>();

  constructor(private readonly compute: (targets: [Handler, Controller]) => T) {}

  of(context: ExecutionContext): T {
    const handler = context.getHandler();
    const controller = context.getClass();
    let handlers = this.routes.get(controller);
    if (handlers === undefined) {
      handlers = new Map();
      this.routes.set(controller, handlers);
    }
    if (!handlers.has(handler)) handlers.set(handler, this.compute([handler, controller]));
    return handlers.get(handler) as T;
  }
}
