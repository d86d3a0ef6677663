# Switchboard image: `docker compose up -d` builds it (see docs/operations.md).
#
# Three stages on the same base, so native packages match the runtime's libc:
#   deps       full `npm ci`: its postinstall runs `prisma generate` (src/db/generated),
#              which needs the Prisma CLI, a dev dependency;
#   prod-deps  production dependencies only (scripts off: the postinstall above needs the
#              dev dependencies, and its output is copied from `deps` instead);
#   runtime    the app as TypeScript run by tsx (a runtime dependency), as user `node`.
# Migrations are applied by the app itself on start (src/db/migrate.ts), not at build time.

FROM node:22-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json prisma.config.ts ./
COPY scripts ./scripts
COPY prisma ./prisma
RUN npm ci --no-audit --no-fund

FROM node:22-bookworm-slim AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

FROM node:22-bookworm-slim AS runtime
ENV NODE_ENV=production \
    PORT=3000
WORKDIR /app
# Code stays owned by root (read-only to the app); only the data folder is the app's, for
# the embedded database when DATABASE_URL is unset.
COPY --from=prod-deps /app/node_modules ./node_modules
COPY package.json package-lock.json tsconfig.json ./
COPY prisma ./prisma
COPY workflows ./workflows
COPY src ./src
COPY --from=deps /app/src/db/generated ./src/db/generated
RUN mkdir -p /app/data && chown node:node /app/data
USER node
EXPOSE 3000
# The slim image has no curl: ask Node. /healthz answers on PORT in both HTTP and Socket Mode.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Node itself as the main process (not npm), so SIGTERM from `docker stop` reaches the app.
CMD ["node", "--import", "tsx", "src/main.ts"]
