import { BadRequestException, ValidationPipe, type ArgumentMetadata } from '@nestjs/common';

/** Deeper than any body the platform's APIs take; class-transformer recurses once per level. */
export const MAX_BODY_DEPTH = 32;

/** Whether a parsed JSON value nests deeper than `limit` (iteratively: no stack to overflow). */
export function nestsDeeperThan(value: unknown, limit: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop() as [unknown, number];
    if (current === null || typeof current !== 'object') continue;
    if (depth >= limit) return true;
    for (const child of Object.values(current as Record<string, unknown>)) {
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
    }
  }
  return false;
}

/** Validated query DTOs remembered per DTO class (discovery and listings repeat their queries). */
const MAX_REMEMBERED_QUERIES = 1_000;

/**
 * The platform's validation: whitelisted DTOs, transformed, and bodies nested
 * deeper than {@link MAX_BODY_DEPTH} refused with 400 before class-transformer
 * walks them (it would overflow the stack and answer 500).
 *
 * A query string that passed validation is remembered (by DTO class and the
 * parsed query), and the next request with the same query gets a copy of its
 * DTO without class-transformer and class-validator running again: on a hot
 * lookup route they cost more than the lookup itself.
 */
export class PlatformValidationPipe extends ValidationPipe {
  private readonly queries = new WeakMap<object, Map<string, object>>();

  constructor() {
    super({ whitelist: true, forbidNonWhitelisted: true, transform: true });
  }

  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    // What a custom parameter decorator gives (the caller's auth) is not validated: as ValidationPipe does.
    if (metadata.type === 'custom') return value;
    if (metadata.type === 'body' && nestsDeeperThan(value, MAX_BODY_DEPTH)) {
      throw new BadRequestException(`The JSON body is nested deeper than ${MAX_BODY_DEPTH} levels`);
    }
    const dto = metadata.metatype;
    if (metadata.type !== 'query' || dto === undefined || !this.toValidate(metadata))
      return super.transform(value, metadata);

    let remembered = this.queries.get(dto);
    if (remembered === undefined) {
      remembered = new Map();
      this.queries.set(dto, remembered);
    }
    const key = JSON.stringify(value);
    let validated = remembered.get(key);
    if (validated === undefined) {
      validated = (await super.transform(value, metadata)) as object;
      if (remembered.size >= MAX_REMEMBERED_QUERIES) remembered.clear();
      remembered.set(key, validated);
    }
    // A copy, so that a handler changing its DTO cannot change the next request's.
    return Object.assign(
      Object.create(Object.getPrototypeOf(validated) as object) as object,
      validated,
    );
  }
}
