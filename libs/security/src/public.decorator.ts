import { SetMetadata } from '@nestjs/common';

export const IS_PUBLIC = 'a2a:public';

/** Marks a route or controller as reachable without credentials (health, metrics, agent cards). */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(IS_PUBLIC, true);
