#!/usr/bin/env bash
# Health and metrics benchmark: `meshlens serve` (its own process)
# answering the health of every workload of a synthetic mesh in one request
# (/api/clusters/health over all namespaces), the health of one workload,
# and the metrics of one workload (Kiali's inbound page: 30 minutes,
# quantiles), from the raw series `meshlens store` scrapes from `meshlens
# simulate --metrics-only`. Each request asks a different past queryTime,
# so that none is answered from serve's cache (a "now" asked again within
# a scrape interval is); "all cached" is the same request about now,
# asked again. Queries are those serve asked of the store per request
# (meshlens_promclient_queries_total). Prints a Markdown table.
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

echo "scrape interval: $INTERVAL, rate interval: ${RATE_INTERVAL:-60s}"
echo
echo "| workloads | namespaces | entities | all: p50 s | all: p95 s | all cached: p50 s | all: queries | all: answer KiB | one: p50 s | one: p95 s | metrics of one: p50 s | metrics of one: p95 s | metrics: queries | allocs/all MiB | console peak RSS MiB |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
queries() { metric "http://$WEB/metrics" meshlens_promclient_queries_total; }
# timed URL FILE: the request's time, appended to FILE.
timed() { curl -gfsS -o /dev/null -w '%{time_total}\n' "$1" >>"$2"; }
for size in $SIZES; do
  services=${size%%:*}; namespaces=${size##*:}
  start_mesh_and_console "$services" "$namespaces"
  all="http://$WEB/api/clusters/health?namespaces=$ns&type=workload&rateInterval=${RATE_INTERVAL:-60s}"
  curl -fsS "$all" -o "$work/health.json"
  one_wl=$(grep -o '"mesh-00":{"[^"]*"' "$work/health.json" | sed 's/.*{"//; s/"$//')
  one="http://$WEB/api/namespaces/mesh-00/workloads/$one_wl/health?rateInterval=${RATE_INTERVAL:-60s}"
  mets="http://$WEB/api/namespaces/mesh-00/workloads/$one_wl/metrics?direction=inbound&reporter=destination&duration=1800&step=30&rateInterval=${RATE_INTERVAL:-60s}&quantiles[]=0.5&quantiles[]=0.95&quantiles[]=0.99&quantiles[]=avg"
  curl -gfsS -o /dev/null "$one"; curl -gfsS -o /dev/null "$mets"
  # Past enough not to be cached (one scrape interval), recent enough for
  # the rate window to hold the mesh's traffic.
  sleep $(( ${INTERVAL%s} + 5 )) # until that past holds scraped data
  past=$(( $(date +%s) - ${INTERVAL%s} - 5 ))
  q0=$(queries)
  curl -fsS -o "$work/health-past.json" "$all&queryTime=$past"
  q1=$(queries)
  curl -gfsS -o /dev/null "$mets&queryTime=$past"
  q2=$(queries)
  a0=$(metric "http://$WEB/metrics" go_memstats_alloc_bytes_total)
  : >"$work/all"; : >"$work/cached"; : >"$work/one"; : >"$work/mets"
  for i in $(seq 1 "$REQUESTS"); do timed "$all&queryTime=$(( past - i ))" "$work/all"; done
  a1=$(metric "http://$WEB/metrics" go_memstats_alloc_bytes_total)
  for _ in $(seq 1 "$REQUESTS"); do timed "$all" "$work/cached"; done
  for i in $(seq 1 "$REQUESTS"); do timed "$one&queryTime=$(( past - i ))" "$work/one"; done
  for i in $(seq 1 "$REQUESTS"); do timed "$mets&queryTime=$(( past - i ))" "$work/mets"; done
  entities=$( (grep -o '"status":{"status"' "$work/health-past.json" || true) | wc -l)
  printf "| %d | %d | %d | %s | %s | %s | %d | %.0f | %s | %s | %s | %s | %d | %.1f | %s |\n" \
    "$(( services + services / 4 ))" "$namespaces" "$entities" \
    "$(percentile 50 <"$work/all")" "$(percentile 95 <"$work/all")" "$(percentile 50 <"$work/cached")" "$(( q1 - q0 ))" \
    "$(awk -v b="$(wc -c <"$work/health-past.json")" 'BEGIN { print b / 1024 }')" \
    "$(percentile 50 <"$work/one")" "$(percentile 95 <"$work/one")" \
    "$(percentile 50 <"$work/mets")" "$(percentile 95 <"$work/mets")" "$(( q2 - q1 ))" \
    "$(awk -v a="$a0" -v b="$a1" -v n="$REQUESTS" 'BEGIN { print (b - a) / n / 1048576 }')" \
    "$(rss_mib "$serve" VmHWM)"
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pids=()
done
