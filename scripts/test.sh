#!/usr/bin/env bash
# Sets up this machine (see setup.sh) and runs every test: unit tests and end-to-end tests
# against a real sshd on 127.0.0.1 and the real borg client and server.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npx vitest run "$@"
