#!/usr/bin/env bash
# Makes sure the tools the deployment tests run are present: promtool and
# prometheus (Debian's prometheus package) and kubectl with kustomize.
# Idempotent; used by CI.
set -euo pipefail

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
  echo "tools: installing Prometheus (promtool) from Debian's packages"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi

if ! command -v kubectl >/dev/null 2>&1; then
  echo "tools: kubectl (1.27 or later, with kustomize) is needed by the Kubernetes manifest tests" >&2
  exit 1
fi

echo "tools: $(promtool --version 2>&1 | head -n 1); kubectl $(kubectl version --client 2>/dev/null | head -n 1)"
