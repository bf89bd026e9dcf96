#!/usr/bin/env bash
# PostgreSQL, Redis and RabbitMQ for the integration tests and `make cluster`, HAProxy for the
# cluster's load balancer, and tmux, the terminal the tests type `rasa shell` and `rasa interactive`
# into: each from Debian's packages, installed and started only when it does not answer already
# (where they run, as on the project's machines, this is a quick no-op).
# The start commands are the machine's own (see docs/deploy.md, "Scale out").
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
export DEBIAN_FRONTEND=noninteractive
updated=

install() {  # install Debian packages, running apt-get update once
  if [ -z "$updated" ]; then $SUDO apt-get update -qq; updated=1; fi
  $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

answers() {  # answers HOST PORT: something listens there
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

wait_for() {  # wait_for NAME HOST PORT
  for _ in $(seq 1 120); do answers "$2" "$3" && { echo "$1 running on $2:$3"; return 0; }; sleep 0.5; done
  echo "$1 did not start on $2:$3" >&2; return 1
}

if ! answers 127.0.0.1 5432; then
  if ! command -v pg_ctlcluster >/dev/null; then
    install postgresql
    # trust auth on loopback for user postgres, as on the project's machines (a fresh test machine only)
    $SUDO sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/' \
      /etc/postgresql/*/main/pg_hba.conf
  fi
  version=$(ls /etc/postgresql | sort -V | tail -1)
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main start
  wait_for PostgreSQL 127.0.0.1 5432
fi

if ! answers 127.0.0.1 6379; then
  command -v redis-server >/dev/null || install redis-server
  $SUDO mkdir -p /var/lib/redis /var/log/redis
  $SUDO redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_for Redis 127.0.0.1 6379
fi

if ! answers 127.0.0.1 5672; then
  command -v rabbitmq-server >/dev/null || install rabbitmq-server
  $SUDO rabbitmq-server -detached
  wait_for RabbitMQ 127.0.0.1 5672
fi

if [ ! -x /usr/sbin/haproxy ]; then
  install haproxy
  echo "haproxy installed: $(/usr/sbin/haproxy -v | head -1)"
fi

command -v tmux >/dev/null || install tmux
