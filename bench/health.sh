#!/usr/bin/env bash
# Health benchmark: `meshlens serve` (its own process) answering the health
# of every workload of a synthetic mesh in one request
# (/api/clusters/health over all namespaces), and of one workload, from
# the raw series `meshlens store` scrapes from `meshlens simulate
# --metrics-only`. Prints a Markdown table.
# Environment: SIZES (services:namespaces ...), REQUESTS, INTERVAL,
# RATE_INTERVAL (default 60s), BIN (another build to measure).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${BIN:-}" ]; then make -s build; BIN=./bin/meshlens; fi
SIZES=${SIZES:-"800:20 4000:50"}
REQUESTS=${REQUESTS:-20}
INTERVAL=${INTERVAL:-30s}
RULES=0
SIM=127.0.0.1:${SIM_PORT:-17000}
STORE=127.0.0.1:${STORE_PORT:-17090}
WEB=127.0.0.1:${WEB_PORT:-17001}
. bench/lib.sh

percentile() { sort -n | awk -v p="$1" '{ v[NR] = $1 } END { i = int(NR * p / 100 + 0.999); if (i < 1) i = 1; printf "%.3f", v[i] }'; }

echo "scrape interval: $INTERVAL, rate interval: ${RATE_INTERVAL:-60s}"
echo
echo "| workloads | namespaces | entities | all: p50 s | all: p95 s | all: answer KiB | one: p50 s | one: p95 s | allocs/all MiB | console peak RSS MiB |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for size in $SIZES; do
  services=${size%%:*}; namespaces=${size##*:}
  start_mesh "$services" "$namespaces"
  "$BIN" --log.level=warn serve --prometheus.url "http://$STORE" --web.listen-address "$WEB" >"$work/serve.log" 2>&1 &
  serve=$!; pids+=("$serve")
  wait_http "http://$WEB/-/healthy"
  wait_scraped
  ns=$(seq -f "mesh-%02g" 0 $(( namespaces - 1 )) | paste -sd, -),istio-system
  all="http://$WEB/api/clusters/health?namespaces=$ns&type=workload&rateInterval=${RATE_INTERVAL:-60s}"
  curl -fsS "$all" -o "$work/health.json"
  one_wl=$(grep -o '"mesh-00":{"[^"]*"' "$work/health.json" | sed 's/.*{"//; s/"$//')
  one="http://$WEB/api/namespaces/mesh-00/workloads/$one_wl/health?rateInterval=${RATE_INTERVAL:-60s}"
  curl -fsS -o /dev/null "$one"
  a0=$(metric "http://$WEB/metrics" go_memstats_alloc_bytes_total)
  : >"$work/all"; : >"$work/one"
  for _ in $(seq 1 "$REQUESTS"); do
    curl -fsS -o /dev/null -w '%{time_total}\n' "$all" >>"$work/all"
  done
  a1=$(metric "http://$WEB/metrics" go_memstats_alloc_bytes_total)
  for _ in $(seq 1 "$REQUESTS"); do
    curl -fsS -o /dev/null -w '%{time_total}\n' "$one" >>"$work/one"
  done
  entities=$(grep -o '"status":{"status"' "$work/health.json" | wc -l)
  printf "| %d | %d | %d | %s | %s | %.0f | %s | %s | %.1f | %s |\n" \
    "$(( services + services / 4 ))" "$namespaces" "$entities" \
    "$(percentile 50 <"$work/all")" "$(percentile 95 <"$work/all")" \
    "$(awk -v b="$(wc -c <"$work/health.json")" 'BEGIN { print b / 1024 }')" \
    "$(percentile 50 <"$work/one")" "$(percentile 95 <"$work/one")" \
    "$(awk -v a="$a0" -v b="$a1" -v n="$REQUESTS" 'BEGIN { print (b - a) / n / 1048576 }')" \
    "$(rss_mib "$serve" VmHWM)"
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pids=()
done
