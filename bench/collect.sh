#!/usr/bin/env bash
# Collector benchmark: `meshlens collect` and Debian's
# `prometheus --enable-feature=agent`, one after the other on the same
# synthetic mesh (`meshlens simulate --metrics-only`, found by http_sd),
# scraping every $INTERVAL and sending by remote write to a receiver. For
# each: samples scraped and sent per second, the cores it used, its memory
# and memory per active series. Prints a Markdown table. Environment:
# SIZES (services:namespaces, "800:20": 1,000 workloads; "4000:50" is
# 5,000, whose agent row needs about 22 GiB), DURATION (s measured, 60), INTERVAL (15s), RECEIVER (sink,
# the default: bench/sink decodes and counts each request and keeps
# nothing, so that 5,000 workloads fit one machine; store: a fresh
# `meshlens store` that keeps them), WARMUP (s from ready to measuring;
# default two scrape intervals and 5 s: at 5,000 workloads the first
# minutes write every series to the log, give 180), BIN.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${BIN:-}" ]; then make -s build; BIN=./bin/meshlens; fi
command -v prometheus >/dev/null || { echo "bench/collect.sh needs Debian's prometheus: apt-get install prometheus" >&2; exit 1; }
DURATION=${DURATION:-60}
INTERVAL=${INTERVAL:-15s}
SIZES=${SIZES:-"800:20"}
RECEIVER=${RECEIVER:-sink}
case "$RECEIVER" in
  sink) go build -o "${TMPDIR:-/tmp}/meshlens-bench-sink" ./bench/sink ;;
  store) ;;
  *) echo "RECEIVER: sink or store" >&2; exit 1 ;;
esac
SIM=127.0.0.1:${SIM_PORT:-17000}
STORE=127.0.0.1:${STORE_PORT:-17090}
AGENT=127.0.0.1:${AGENT_PORT:-17095}
. bench/lib.sh

# received: the samples the receiver has taken so far.
received() {
  if [ "$RECEIVER" = sink ]; then metric "http://$STORE/metrics" meshlens_bench_sink_samples_total
  else metric "http://$STORE/metrics" prometheus_tsdb_head_samples_appended_total; fi
}

cpu_seconds() { awk '{ print ($14 + $15) / 100 }' "/proc/$1/stat"; }

echo "scrape interval $INTERVAL, measured over ${DURATION}s after two scrapes of every target; one receiver ($RECEIVER) per run"
echo
echo "| workloads | collector | active series | samples/s scraped | samples/s sent | samples/s received | cores | samples/s per core | RSS MiB | peak RSS MiB | KiB per active series |"
echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for size in $SIZES; do
  services=${size%%:*}; namespaces=${size##*:}
  "$BIN" --log.level=warn simulate --metrics-only --services "$services" --namespaces "$namespaces" \
    --load.rate 500 --listen-address "$SIM" >"$work/sim.log" 2>&1 &
  sim=$!; pids+=("$sim")
  wait_http "http://$SIM/api/simulate/targets"
  cat >"$work/collect.yml" <<YML
global: {scrape_interval: $INTERVAL, scrape_timeout: 10s}
scrape_configs:
  - job_name: envoy-stats
    http_sd_configs: [{url: "http://$SIM/api/simulate/targets", refresh_interval: 1m}]
remote_write:
  - url: http://$STORE/api/v1/write
YML
  for collector in "meshlens collect" "prometheus --agent"; do
    rm -rf "$work/store" "$work/agent"
    if [ "$RECEIVER" = sink ]; then
      "${TMPDIR:-/tmp}/meshlens-bench-sink" --listen-address "$STORE" >"$work/store.log" 2>&1 &
    else
      "$BIN" --log.level=warn store --storage.tsdb.path "$work/store" --web.listen-address "$STORE" >"$work/store.log" 2>&1 &
    fi
    store=$!; pids+=("$store")
    wait_http "http://$STORE/-/ready"
    if [ "$collector" = "meshlens collect" ]; then
      "$BIN" --log.level=warn collect --config.file "$work/collect.yml" --storage.agent.path "$work/agent" --web.listen-address "$AGENT" >"$work/agent.log" 2>&1 &
    else
      prometheus --enable-feature=agent --config.file "$work/collect.yml" --storage.agent.path "$work/agent" --web.listen-address "$AGENT" --log.level=warn >"$work/agent.log" 2>&1 &
    fi
    agent=$!; pids+=("$agent")
    wait_http "http://$AGENT/-/ready"
    sleep "${WARMUP:-$(( 2 * ${INTERVAL%s} + 5 ))}"
    a0=$(metric "http://$AGENT/metrics" prometheus_agent_samples_appended_total); s0=$(metric "http://$AGENT/metrics" prometheus_remote_storage_samples_total)
    r0=$(received)
    c0=$(cpu_seconds "$agent"); t0=$(date +%s.%N)
    sleep "$DURATION"
    r1=$(received)
    a1=$(metric "http://$AGENT/metrics" prometheus_agent_samples_appended_total); s1=$(metric "http://$AGENT/metrics" prometheus_remote_storage_samples_total)
    c1=$(cpu_seconds "$agent"); t1=$(date +%s.%N)
    series=$(metric "http://$AGENT/metrics" prometheus_agent_active_series)
    rss=$(rss_mib "$agent" VmRSS); hwm=$(rss_mib "$agent" VmHWM)
    awk -v w="$(( services + services / 4 ))" -v c="$collector" -v n="${series:-0}" -v a0="$a0" -v a1="$a1" -v s0="$s0" -v s1="$s1" -v r0="$r0" -v r1="$r1" \
        -v c0="$c0" -v c1="$c1" -v t0="$t0" -v t1="$t1" -v rss="$rss" -v hwm="$hwm" 'BEGIN {
      secs = t1 - t0; cores = (c1 - c0) / secs; scraped = (a1 - a0) / secs
      printf "| %d | %s | %d | %.0f | %.0f | %.0f | %.2f | %.0f | %d | %d | %.1f |\n", w, c, n, scraped, (s1 - s0) / secs, (r1 - r0) / secs, cores, (cores > 0 ? scraped / cores : 0), rss, hwm, (n > 0 ? rss * 1024 / n : 0)
    }'
    kill "$agent" "$store"; wait "$agent" "$store" 2>/dev/null || true
    pids=("$sim")
  done
  kill "$sim"; wait "$sim" 2>/dev/null || true
  pids=()
done
