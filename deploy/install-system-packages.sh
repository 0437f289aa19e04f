#!/usr/bin/env bash
# Install what the deployment test needs from the distribution (Debian): a PostgreSQL server,
# headless Chromium with a font, and Redis (the Celery broker of `python -m deploy --distributed`). Does nothing when they are already there; needs root (or sudo).
set -euo pipefail

need=()
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || need+=(postgresql)
command -v chromium >/dev/null || need+=(chromium)
[ -d /usr/share/fonts/truetype/dejavu ] || need+=(fonts-dejavu-core)
command -v redis-server >/dev/null || need+=(redis-server)
if [ ${#need[@]} -eq 0 ]; then
    echo "system packages for the deployment test: already installed"
    exit 0
fi

sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
if [[ " ${need[*]} " == *" postgresql "* ]] && [ ! -e /etc/postgresql-common/createcluster.conf ]; then
    # The test runs its own server in a temporary directory: no system-wide cluster is wanted.
    "${sudo[@]}" mkdir -p /etc/postgresql-common
    echo "create_main_cluster = false" | "${sudo[@]}" tee /etc/postgresql-common/createcluster.conf >/dev/null
fi
echo "installing for the deployment test: ${need[*]}"
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
if [[ " ${need[*]} " == *" redis-server "* ]] && command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    # The harness runs its own server on a free loopback port: no system-wide one is wanted.
    "${sudo[@]}" systemctl disable --now redis-server >/dev/null 2>&1 || true
fi
