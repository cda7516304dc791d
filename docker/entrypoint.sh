#!/bin/sh
# Starts the app named by APP from the compiled output; tini (PID 1) forwards
# SIGTERM so that the app drains before it exits.
set -eu
case "${APP:-}" in
  agent)
    # Each replica registers the address it answers on; the container's
    # hostname resolves on the compose network. Kubernetes sets the pod's.
    export A2A_PUBLIC_URL="${A2A_PUBLIC_URL:-http://${HOSTNAME:-$(hostname)}:${PORT:-8000}}"
    exec node "dist/apps/agent/src/main.js" "$@"
    ;;
  orchestrator | registry)
    exec node "dist/apps/${APP}/src/main.js" "$@"
    ;;
  migrate)
    exec node dist/libs/persistence/src/cli/migrate.js run
    ;;
  *)
    echo "entrypoint: APP must be agent, orchestrator, registry or migrate (got \"${APP:-}\")" >&2
    exit 64
    ;;
esac
