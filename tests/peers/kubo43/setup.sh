#!/usr/bin/env bash
# Build Kubo 0.43.1's `ipfs` into $KUBO43_HOME (default ~/.cache/casengine-peers/kubo-0.43.1)/bin/ipfs,
# where tests/peers/kubo43 looks for it. Not `go install github.com/ipfs/kubo/cmd/ipfs@v0.43.1`: Kubo's
# go.mod replaces go-libp2p by a fork, so `go install pkg@version` refuses (and the module proxy has no
# copy of the fork). The fork is there until a go-libp2p release needs quic-go >= v0.62.0 and
# webtransport-go >= v0.13.0 (Kubo's own TODO); go-libp2p v0.50.0 is that release, so we build Kubo's
# module with the replace dropped and v0.50.0 required. Offline, libp2p is never used; the UnixFS,
# boxo and gateway code is Kubo's own, unchanged. Cold ~3 min; when the binary is there, built by
# this very recipe, nothing to do. Idempotent, and safe to run concurrently (builds aside, renames).
#   bash tests/peers/kubo43/setup.sh
set -euo pipefail
VERSION=0.43.1
LIBP2P=v0.50.0
DEST=${KUBO43_HOME:-${XDG_CACHE_HOME:-${HOME:?}/.cache}/casengine-peers/kubo-$VERSION}
GO_INSTALL="Go >= 1.26.5 is needed to build Kubo $VERSION (this machine kind ships it in /usr/local/go/bin;
elsewhere: apt-get install -y golang-go && GOTOOLCHAIN=go1.26.8 go version, which fetches that toolchain
from the Go module proxy), then: bash tests/peers/kubo43/setup.sh"
if ! command -v go >/dev/null; then
  [ -x /usr/local/go/bin/go ] && export PATH=$PATH:/usr/local/go/bin
fi
if ! command -v go >/dev/null; then
  echo "kubo43: no Go toolchain on PATH. $GO_INSTALL" >&2
  exit 1
fi
# The cache key: this recipe and the toolchain that ran it (a changed recipe rebuilds).
KEY=$( (cat "$0"; go version) | sha256sum | cut -c1-16)
if [ "$(cat "$DEST/recipe" 2>/dev/null)" = "$KEY" ] &&
   "$DEST/bin/ipfs" version 2>/dev/null | grep -qx "ipfs version $VERSION"; then
  echo "kubo43: $DEST/bin/ipfs (Kubo $VERSION, cached)"
  exit 0
fi
mkdir -p "$DEST/bin"
TMP=$(mktemp -d "$DEST/build.XXXXXX"); trap 'chmod -R u+w "$TMP"; rm -rf "$TMP"' EXIT
cd "$TMP"
DIR=$(go mod download -json "github.com/ipfs/kubo@v$VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
[ -n "$DIR" ] || { echo "kubo43: go mod download github.com/ipfs/kubo@v$VERSION failed" >&2; exit 1; }
cp -r "$DIR" "$TMP/src" && chmod -R u+w "$TMP/src"
cd "$TMP/src"
go mod edit -dropreplace github.com/libp2p/go-libp2p
go mod edit -require=github.com/libp2p/go-libp2p@$LIBP2P
GONOSUMDB='*' GOFLAGS=-mod=mod go build -trimpath -o "$TMP/ipfs" ./cmd/ipfs
"$TMP/ipfs" version | grep -qx "ipfs version $VERSION"
mv -f "$TMP/ipfs" "$DEST/bin/ipfs"
echo "$KEY" > "$DEST/recipe"
echo "kubo43: $DEST/bin/ipfs (Kubo $VERSION, built in $SECONDS s)"
