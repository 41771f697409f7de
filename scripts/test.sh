#!/usr/bin/env bash
# Runs the test suite with Node's own test runner. TypeScript runs through tsx, and the
# "source" export condition makes workspace packages resolve to their src/ (no build needed).
#
#   bash scripts/test.sh                   every test file, in two lanes (below)
#   bash scripts/test.sh a.test.ts b.test.ts   just those files, one at a time
#   bash scripts/test.sh --long [files]    long mode: big volumes and long schedules
#
# Two lanes. Every `*.test.ts` in packages/*/test, test/compat, test/cluster and test/fault is picked up on its own
# (Node 20 does not expand globs for --test, so the shell lists them):
#   - the parallel lane runs every other file, TEST_CONCURRENCY (default 6) at a time, in one
#     pool, the longest first (LONGEST_FIRST below); most files wait on sockets, child
#     processes and timers rather than on the CPU;
#   - the serial lane runs afterwards, one file at a time with nothing else of the suite
#     running: files that assert latencies, start-up times or event-loop stalls, or that
#     load the machine enough to upset such assertions elsewhere. A file goes there when
#     its path is listed in SERIAL below, or when its name ends in `.serial.test.ts`.
#
# In the two lanes each test file runs bundled with the source modules it reaches
# (scripts/bundle-tests.mjs; TRIBUTARY_TEST_BUNDLE=0 turns it off): a test process that
# loaded ~300 source modules through tsx's loader hooks spent ~2.3 s of CPU before its first
# test, bundled ~1.1 s, and the lanes start ~135 of them on 2 cores. Files named on the command
# line run from their sources.
#
# Long mode (`--long`, or TRIBUTARY_LONG=1 in the environment) exports TRIBUTARY_LONG=1;
# tests read it and run their big volumes and long schedules: 100,000 records per client
# round trip (test/compat/records.ts), crash-kill9's 40 kills per mode, fuzz-network's
# minute of fuzzing, startup's 200 x 1 MiB, test/fault's 40-fault schedule with a fresh seed. The default is sized for behaviour: every
# behaviour is tested in both modes, and a new test with a big volume reads TRIBUTARY_LONG.
#
# The closing lines are the totals of both lanes in Node's summary format (`# pass N`,
# `# fail N`, ...); the exit status is non-zero when any test failed.
set -euo pipefail
cd "$(dirname "$0")/.."

# Files for the serial lane, by path from the repository root, each with its reason.
SERIAL=(
  test/compat/crash-kill9.test.ts                # SIGKILLs brokers under four producers: loads the CPU and disk
  test/compat/fuzz-network.test.ts               # asserts that a good client never waits > 1 s while 20 fuzzers run
  test/compat/groups-scale.test.ts               # 3,000 connections; asserts heartbeat latencies
  test/compat/groups-durability.test.ts          # a SIGKILLed broker must restart within its static members' 10 s sessions
  test/cluster/brokers-etcd.test.ts              # times the controller hand-over after a close; parallel load delayed it past its bound
  test/compat/quotas.test.ts                     # asserts byte rates within 10% of a quota: a loaded machine starves the client
  test/fault/leader-kill.test.ts                 # SIGKILLs/pauses brokers of a 3-broker cluster under load; asserts failover times
  test/cluster/controller-close.test.ts          # asserts the controller broker's close takes < 5 s
  test/cluster/etcd-quorum.test.ts               # 3 etcd members killed/paused under load; asserts gaps in acknowledgements
  test/cluster/reassign-fourth-broker.test.ts    # 4 broker processes under load; asserts reassignment and drain times
  packages/broker/test/admin-kafkajs.test.ts     # asserts no event-loop stall while 3,000 partitions are deleted
  packages/broker/test/broker-api-versions.test.ts # asserts start-up under a second
  test/compat/abuse-slow-reader.test.ts          # asserts RSS and a good client's p99 < 100 ms under the slow-reader attack
  packages/broker/test/create-topics-scale.test.ts # asserts the event loop's longest stall while 10,000 logs are created
  packages/broker/test/network-tls-reads.test.ts # an idle TLS connection closes at 400 ms while one with a request every 50 ms stays open
)

if [ "${1:-}" = "--long" ]; then
  export TRIBUTARY_LONG=1
  shift
fi

NODE_TEST=(node --conditions=source --import tsx --test)

# Child brokers (spawnBroker in test/compat/kit.ts) run the bundle that `npm start` runs, built
# here from the current sources: a child loads that one file in ~0.5 s of CPU, where the
# sources through tsx's loader take ~3.7 s, and a run starts dozens of child brokers.
node scripts/bundle.mjs
export TRIBUTARY_BROKER_BUNDLE="$PWD/packages/broker/dist/main.bundle.mjs"

if [ "$#" -gt 0 ]; then
  exec "${NODE_TEST[@]}" --test-concurrency="${TEST_CONCURRENCY:-1}" "$@"
fi

mapfile -t all < <(ls packages/*/test/*.test.ts test/compat/*.test.ts test/cluster/*.test.ts test/fault/*.test.ts 2>/dev/null)
compat=()
unit=()
serial=()
for f in "${all[@]}"; do
  lane=parallel
  case "$f" in *.serial.test.ts) lane=serial ;; esac
  for s in "${SERIAL[@]}"; do [ "$f" = "$s" ] && lane=serial; done
  if [ "$lane" = serial ]; then serial+=("$f")
  elif [[ "$f" == test/compat/* || "$f" == test/cluster/* || "$f" == test/fault/* ]]; then compat+=("$f")
  else unit+=("$f"); fi
done

# What the terminal sees is Node's default (spec on a terminal, TAP otherwise); a TAP copy
# of each lane goes to a temporary file, from which the totals are added up.
if [ -t 1 ]; then shown=spec; else shown=tap; fi
work=$(mktemp -d "${TMPDIR:-/tmp}/tributary-test-run.XXXXXX")
trap 'rm -rf "$work"' EXIT

status=0
# One lane: name, concurrency, files (run in the order given: scripts/test-lane.mjs).
run_lane() {
  local name=$1 concurrency=$2
  shift 2
  [ "$#" -gt 0 ] || return 0
  node --conditions=source --import tsx scripts/test-lane.mjs "$concurrency" "$shown" "$work/$name.tap" "$@"
}

# The parallel lane's files start longest first, so that the long ones run beside the many
# short ones instead of ending the lane alone (`node --test` would start them in path order).
# The longest, by their tests' durations in a fresh-clone CI log (e6f1608, session 13), in that
# order; then the other test/compat, test/cluster and test/fault files (real clients, group
# sessions), then the unit-test files.
LONGEST_FIRST=(
  test/cluster/etcd-cut.test.ts                      # 26 s alone, mostly waiting; passed 3 times beside 3-5 heavy files (load average 10-25)
  packages/broker/test/metadata-etcd-store.test.ts   # waits out a paused etcd member (gRPC keepalive, the watchdog)
  test/compat/transactions-eos.test.ts
  test/compat/security-sasl.test.ts
  packages/broker/test/replication-sim.test.ts
  test/compat/groups-membership.test.ts
  test/compat/groups-delivery.test.ts
  packages/broker/test/replication.test.ts
  test/compat/security-tls.test.ts
  packages/broker/test/transaction-handlers.test.ts
  test/compat/groups-static.test.ts
  packages/broker/test/acl-matrix.test.ts
  test/compat/python.test.ts
  test/cluster/restart-leader-epoch.test.ts
  packages/broker/test/network-ordering-limits.test.ts
  test/compat/kcat.test.ts
  test/compat/compaction.test.ts
  test/compat/retention.test.ts
  packages/broker/test/produce-validation.test.ts
  packages/broker/test/replication-truncation.test.ts
  packages/broker/test/produce.test.ts
  test/cluster/cluster-script.test.ts
  packages/storage/test/log-cleaner-model.test.ts
  test/compat/transactions-read.test.ts
  test/compat/transactions-cross-broker.test.ts
  test/compat/produce-validation.test.ts
  test/compat/idempotence-restarts.test.ts
  packages/storage/test/log-model.test.ts
  test/compat/transactions-python.test.ts
)
parallel=()
for f in "${LONGEST_FIRST[@]}"; do
  for p in "${compat[@]}" "${unit[@]}"; do [ "$p" = "$f" ] && parallel+=("$f"); done
done
for f in "${compat[@]}" "${unit[@]}"; do
  first=no
  for l in "${LONGEST_FIRST[@]}"; do [ "$l" = "$f" ] && first=yes; done
  [ "$first" = yes ] || parallel+=("$f")
done

# The lanes run each test file bundled (see the top): stack traces still name the sources
# (source maps), a failure's `location:` names the bundle.
started=$SECONDS
if [ "${TRIBUTARY_TEST_BUNDLE:-1}" != 0 ]; then
  bundles=$(mktemp -d "$PWD/.test-bundles.XXXXXX")
  trap 'rm -rf "$work" "$bundles"' EXIT
  node scripts/bundle-tests.mjs "$bundles" "${parallel[@]}" "${serial[@]}"
  bundled() { for f in "$@"; do echo "$bundles/${f%.ts}.mjs"; done; }
  mapfile -t parallel < <(bundled "${parallel[@]}")
  mapfile -t serial < <(bundled "${serial[@]}")
  echo "# test files bundled in $((SECONDS - started)) s"
fi

echo "# lane parallel: ${#parallel[@]} files (${#compat[@]} test/compat, test/cluster and test/fault, ${#unit[@]} unit-test), ${TEST_CONCURRENCY:-6} at a time, longest first"
run_lane parallel "${TEST_CONCURRENCY:-6}" "${parallel[@]}" || status=1
echo "# lane parallel: $((SECONDS - started)) s"

serial_started=$SECONDS
echo "# lane serial: ${#serial[@]} files, one at a time"
run_lane serial 1 "${serial[@]}" || status=1
echo "# lane serial: $((SECONDS - serial_started)) s"

# The totals of both lanes, in Node's own summary format. (A run that died before its summary
# counts nothing there, but still makes the exit status non-zero.)
[ "$status" -eq 0 ] || echo "# a node test run exited non-zero"
echo "# all lanes: ${#all[@]} files in $((SECONDS - started)) s${TRIBUTARY_LONG:+ (long mode)}"
for key in tests suites pass fail cancelled skipped todo; do
  sum=0
  for f in "$work"/*.tap; do
    [ -f "$f" ] || continue
    n=$(grep -E "^# $key [0-9]+$" "$f" | tail -1 | awk '{print $3}')
    sum=$((sum + ${n:-0}))
  done
  echo "# $key $sum"
done
exit "$status"
