#!/usr/bin/env bash
# Build IPFS Cluster's ipfs-cluster-service and ipfs-cluster-ctl into $CLUSTER_HOME (default
# ~/.cache/casengine-peers/ipfs-cluster-1.1.0)/bin, where tests/peers/cluster looks for them.
# The module proxy serves github.com/ipfs-cluster/ipfs-cluster@v1.1.0 (it refuses its version list and
# v1.1.1-v1.1.4); its module builds unchanged with this machine's Go. Not `go install pkg@v1.1.0`
# into GOPATH/bin: the module is copied out of the module cache and built there, so the binaries land
# in the cache directory only. Cold ~3 min; when the binaries are there, built by this very recipe,
# nothing to do. Idempotent, and safe to run concurrently (builds aside, renames).
#   bash tests/peers/cluster/setup.sh
set -euo pipefail
VERSION=1.1.0
MODULE=github.com/ipfs-cluster/ipfs-cluster
DEST=${CLUSTER_HOME:-${XDG_CACHE_HOME:-${HOME:?}/.cache}/casengine-peers/ipfs-cluster-$VERSION}
if ! command -v go >/dev/null; then
  [ -x /usr/local/go/bin/go ] && export PATH=$PATH:/usr/local/go/bin
fi
if ! command -v go >/dev/null; then
  echo "cluster: no Go toolchain on PATH (Go >= 1.21 builds IPFS Cluster $VERSION), then: bash $0" >&2
  exit 1
fi
# The cache key: this recipe and the toolchain that ran it (a changed recipe rebuilds).
KEY=$( (cat "$0"; go version) | sha256sum | cut -c1-16)
if [ "$(cat "$DEST/recipe" 2>/dev/null)" = "$KEY" ] &&
   "$DEST/bin/ipfs-cluster-service" --version 2>/dev/null | grep -qx "ipfs-cluster-service version $VERSION" &&
   "$DEST/bin/ipfs-cluster-ctl" --version 2>/dev/null | grep -qx "ipfs-cluster-ctl version $VERSION"; then
  echo "cluster: $DEST/bin (IPFS Cluster $VERSION, cached)"
  exit 0
fi
mkdir -p "$DEST/bin"
TMP=$(mktemp -d "$DEST/build.XXXXXX"); trap 'chmod -R u+w "$TMP"; rm -rf "$TMP"' EXIT
cd "$TMP"
DIR=$(go mod download -json "$MODULE@v$VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
[ -n "$DIR" ] || { echo "cluster: go mod download $MODULE@v$VERSION failed" >&2; exit 1; }
cp -r "$DIR" "$TMP/src" && chmod -R u+w "$TMP/src"
cd "$TMP/src"
mkdir "$TMP/bin"
GOFLAGS=-mod=mod go build -trimpath -o "$TMP/bin/" ./cmd/ipfs-cluster-service ./cmd/ipfs-cluster-ctl
for tool in ipfs-cluster-service ipfs-cluster-ctl; do
  "$TMP/bin/$tool" --version | grep -qx "$tool version $VERSION"
done
mv -f "$TMP/bin/ipfs-cluster-service" "$TMP/bin/ipfs-cluster-ctl" "$DEST/bin/"
echo "$KEY" > "$DEST/recipe"
echo "cluster: $DEST/bin (IPFS Cluster $VERSION, built in $SECONDS s)"
