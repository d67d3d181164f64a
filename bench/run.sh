#!/usr/bin/env bash
# make bench: exlab side by side with Postfix and smtp-sink (see bench/compare). Extra flags are
# passed on, e.g. `make bench BENCHFLAGS="-repeat 1 -duration 1s"`; `-baseline REF` (make's
# BASELINE=REF) builds exlab at a git ref of this repository, or takes a binary, and alternates
# it with bin/exlab at every point.
set -euo pipefail
cd "$(dirname "$0")/.."
exec go run ./bench/compare -exlab bin/exlab "$@"
