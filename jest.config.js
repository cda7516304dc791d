/** CommonJS packages that require() NestJS; see test/setup/cjs-nest-interop.cjs. */
const CJS_NEST_PACKAGES = '(@nestjs/throttler|@willsoto/nestjs-prometheus)';

/**
 * NestJS 12 ships ESM only, which jest can load only in its ESM mode: the
 * project is `"type": "module"`, ts-jest transpiles with `useESM`, and jest
 * runs under `--experimental-vm-modules` (see the README, Development).
 * @type {import('jest').Config}
 */
export default {
  testEnvironment: 'node',
  rootDir: '.',
  roots: ['<rootDir>/apps', '<rootDir>/libs', '<rootDir>/test', '<rootDir>/docs'],
  testMatch: ['**/*.spec.ts', '**/*.e2e-spec.ts'],
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: {
    '^@app/([a-z0-9-]+)$': '<rootDir>/libs/$1/src/index.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: '<rootDir>/tsconfig.json' }],
    [`/node_modules/${CJS_NEST_PACKAGES}/.+\\.js$`]: '<rootDir>/test/setup/cjs-nest-interop.cjs',
  },
  transformIgnorePatterns: [`/node_modules/(?!${CJS_NEST_PACKAGES}/)`],
  setupFiles: ['<rootDir>/test/setup/nest-esm-registry.ts'],
  globalSetup: '<rootDir>/test/setup/global-setup.ts',
  globalTeardown: '<rootDir>/test/setup/global-teardown.ts',
  testTimeout: 60_000,
  maxWorkers: 2,
};
