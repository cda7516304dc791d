import { Public } from '@app/security';
import { Controller, Get, Header } from '@nestjs/common';
import { SkipThrottle } from '@nestjs/throttler';
import type { JWK } from 'jose';
import { PlatformKeys } from './platform-keys.js';

/** `GET /.well-known/jwks.json`: the public keys that verify push notification JWTs and card signatures. */
@Public()
@SkipThrottle()
@Controller()
export class JwksController {
  constructor(private readonly keys: PlatformKeys) {}

  @Get('.well-known/jwks.json')
  @Header('Content-Type', 'application/jwk-set+json')
  @Header('Cache-Control', 'public, max-age=300')
  jwks(): { keys: JWK[] } {
    return this.keys.jwks();
  }
}
