# syntax=docker/dockerfile:1
# The mtls-ambassador image. Build stage: npm ci, compile, prune to production dependencies. Runtime stage: a Node LTS
# slim image running as UID/GID 65534 with only dist/, production node_modules and package.json. No certificate or
# key is baked in: mount them at /etc/mtls/certs (README, Deployment). Works with a read-only root filesystem.
ARG NODE_IMAGE=node:24.22-trixie-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build
RUN npm prune --omit=dev --ignore-scripts --no-audit --no-fund

FROM ${NODE_IMAGE}
LABEL org.opencontainers.image.title="mtls-ambassador" \
      org.opencontainers.image.description="mTLS gateway for Mender device fleets" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV NODE_ENV=production
# one worker process per available core (capped by the container's CPU limit); MTLS_WORKERS=1 for a single process
ENV MTLS_WORKERS=auto
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
USER 65534:65534
# 8080: mTLS listener (MTLS_LISTEN); 8081: plain-HTTP status listener (MTLS_STATUS_LISTEN)
EXPOSE 8080 8081
# Liveness on the status port (slim images have no curl); follows MTLS_STATUS_LISTEN's port when it is set.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "const l=process.env.MTLS_STATUS_LISTEN||'8081';require('node:http').get({host:'127.0.0.1',port:l.slice(l.lastIndexOf(':')+1),path:'/healthz'},r=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1))"]
ENTRYPOINT ["node", "dist/cli.js"]
CMD ["serve"]
