/**
 * Jest transformer for the CommonJS packages that `require()` NestJS
 * (@nestjs/throttler, @willsoto/nestjs-prometheus). NestJS 12 is ESM-only;
 * Node 20 loads it from CommonJS natively (require(esm)), but jest's module
 * runtime cannot before Node 24.9. The transform points those requires at
 * the ESM instances the test file already loaded (see nest-esm-registry.ts),
 * so both sides share one @nestjs/common and one @nestjs/core, as in production.
 */
const NEST_REQUIRE = /require\("(@nestjs\/(?:common|core))"\)/g;

module.exports = {
  process(sourceText) {
    return {
      code: sourceText.replace(
        NEST_REQUIRE,
        (_, id) => `globalThis.__nestEsmRegistry[${JSON.stringify(id)}]`,
      ),
    };
  },
  getCacheKey(sourceText, sourcePath) {
    return `cjs-nest-interop-1:${sourcePath}:${sourceText.length}:${require('node:crypto').createHash('sha1').update(sourceText).digest('hex')}`;
  },
};
