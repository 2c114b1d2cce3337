#!/usr/bin/env bash
# Ingestion benchmark: the embedded store (`meshlens store`, its own process)
# scraping a synthetic mesh emitted by `meshlens simulate --metrics-only` at
# 1,000 and 5,000 workloads; then the time from `meshlens demo` start to the
# first query that answers a rate for every bookinfo workload.
# Prints a Markdown table. Environment: DURATION (s, per size), INTERVAL.
set -euo pipefail
cd "$(dirname "$0")/.."
make -s build
BIN=./bin/meshlens
DURATION=${DURATION:-120}
INTERVAL=${INTERVAL:-15s}
SIZES=${SIZES:-"800:20 4000:50"}   # services:namespaces (workloads = services * 1.25)
SIM=127.0.0.1:${SIM_PORT:-17000}
STORE=127.0.0.1:${STORE_PORT:-17090}
. bench/lib.sh


echo "| workloads | namespaces | targets | head series | samples/s ingested | store RSS MiB | store peak RSS MiB | store Go heap MiB |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
for size in $SIZES; do
  services=${size%%:*}; namespaces=${size##*:}
  start_mesh "$services" "$namespaces"
  targets=$(curl -fsS "http://$SIM/api/simulate/targets" | grep -c '"targets"')
  # Let every target be scraped twice before measuring.
  sleep $(( 2 * ${INTERVAL%s} + 5 ))
  s0=$(metric "http://$STORE/metrics" prometheus_tsdb_head_samples_appended_total)
  t0=$(date +%s.%N)
  sleep "$DURATION"
  s1=$(metric "http://$STORE/metrics" prometheus_tsdb_head_samples_appended_total)
  t1=$(date +%s.%N)
  series=$(metric "http://$STORE/metrics" prometheus_tsdb_head_series)
  heap=$(metric "http://$STORE/metrics" go_memstats_heap_inuse_bytes || true)
  [ -z "$heap" ] && heap=0
  printf "| %d | %d | %d | %.0f | %.0f | %s | %s | %.0f |\n" "$(( services + services / 4 ))" "$namespaces" "$targets" "$series" \
    "$(awk -v a="$s0" -v b="$s1" -v x="$t0" -v y="$t1" 'BEGIN { print (b - a) / (y - x) }')" "$(rss_mib "$store" VmRSS)" "$(rss_mib "$store" VmHWM)" "$(awk -v h="$heap" 'BEGIN { print h / 1048576 }')"
  kill "$store" "$sim"; wait "$store" "$sim" 2>/dev/null || true
  pids=()
done

echo
echo "| demo (bookinfo, scrape every $INTERVAL) | seconds |"
echo "|---|---:|"
for run in 1 2 3; do
  start=$(date +%s.%N)
  "$BIN" --log.level=warn demo --scrape-interval "$INTERVAL" --store.listen-address "$STORE" --web.listen-address "$SIM" >"$work/demo.log" 2>&1 &
  demo=$!; pids+=("$demo")
  q='sum(rate(istio_requests_total{reporter="destination"}[1m])) by (destination_workload)'
  until [ "$(curl -fsS "http://$STORE/api/v1/query" --data-urlencode "query=$q" 2>/dev/null | grep -o '"destination_workload"' | wc -l)" -ge 6 ]; do
    sleep 0.1
  done
  printf "| start to first answered query (run %d) | %.1f |\n" "$run" "$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')"
  kill "$demo"; wait "$demo" 2>/dev/null || true
  pids=()
done
