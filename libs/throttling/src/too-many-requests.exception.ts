import { HttpException, HttpStatus } from '@nestjs/common';

/** 429 that remembers when the caller may come back; the error filter turns it into `Retry-After`. */
export class TooManyRequestsException extends HttpException {
  constructor(readonly retryAfterSeconds: number) {
    super(`Rate limit exceeded; retry in ${retryAfterSeconds} s`, HttpStatus.TOO_MANY_REQUESTS);
  }
}
