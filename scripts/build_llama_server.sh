#!/usr/bin/env bash
# Builds llama.cpp's llama-server from the source vendored in the sdist of the llama-cpp-python that
# pyproject.toml pins (the same llama.cpp as the local provider), and installs it as VENV/bin/llama-server.
# Skipped when that binary was built from this version.
# Usage: scripts/build_llama_server.sh [VENV]   (default: .venv)
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=$(sed -n 's/.*"llama-cpp-python==\([0-9.]*\)".*/\1/p' pyproject.toml | head -1)
VENV=${1:-.venv}
BIN="$VENV/bin/llama-server"
STAMP="$VENV/.llama-server-version"
if [ -x "$BIN" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$VERSION" ]; then
  exit 0
fi

CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/voxlive/llama-server
SDIST="$CACHE/llama_cpp_python-$VERSION.tar.gz"
SRC="$CACHE/llama_cpp_python-$VERSION/vendor/llama.cpp"
mkdir -p "$CACHE"
if [ ! -f "$SDIST" ]; then
  "$VENV/bin/pip" download --quiet --no-deps --no-binary :all: "llama-cpp-python==$VERSION" -d "$CACHE"
fi
[ -d "$SRC" ] || tar -xzf "$SDIST" -C "$CACHE"

# No HTTPS client (models are local files) and no web UI (neither fetched nor built).
cmake -S "$SRC" -B "$SRC/build" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF \
  -DGGML_NATIVE=ON -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
  -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF >/dev/null
cmake --build "$SRC/build" --target llama-server -j"$(nproc)"
install -m 755 "$SRC/build/bin/llama-server" "$BIN"
echo "$VERSION" >"$STAMP"
