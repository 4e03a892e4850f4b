#!/bin/sh
# setup.sh DEST: copy the receiver to DEST and install its locked npm
# dependencies there (npm ci), so the source tree stays clean. Idempotent.
set -eu
src=$(cd "$(dirname "$0")" && pwd)
dest=$1
mkdir -p "$dest"
for f in package.json package-lock.json receiver.js compare.js; do
	cmp -s "$src/$f" "$dest/$f" 2>/dev/null || cp "$src/$f" "$dest/$f"
done
if [ ! -f "$dest/node_modules/cloudevents/package.json" ] ||
    [ "$dest/package-lock.json" -nt "$dest/node_modules/.package-lock.json" ]; then
	# CI may run without HOME: keep npm's cache next to the install
	[ -n "${HOME:-}" ] || { npm_config_cache=$dest/.npm-cache; export npm_config_cache; }
	cd "$dest" && npm ci --no-audit --no-fund --loglevel=error >&2
fi
