#!/usr/bin/env bash
# Installs what a fresh Debian machine with Node 20 lacks: Debian packages, pnpm at the pinned
# version, the workspace's npm dependencies, then builds the native core and the TypeScript.
source "$(dirname "$0")/lib.sh"

node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)' || die "Node.js 20 or newer is required"

apt_install ca-certificates build-essential python3 git cpio busybox-static qemu-system-x86 \
  linux-image-cloud-amd64 bubblewrap libseccomp-dev nats-server docker-compose openssl procps iproute2

if [ "$(pnpm --version 2>/dev/null || true)" != "$PNPM_VERSION" ]; then
  say "installing pnpm $PNPM_VERSION"
  as_root npm install -g --no-fund --no-audit "pnpm@$PNPM_VERSION" >/dev/null
fi

cd "$ROOT"
say "pnpm install"
pnpm install --frozen-lockfile --reporter=append-only | tail -n 3
say "building"
pnpm run build
