#!/usr/bin/env bash
# Debian packages for the tests against real clients: headless Chromium and its driver (the HTML map),
# Noto CJK fonts (printed maps and signs), GDAL's command-line tools (exports read by ogrinfo) and
# PostgreSQL with PostGIS (the PostGIS export). Run as root (CI is); elsewhere it says what it skipped and
# the tests that need these packages skip with the reason. Never fails the run: a missing package only
# means those tests skip.
set -uo pipefail
PKGS="chromium chromium-driver fonts-noto-cjk gdal-bin postgresql postgis"
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "system_deps: not root or no apt-get; skipping ($PKGS); tests needing them will skip" >&2
    exit 0
fi
missing=""
for p in $PKGS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
export DEBIAN_FRONTEND=noninteractive
if [ -n "$missing" ]; then
echo "system_deps: installing$missing" >&2
apt-get update -qq >/dev/null 2>&1 || echo "system_deps: apt-get update failed" >&2
# postgresql's package starts no server here; the tests start their own cluster on loopback
apt-get install -y -qq --no-install-recommends $missing >/dev/null 2>&1 \
    || echo "system_deps: could not install$missing; tests needing them will skip" >&2
fi
# PostGIS's extension files come in a package named after the server's major version
pgv=$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -1)
if [ -n "$pgv" ] && ! dpkg -s "postgresql-$pgv-postgis-3" >/dev/null 2>&1; then
    apt-get install -y -qq --no-install-recommends "postgresql-$pgv-postgis-3" >/dev/null 2>&1 \
        || echo "system_deps: could not install postgresql-$pgv-postgis-3; the PostGIS tests will skip" >&2
fi
exit 0
