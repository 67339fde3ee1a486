#!/usr/bin/env bash
# Start the local services the tests talk to (PostgreSQL, Redis) when they are down, and fail
# loudly when they cannot be reached: tests never skip for a missing service.
set -euo pipefail
cd "$(dirname "$0")/.."

pg_ready() { pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; }
redis_ready() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }

need_apt=()
command -v pg_isready >/dev/null || need_apt+=(postgresql)
command -v redis-server >/dev/null || need_apt+=(redis-server)
# The e-mail tests start their own Dovecot (generated config, free port) and make a TLS
# certificate with openssl; only the binaries are needed, no system service.
[ -x /usr/sbin/dovecot ] || command -v dovecot >/dev/null || need_apt+=(dovecot-imapd)
command -v openssl >/dev/null || need_apt+=(openssl)
# Browser tests drive Debian's Chromium through Playwright (never a downloaded browser).
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
command -v npm >/dev/null || need_apt+=(npm)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing: ${need_apt[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if ! pg_ready; then
  echo "starting PostgreSQL"
  version=$(ls /etc/postgresql | sort -V | tail -n1)
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 30); do pg_ready && break; sleep 1; done
fi
if ! redis_ready; then
  echo "starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
  for _ in $(seq 1 30); do redis_ready && break; sleep 1; done
fi

pg_ready || { echo "PostgreSQL is not reachable on 127.0.0.1:5432" >&2; exit 1; }
redis_ready || { echo "Redis is not reachable on 127.0.0.1:6379" >&2; exit 1; }
# Tests connect as postgres over TCP (trust auth on this machine kind).
psql -h 127.0.0.1 -U postgres -d postgres -qtAc "select 1" >/dev/null \
  || { echo "cannot connect to PostgreSQL as postgres@127.0.0.1" >&2; exit 1; }
[ -x /usr/sbin/dovecot ] || command -v dovecot >/dev/null \
  || { echo "dovecot (dovecot-imapd) is not installed" >&2; exit 1; }
# axe-core (accessibility checks inside the browser tests) comes from npm, into .cache/.
axe_version=4.10.3
if ! grep -qs "\"version\": \"$axe_version\"" .cache/node_modules/axe-core/package.json; then
  echo "installing axe-core $axe_version from npm"
  npm install --silent --no-save --no-audit --no-fund --prefix .cache "axe-core@$axe_version" >/dev/null
fi
[ -f .cache/node_modules/axe-core/axe.min.js ] || { echo "axe-core is missing" >&2; exit 1; }
echo "services ready: PostgreSQL, Redis, Chromium, axe-core (Dovecot is started by the e-mail tests)"
