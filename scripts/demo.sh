#!/usr/bin/env bash
# Sets up and runs the platform against a demo guest on this machine:
#   scripts/demo.sh            install what is missing, build, start NATS (deploy permissions),
#                              every service and a sandboxed demo guest, then show live findings
#   scripts/demo.sh attack     run the demo attacks in the running demo's guest (second terminal)
#   scripts/demo.sh --attack   both in one go
# Ctrl-C stops everything. Audit data goes to embedded PGlite unless DATABASE_URL is set.
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" -eq 0 ] || die "the demo runs each guest's components in sandboxes with their own uids and cgroups: run it as root"
if [ "${1:-}" != "attack" ]; then
  "$ROOT/scripts/install-deps.sh"
fi
cd "$ROOT"
exec node --enable-source-maps packages/stack/dist/cli/demo.js "$@"
