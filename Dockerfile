# syntax=docker/dockerfile:1

# ---- build: compile the TypeScript server with the dev dependencies --------------------------------------
FROM node:20.20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY server ./server
COPY bench ./bench
RUN npm run build

# ---- runtime: production dependencies and the compiled server only ----------------------------------------
FROM node:20.20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production HOST=0.0.0.0 PORT=4000
# package.json's `allowScripts` is read by npm 11; this image's npm 10 ignores it and runs install scripts.
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --no-audit --no-fund
COPY --from=build /app/dist ./dist
# The code stays root-owned (read-only for the server). Only DATA_DIR is writable, for the embedded Postgres
# that runs when no DATABASE_URL is given (`docker run` with nothing else); compose always sets DATABASE_URL.
RUN mkdir -p /app/.data && chown node:node /app/.data
USER node
EXPOSE 4000
# node is PID 1 here: it handles SIGTERM itself (drains, exits within 10 s). Under compose, `init: true`
# puts docker-init in front of it to reap zombies and forward signals.
STOPSIGNAL SIGTERM
# The slim image has no curl: probe with node's own fetch.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:4000/healthz').then(r=>process.exit(r.ok?0:1)).catch(()=>process.exit(1))"]
CMD ["node", "dist/server/src/main.js"]
