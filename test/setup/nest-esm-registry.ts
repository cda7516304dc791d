import * as common from '@nestjs/common';
import * as core from '@nestjs/core';

/**
 * The ESM instances of @nestjs/common and @nestjs/core that this test file
 * uses, handed to the CommonJS Nest packages by `cjs-nest-interop.cjs`.
 */
(globalThis as Record<string, unknown>).__nestEsmRegistry = {
  '@nestjs/common': common,
  '@nestjs/core': core,
};
