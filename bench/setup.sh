#!/usr/bin/env bash
# Installs what the macro benchmarks need and builds the C programs into bench/.build/.
#
# Debian packages: librdkafka-dev (the load generator's Kafka client), nats-server and
# libnats-dev (NATS JetStream peer), redis-server and libhiredis-dev (Redis Streams peer),
# iperf3 (loopback TCP ceiling). Daemons are not started here: bench/macro/run.mjs starts
# each server on 127.0.0.1 with a temporary directory and stops it by PID afterwards.
#
# Usage: bash bench/setup.sh [--no-install]   (--no-install only rebuilds the programs)
set -euo pipefail
cd "$(dirname "$0")"

packages=(librdkafka-dev nats-server libnats-dev redis-server libhiredis-dev iperf3 pkg-config gcc make)
if [ "${1:-}" != "--no-install" ]; then
  missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    # Another installer may hold the dpkg lock (CI images install in the background):
    # wait for it for up to ten minutes rather than failing at once.
    $sudo apt-get -o DPkg::Lock::Timeout=600 update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
      --no-install-recommends "${missing[@]}"
  fi
fi

mkdir -p .build
CFLAGS=(-O2 -g -Wall -Wextra -std=gnu11)
cc "${CFLAGS[@]}" -o .build/tribload loadgen/tribload.c loadgen/histogram.c loadgen/payload.c -lrdkafka -lpthread -lm
# rawload speaks the Kafka protocol itself: no librdkafka, one thread, epoll.
cc "${CFLAGS[@]}" -o .build/rawload loadgen/rawload.c loadgen/histogram.c loadgen/payload.c -lm
cc "${CFLAGS[@]}" -o .build/natsbench peers/natsbench.c loadgen/histogram.c loadgen/payload.c -lnats -lpthread -lm
cc "${CFLAGS[@]}" $(pkg-config --cflags hiredis) -o .build/redisbench peers/redisbench.c \
  loadgen/histogram.c loadgen/payload.c $(pkg-config --libs hiredis) -lm
cc "${CFLAGS[@]}" -o .build/diskwrite macro/diskwrite.c
echo "bench/setup.sh: built $(ls .build | tr '\n' ' ')"
