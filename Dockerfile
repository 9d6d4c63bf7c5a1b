# syntax=docker/dockerfile:1
# Strata's image for docker-compose.yml: the `strata` command (API, workers, migrations, tokens)
# and the built web app. Two targets:
#
#   runtime (default)  node:20 on Debian bookworm, CPU inference
#   gpu                the same files on CUDA 12 + cuDNN 9, with onnxruntime-node's CUDA binaries
#
#   docker build -t strata:local .
#   docker build -t strata:local-gpu --target gpu .
#
# Base images are pinned by version and digest: the same Dockerfile builds the same system.
# To move to a newer one: `docker buildx imagetools inspect node:20.x.y-bookworm-slim`.
ARG NODE_IMAGE=node:20.20.2-bookworm-slim@sha256:2cf067cfed83d5ea958367df9f966191a942351a2df77d6f0193e162b5febfc0
# onnxruntime-node 1.30's CUDA binaries (NuGet Microsoft.ML.OnnxRuntime.Gpu.Linux) link CUDA 12 and cuDNN 9.
ARG CUDA_IMAGE=nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04@sha256:ac55d124da4882b497f732d8dfd9a702d5447a5f29d08d56da6f64f0a1eb34bc

# ---- dependencies: only the manifests, so that a source change does not reinstall them ----
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
# .npmrc skips onnxruntime-node's CUDA download (hundreds of MB the CPU image never uses).
COPY package.json package-lock.json .npmrc ./
COPY packages/core/package.json packages/core/
COPY apps/api/package.json apps/api/
COPY apps/cli/package.json apps/cli/
COPY apps/web/package.json apps/web/
COPY test/package.json test/
COPY bench/package.json bench/
RUN npm ci

# ---- build: TypeScript to dist/, the web app to .next/ (the same scripts turbo runs, in order) ----
FROM deps AS build
ENV NEXT_TELEMETRY_DISABLED=1
COPY tooling tooling
COPY prisma prisma
COPY packages/core packages/core
COPY apps apps
RUN npm run build -w @strata/core \
 && npm run build -w @strata/api \
 && npm run build -w @strata/cli \
 && npm run build -w @strata/web

# ---- production dependencies: the same install without the build and test tools ----
FROM deps AS prod-deps
RUN npm prune --omit=dev

# ---- the CPU image's files, laid out as in the repository ----
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    NEXT_TELEMETRY_DISABLED=1 \
    STRATA_DATA_DIR=/var/lib/strata \
    STRATA_CACHE_DIR=/var/cache/strata \
    STRATA_API_HOST=0.0.0.0
WORKDIR /app
COPY --from=prod-deps /app/node_modules node_modules
COPY package.json ./
# Migrations are read at run time (`strata db migrate`, and every start checks them).
COPY prisma/migrations prisma/migrations
COPY --from=build /app/packages/core/package.json packages/core/
COPY --from=build /app/packages/core/dist packages/core/dist
COPY --from=build /app/apps/api/package.json /app/apps/api/schema.graphql apps/api/
COPY --from=build /app/apps/api/dist apps/api/dist
COPY --from=build /app/apps/cli/package.json apps/cli/
COPY --from=build /app/apps/cli/bin apps/cli/bin
COPY --from=build /app/apps/cli/dist apps/cli/dist
COPY --from=build /app/apps/web/package.json /app/apps/web/next.config.ts /app/apps/web/tsconfig.json apps/web/
COPY --from=build /app/apps/web/.next apps/web/.next
# Volumes start as copies of these folders, so they belong to the user the services run as.
RUN ln -s /app/apps/cli/bin/strata.js /usr/local/bin/strata \
 && mkdir -p /var/lib/strata /var/cache/strata/models /imports \
 && chown -R 1000:1000 /var/lib/strata /var/cache/strata
USER 1000:1000
ENTRYPOINT ["node", "/app/apps/cli/bin/strata.js"]
CMD ["--help"]

# ---- onnxruntime-node's CUDA 12 binaries (downloaded from NuGet by its install script) ----
FROM prod-deps AS gpu-deps
ARG ONNXRUNTIME_NODE_INSTALL=cuda12
RUN ONNXRUNTIME_NODE_INSTALL=${ONNXRUNTIME_NODE_INSTALL} npm rebuild onnxruntime-node \
 && test -f node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime_providers_cuda.so

# ---- the GPU image: CUDA's runtime libraries, Node copied from the Node image ----
FROM ${NODE_IMAGE} AS node-binary
FROM ${CUDA_IMAGE} AS gpu
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=node-binary /usr/local/bin/node /usr/local/bin/node
COPY --from=runtime /app /app
COPY --from=gpu-deps /app/node_modules/onnxruntime-node /app/node_modules/onnxruntime-node
ENV NODE_ENV=production \
    NEXT_TELEMETRY_DISABLED=1 \
    STRATA_DATA_DIR=/var/lib/strata \
    STRATA_CACHE_DIR=/var/cache/strata \
    STRATA_API_HOST=0.0.0.0 \
    STRATA_WORKER_DEVICE=cuda
WORKDIR /app
RUN ln -s /app/apps/cli/bin/strata.js /usr/local/bin/strata \
 && mkdir -p /var/lib/strata /var/cache/strata/models /imports \
 && chown -R 1000:1000 /var/lib/strata /var/cache/strata
USER 1000:1000
ENTRYPOINT ["node", "/app/apps/cli/bin/strata.js"]
CMD ["worker"]

# The default target (`docker build .`) is the CPU image.
FROM runtime
