# syntax=docker/dockerfile:1
# One image for the three apps: APP=agent|orchestrator|registry picks the
# entrypoint (APP=migrate runs the database migrations and exits).
#   docker build -t a2a-platform .
#   docker run -e APP=registry -e DATABASE_URL=... -e REDIS_URL=... -e BOOTSTRAP_API_KEY=... a2a-platform

ARG NODE_IMAGE=node:20.20-bookworm-slim

# Dependencies, including the build tools (cached while the lockfile is unchanged).
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund

# Compile apps and libs, then drop the development dependencies.
FROM deps AS build
COPY nest-cli.json tsconfig.json tsconfig.build.json ./
COPY apps ./apps
COPY libs ./libs
RUN npm run build \
  && npm prune --omit=dev --no-audit --no-fund \
  && npm cache clean --force

# The runtime: compiled output and production dependencies only, as the unprivileged node user.
FROM ${NODE_IMAGE} AS runtime
RUN apt-get update \
  && apt-get install -y --no-install-recommends tini=0.19.* \
  && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    APP=agent \
    HOST=0.0.0.0
WORKDIR /app
COPY --from=build --chown=root:root /app/package.json ./package.json
COPY --from=build --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/dist ./dist
COPY --chown=root:root docker/entrypoint.sh docker/healthcheck.mjs ./docker/
USER node
EXPOSE 8000 8001 8002
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "docker/healthcheck.mjs"]
ENTRYPOINT ["/usr/bin/tini", "--", "/bin/sh", "docker/entrypoint.sh"]
