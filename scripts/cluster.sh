#!/usr/bin/env bash
# A local Tributary cluster for trying it out: one etcd member and N brokers on loopback,
# each broker its own process, data directory and port, sharing the cluster's metadata in
# the etcd.
#
#   bash scripts/cluster.sh start N    start etcd and brokers 1..N, print the bootstrap servers
#   bash scripts/cluster.sh stop       stop every process started by `start` (by PID)
#   bash scripts/cluster.sh status     list the processes and whether they run
#
# Environment (defaults in brackets):
#   TRIBUTARY_CLUSTER_DIR  data, logs and the PID file  [/tmp/tributary-cluster]
#   BROKER_BASE_PORT       broker i listens on BASE+i-1 [9092]
#   ETCD_CLIENT_PORT       etcd client port             [2379]
#   ETCD_PEER_PORT         etcd peer port               [2380]
#   ETCD_BINARY            the etcd server              [/usr/bin/etcd; Debian's etcd-server]
#   BROKER_OVERRIDES       extra "key=value" broker configs, space-separated
#
# The brokers run the bundle (`npm run build` makes packages/broker/dist/main.bundle.mjs)
# when it exists, else the sources through tsx. Data survives `stop`; `start` again reuses
# it (same cluster id, same topics). Remove TRIBUTARY_CLUSTER_DIR for a fresh cluster.
# Production is different (a 3-member etcd on separate hosts): docs/operations.md, "Cluster".
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

DIR=${TRIBUTARY_CLUSTER_DIR:-/tmp/tributary-cluster}
BASE=${BROKER_BASE_PORT:-9092}
ETCD_CLIENT=${ETCD_CLIENT_PORT:-2379}
ETCD_PEER=${ETCD_PEER_PORT:-2380}
ETCD=${ETCD_BINARY:-/usr/bin/etcd}
PIDS="$DIR/pids"
# How long one process may take to start listening before `start` gives up.
START_TIMEOUT_S=30

# Waits until something accepts TCP connections on 127.0.0.1:$1, or fails after START_TIMEOUT_S.
wait_port() {
  local port=$1 what=$2 pid=$3 i
  for ((i = 0; i < START_TIMEOUT_S * 10; i++)); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "cluster: $what (pid $pid) exited; see its log in $DIR" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "cluster: $what did not listen on port $port within ${START_TIMEOUT_S} s" >&2
  return 1
}

start() {
  local n=${1:-3}
  if ! [[ "$n" =~ ^[1-9][0-9]*$ ]]; then echo "usage: $0 start N (N >= 1)" >&2; exit 2; fi
  if [ -s "$PIDS" ]; then
    echo "cluster: $PIDS exists; run '$0 stop' first" >&2
    exit 1
  fi
  [ -x "$ETCD" ] || { echo "cluster: $ETCD not found (Debian: apt-get install etcd-server)" >&2; exit 1; }
  mkdir -p "$DIR"
  : >"$PIDS"
  # Any failure from here on stops what was started.
  trap 'stop >/dev/null 2>&1 || true' ERR

  "$ETCD" --name local --data-dir "$DIR/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_CLIENT" --advertise-client-urls "http://127.0.0.1:$ETCD_CLIENT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER" \
    --initial-cluster "local=http://127.0.0.1:$ETCD_PEER" --max-txn-ops 100000 \
    >"$DIR/etcd.log" 2>&1 &
  echo "etcd $!" >>"$PIDS"
  wait_port "$ETCD_CLIENT" etcd $!

  local cmd
  if [ -f "$ROOT/packages/broker/dist/main.bundle.mjs" ]; then
    cmd=(node "$ROOT/packages/broker/dist/main.bundle.mjs")
  else
    cmd=(node --conditions=source --import tsx "$ROOT/packages/broker/src/main.ts")
  fi
  local bootstrap="" i port extra=()
  for kv in ${BROKER_OVERRIDES:-}; do extra+=(--override "$kv"); done
  for ((i = 1; i <= n; i++)); do
    port=$((BASE + i - 1))
    "${cmd[@]}" \
      --override "node.id=$i" \
      --override "listeners=PLAINTEXT://127.0.0.1:$port" \
      --override "log.dirs=$DIR/broker-$i" \
      --override "etcd.endpoints=http://127.0.0.1:$ETCD_CLIENT" \
      "${extra[@]}" \
      >"$DIR/broker-$i.log" 2>&1 &
    echo "broker-$i $!" >>"$PIDS"
    bootstrap+="${bootstrap:+,}127.0.0.1:$port"
  done
  # Started side by side; each must be listening before the cluster is reported up.
  while read -r name pid; do
    case "$name" in broker-*) wait_port $((BASE + ${name#broker-} - 1)) "$name" "$pid" ;; esac
  done <"$PIDS"
  trap - ERR
  echo "etcd: http://127.0.0.1:$ETCD_CLIENT"
  echo "bootstrap servers: $bootstrap"
  echo "logs and data: $DIR; stop with: bash $0 stop"
}

stop() {
  [ -f "$PIDS" ] || { echo "cluster: nothing to stop ($PIDS not found)"; return 0; }
  local name pid i
  # Brokers first (they unregister from etcd and resign the controller), etcd last.
  tac "$PIDS" | while read -r name pid; do
    kill -0 "$pid" 2>/dev/null || continue
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "cluster: $name (pid $pid) did not stop in 10 s; SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
    echo "stopped $name (pid $pid)"
  done
  rm -f "$PIDS"
}

status() {
  [ -f "$PIDS" ] || { echo "no cluster running from $DIR"; return 0; }
  local name pid
  while read -r name pid; do
    if kill -0 "$pid" 2>/dev/null; then echo "$name pid $pid running"; else echo "$name pid $pid not running"; fi
  done <"$PIDS"
}

case "${1:-}" in
  start) start "${2:-3}" ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start N | stop | status" >&2; exit 2 ;;
esac
