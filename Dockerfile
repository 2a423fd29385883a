# Image of the Custom Pod Autoscaler agent: one standalone executable at /usr/local/bin/cpa
# that needs no Node.js or Bun at run time.
#
#   docker build -t cpa:latest .
#
# An autoscaler image is usually the image that runs its metric and evaluate scripts (Python,
# Java, Go, ...) with the agent copied in, plus the configuration at /config.yaml:
#
#   FROM python:3.12-slim
#   COPY --from=cpa:latest /usr/local/bin/cpa /usr/local/bin/cpa
#   COPY config.yaml metric.py evaluate.py /
#   CMD ["/usr/local/bin/cpa"]
#
# The executable built here needs glibc 2.17 or newer, so it runs on Debian, Ubuntu and other
# glibc-based images. Alpine and other musl-based images need the musl build:
# `npm run build -- --target bun-linux-x64-musl` (or bun-linux-arm64-musl) writes
# dist/cpa-linux-x64-musl, which also needs libstdc++ in the image (`apk add libstdc++`).
#
# example/python-custom-autoscaler/ contains a complete autoscaler built this way.

# The build stage compiles for the platform it runs on, so `docker buildx build --platform
# linux/arm64` on an x64 machine runs it under emulation and produces an arm64 executable.
FROM node:20-bookworm AS build
WORKDIR /src

# Dependencies first, so that this layer is reused while only the sources change.
COPY package.json package-lock.json ./
RUN npm ci

COPY bunfig.toml tsconfig.json ./
COPY scripts/ scripts/
COPY src/ src/
RUN npm run build

# Minimal runtime: a glibc base and the executable. The agent reads /config.yaml unless
# --config or CONFIG_PATH names another file, so mount or copy the configuration there.
FROM debian:bookworm-slim
COPY --from=build /src/dist/cpa /usr/local/bin/cpa
ENTRYPOINT ["/usr/local/bin/cpa"]
