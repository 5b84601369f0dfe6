#!/usr/bin/env bash
# buf breaking-change check (FILE rules) of protos/ against the previous commit of main.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! git rev-parse -q --verify HEAD~1 >/dev/null || ! git cat-file -e HEAD~1:protos/buf.yaml 2>/dev/null; then
  echo "buf breaking: the previous commit has no protos/ to compare against; nothing to check"
  exit 0
fi
npx --no-install buf breaking protos --against ".git#ref=HEAD~1,subdir=protos"
echo "buf breaking: no breaking change against HEAD~1"
