#!/usr/bin/env bash
# Sets up everything the tests need on a fresh Debian machine with Node 20, then runs the whole
# test suite: lint and format check, typecheck and build, unit and integration tests against real
# NATS, Postgres, PGlite, QEMU guests, bubblewrap and TLS.
source "$(dirname "$0")/lib.sh"
"$ROOT/scripts/install-deps.sh"
"$ROOT/scripts/ensure-services.sh" --with-postgres
cd "$ROOT"
say "preparing the test guest image"
pnpm --silent run guest:image
say "running the tests"
pnpm test
say "running the native core's guest-free tests under AddressSanitizer/UBSan"
pnpm -F @vmi/native-core run test:native-asan
