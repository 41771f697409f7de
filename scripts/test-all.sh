#!/usr/bin/env bash
# The README's test line: installs everything the test suite drives, then runs all of it.
#   - Debian packages of the real Kafka clients and tools the tests use, via apt-get when
#     any is missing (kcat, confluent-kafka-python, kafka-python, etcd, librdkafka headers,
#     Go with Sarama and kafka-go);
#   - npm packages (npm ci when a lock file is present);
#   - a TypeScript build (tsc -b) and a typecheck of tests and scripts, so type errors fail the run;
#   - every test file, with Node's test runner.
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

if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
npx tsc -b
# Test code, scripts and benchmarks are typechecked too (they are outside the package builds).
npx tsc -p tsconfig.test.json
# The committed codecs must be exactly what the generator makes from Kafka's specs. The
# specs live outside the repository (../shared, present in CI); a user's clone has none,
# and then there is nothing to compare against.
if [ -d ../shared/kafka-protocol/message ]; then
  bash packages/protocol/scripts/check-generated.sh ../shared/kafka-protocol/message
else
  echo "check-generated: ../shared/kafka-protocol/message not present; generated codecs not compared"
fi
exec bash scripts/test.sh
