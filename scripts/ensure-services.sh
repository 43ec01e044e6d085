#!/usr/bin/env bash
# Makes sure NATS (with JetStream) and, when asked, PostgreSQL answer on their standard local ports.
# A server that is already running is used as it is; otherwise one is started with its data under
# .run/ in the project (NATS), or from Debian's postgresql package with local trust auth (tests only).
source "$(dirname "$0")/lib.sh"
want_pg=0
[ "${1:-}" = "--with-postgres" ] && want_pg=1

RUN_DIR="$ROOT/.run"
mkdir -p "$RUN_DIR"

if port_open 127.0.0.1 4222; then
  say "NATS is running on 127.0.0.1:4222"
else
  apt_install nats-server
  say "starting nats-server (JetStream, data in .run/nats)"
  mkdir -p "$RUN_DIR/nats"
  nohup nats-server -a 127.0.0.1 -p 4222 -js -sd "$RUN_DIR/nats" >"$RUN_DIR/nats.log" 2>&1 &
  echo $! >"$RUN_DIR/nats.pid"
  for _ in $(seq 1 50); do port_open 127.0.0.1 4222 && break; sleep 0.2; done
  port_open 127.0.0.1 4222 || die "nats-server did not start; see .run/nats.log"
fi

if [ "$want_pg" -eq 1 ]; then
  if port_open 127.0.0.1 5432; then
    say "PostgreSQL is running on 127.0.0.1:5432"
  else
    apt_install postgresql
    ver="$(ls /etc/postgresql | sort -V | tail -n 1)"
    hba="/etc/postgresql/$ver/main/pg_hba.conf"
    # Local test server only: trust on loopback, as the test suite expects.
    if ! grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
      as_root sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\nlocal all all trust' "$hba"
    fi
    as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main start || as_root pg_ctlcluster "$ver" main start
    for _ in $(seq 1 50); do port_open 127.0.0.1 5432 && break; sleep 0.2; done
    port_open 127.0.0.1 5432 || die "PostgreSQL did not start"
    psql -h 127.0.0.1 -U postgres -tc "select 1 from pg_database where datname='test'" | grep -q 1 ||
      psql -h 127.0.0.1 -U postgres -c 'create database test' >/dev/null
  fi
fi
