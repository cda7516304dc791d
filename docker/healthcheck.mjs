// Container health check: exit 0 when this container's app answers /ready.
// Uses Node's fetch, so the image needs no curl or wget.
const DEFAULT_PORTS = { agent: 8000, orchestrator: 8001, registry: 8002 };
const port = process.env.PORT ?? DEFAULT_PORTS[process.env.APP ?? 'agent'];
if (port === undefined) {
  console.error(`healthcheck: no port for APP=${process.env.APP}`);
  process.exit(1);
}
try {
  const response = await fetch(`http://127.0.0.1:${port}/ready`, {
    signal: AbortSignal.timeout(4000),
  });
  process.exit(response.ok ? 0 : 1);
} catch (error) {
  console.error(`healthcheck: ${error.message}`);
  process.exit(1);
}
