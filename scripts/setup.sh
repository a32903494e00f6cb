#!/usr/bin/env bash
# Installs everything voxlive needs, idempotently: Debian packages, a virtualenv with the
# package and its dev tools, llama.cpp's llama-server, and the assembled embedded models.
# A second run takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(build-essential cmake python3-venv python3-dev espeak-ng chromium postgresql)
missing=()
command -v npm >/dev/null || missing+=(nodejs npm)  # a Node.js installed otherwise brings its own npm
for pkg in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  SUDO=$([ "$(id -u)" -eq 0 ] && echo "" || echo sudo)
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv

# Reinstall only when the dependency list changed since the last install.
stamp=.venv/.voxlive-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/pip install --quiet --upgrade pip
  .venv/bin/pip install --quiet -e '.[dev,ray]'
  touch "$stamp"
fi

# llama.cpp's llama-server (the llama-server LLM provider), built from source once per version: minutes on 2 cores.
scripts/build_llama_server.sh .venv

# The web page's test tools (axe-core), from package-lock.json: again only when the lock changed.
npm_stamp=node_modules/.voxlive-installed
if [ ! -f "$npm_stamp" ] || [ package-lock.json -nt "$npm_stamp" ]; then
  npm ci --no-audit --no-fund --loglevel=error
  touch "$npm_stamp"
fi

.venv/bin/python -c "from voxlive.speech.assets import prepare; prepare()"
