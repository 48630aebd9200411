# shellgate — multi-stage build on Node LTS (Debian), runs as a non-root user.
# Build:  docker build -t shellgate .
# Run:    docker run -p 2222:2222 -p 8080:8080 -v $PWD/deploy:/etc/shellgate -v shellgate-data:/var/lib/shellgate \
#           -e SHELLGATE_MASTER_KEY=... shellgate serve --config /etc/shellgate/shellgate.yaml

FROM node:20-bookworm AS build
WORKDIR /src
# Native modules (better-sqlite3, node-pty) build here with node-gyp.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
# prepare (the TypeScript build) runs below, once the sources are in; native modules are rebuilt explicitly.
RUN npm ci --ignore-scripts && npm rebuild better-sqlite3 node-pty
COPY tsconfig.json ./
COPY src ./src
COPY test ./test
COPY bench ./bench
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends openssh-client tini && rm -rf /var/lib/apt/lists/* \
 && groupadd --system shellgate && useradd --system --gid shellgate --home /var/lib/shellgate --create-home shellgate
WORKDIR /app
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY policies ./policies
USER shellgate
VOLUME ["/var/lib/shellgate"]
EXPOSE 2222 8080
# The V8 flag: see src/cli/node-flags.ts (Node refuses it in NODE_OPTIONS).
ENTRYPOINT ["/usr/bin/tini", "--", "node", "--initial-old-space-size=64", "/app/bin/shellgate.js"]
CMD ["serve", "--config", "/etc/shellgate/shellgate.yaml"]
