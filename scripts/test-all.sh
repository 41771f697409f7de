#!/usr/bin/env bash
# The README's test line: installs everything the test suite drives, then runs all of it.
#   - Debian packages of the real Kafka clients and tools the tests use, via apt-get when
#     any is missing (kcat, confluent-kafka-python, kafka-python, etcd, librdkafka headers,
#     Go with Sarama and kafka-go);
#   - npm packages (npm ci when a lock file is present, unless node_modules was installed
#     from this very lock file already);
#   - a TypeScript build (tsc -b) and a typecheck of tests and scripts, so type errors fail the run;
#   - every test file, with Node's test runner, in two lanes (scripts/test.sh; README, Testing).
# `bash scripts/test-all.sh --long` passes long mode on to scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

# Go (with gcc: Sarama's zstd dependency is cgo) and the old Go clients of test/compat/go-clients.test.ts;
# python3-xxhash: kafka-python needs it for LZ4 in message format v0 (python-old-protocol.test.ts).
debs=(kcat python3-confluent-kafka python3-kafka python3-snappy python3-lz4 python3-zstandard etcd-server librdkafka-dev
      golang-go gcc golang-github-shopify-sarama-dev golang-github-segmentio-kafka-go-dev python3-xxhash)
missing=()
for p in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# npm ci starts by deleting node_modules, and its `prepare` step rebuilds everything: on the
# 2-core machine that is most of a minute. After an install from the same lock file (its hash
# is kept in node_modules) there is nothing to do; tsc -b below rebuilds what changed.
lock_stamp=node_modules/.tributary-package-lock.sha256
if [ -f package-lock.json ]; then
  if [ -d node_modules ] && [ -f "$lock_stamp" ] && sha256sum --status -c "$lock_stamp" 2>/dev/null; then
    echo "npm ci: node_modules already installed from this package-lock.json"
  else
    npm ci --no-audit --no-fund
    sha256sum package-lock.json > "$lock_stamp"
  fi
else
  npm install --no-audit --no-fund
fi
npx tsc -b
# Test code, scripts and benchmarks are typechecked too (they are outside the package builds).
# The typecheck and the codec check below are independent: they run side by side.
npx tsc -p tsconfig.test.json &
typecheck=$!
# The committed codecs must be exactly what the generator makes from Kafka's specs. The
# specs live outside the repository (../shared, present in CI); a user's clone has none,
# and then there is nothing to compare against.
if [ -d ../shared/kafka-protocol/message ]; then
  bash packages/protocol/scripts/check-generated.sh ../shared/kafka-protocol/message
else
  echo "check-generated: ../shared/kafka-protocol/message not present; generated codecs not compared"
fi
wait "$typecheck"
exec bash scripts/test.sh "$@"
