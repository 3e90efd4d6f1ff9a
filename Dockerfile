# syntax=docker/dockerfile:1
#
# wirespan image: the agent (`wirespan run`, the default command) and tcpdump for the Helm
# chart's `capture` container, in one image.
#
#   docker build -t wirespan:dev .
#   docker run --rm -v "$PWD/test/fixtures:/data:ro" wirespan:dev replay /data/demo.pcap
#
# Why tcpdump is in this image rather than a separate capture image: the chart runs both
# containers of a pod from one image, so they are always the same version and a cluster
# mirrors, scans and pins one artifact; tcpdump and libpcap add a few MB to the Node image. tcpdump carries file capabilities (cap_net_raw, cap_net_admin) so that it
# captures as a NON-ROOT user: Debian's tcpdump, started as root, always drops privileges to
# its `tcpdump` user, which needs CAP_SETUID/CAP_SETGID (with only NET_RAW/NET_ADMIN it exits
# "Couldn't change to 'tcpdump' uid=...: Operation not permitted"). File capabilities only
# take effect where the container's capability bounding set includes both, i.e. in the
# chart's capture container (capabilities add: NET_RAW, NET_ADMIN); the agent container
# drops ALL capabilities, so there tcpdump cannot open a capture at all. To use another
# capture image, set `capture.image` in the chart (see helm/wirespan/values.yaml).
#
# The image runs the bundle (agent/build-bundle.ts, `npm run build`): dist/main.mjs, its worker
# and chunks, every dependency inside, so the image has no node_modules. Node loads a few dozen
# files instead of ~465 modules before `run` watches (docs/performance.md). The licence texts of
# the bundled packages are in dist/THIRD-PARTY-LICENSES.txt. Pin the base images by digest for
# releases, e.g.
#   docker build --build-arg NODE_IMAGE=node:24-trixie-slim@sha256:... .

ARG NODE_IMAGE=node:24-trixie-slim

# ---- build: the bundle, made with the dev dependencies (esbuild).
FROM ${NODE_IMAGE} AS build
WORKDIR /opt/wirespan
COPY package.json package-lock.json ./
# --ignore-scripts: esbuild runs from its platform package without its install script, and the
# `node` devDependency's binary is not needed (the image's node builds).
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY agent ./agent
# The build script itself (what `npm run build` runs), with the image's node.
RUN node agent/build-bundle.ts

# ---- runtime
FROM ${NODE_IMAGE} AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown

LABEL org.opencontainers.image.title="wirespan" \
      org.opencontainers.image.description="Packet captures in, OpenTelemetry spans out: pairs requests with responses on the wire and exports them with their real capture timestamps." \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="${NODE_IMAGE}"

# tini: PID 1 that forwards SIGTERM/SIGINT to node and reaps zombies.
# tcpdump: for the chart's capture container (see above); libcap2-bin only for setcap.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini tcpdump libcap2-bin \
 && setcap cap_net_raw,cap_net_admin=eip "$(command -v tcpdump)" \
 && apt-get purge -y --auto-remove libcap2-bin \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 65532 wirespan \
 && useradd --system --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin wirespan \
 && install -d -m 0700 -o 65532 -g 65532 /tmp/node-compile-cache

WORKDIR /opt/wirespan
COPY --from=build /opt/wirespan/dist ./dist

# NODE_COMPILE_CACHE: Node's compile cache (with the bundle it saves only ~20 ms of a start, the
# sources' ~3x is type stripping; docs/performance.md) must be writable; with a
# read-only root filesystem mount a tmpfs/emptyDir on /tmp (the chart does), otherwise Node
# simply runs without the cache. It holds code Node runs, so it is private to the image's
# user (made above with mode 0700; on an emptyDir Node creates it as that user), and
# dist/main.mjs (agent/cli/main.mjs) restarts without it when another user owns it or may write it.
ENV NODE_ENV=production \
    NODE_COMPILE_CACHE=/tmp/node-compile-cache \
    WIRESPAN_HEALTH_PORT=8089

# Non-root, numeric (so Kubernetes' runAsNonRoot can verify it).
USER 65532:65532

# /healthz and /readyz of `wirespan run` (--health-port, WIRESPAN_HEALTH_PORT).
EXPOSE 8089

# Docker only (Kubernetes ignores HEALTHCHECK; the chart has probes). Exec form: no shell.
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.WIRESPAN_HEALTH_PORT || 8089) + '/healthz', { signal: AbortSignal.timeout(2500) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# node runs directly under tini (never through npm, which does not forward signals):
# SIGTERM drains the pipeline, flushes spans and the checkpoint, and exits 0. The Helm chart
# runs this entrypoint with `run`'s V8 flags after `node` (so the agent does not restart
# itself at start: agent/cli/restart-settings.mjs); test/ship/chart-process-settings pins it.
ENTRYPOINT ["/usr/bin/tini", "--", "node", "dist/main.mjs"]
CMD ["run", "--watch", "/pcaps", "--state-dir", "/tmp/wirespan-state"]
