#!/usr/bin/env bash
# Graph benchmark: `meshlens serve` (its own process) answering the graph
# API over all namespaces of a synthetic mesh (versionedApp, default
# appenders, service nodes) whose metrics `meshlens simulate --metrics-only`
# emits and `meshlens store` scrapes. Prints a Markdown table.
# Environment: SIZES (services:namespaces ...), REQUESTS, INTERVAL, SIM_NICE,
# STORE_KIND (meshlens or Debian's prometheus), STORE_FLAGS (see lib.sh), RULES (1: the store runs the
# graph's recording rules; 0: raw series only), RULES_INTERVAL (see lib.sh),
# DURATION (the graphs' window, default 60s), PACE (seconds between two
# graphs, as a page polling the graph: default 0, back to back, which
# keeps the cores busy and measures the store saturated) and
# BIN (another build to measure, e.g. an older commit's) and
# WARMUP (seconds to wait before measuring, once every target has been
# scraped three times and the rules have run; default 0: a store still
# growing its head and heap, the harder case).
# The console keeps a graph's answers about "now" for a scrape interval
# (promclient.Shared), so back-to-back requests of the same graph are
# mostly answered from that cache: p50 and p95 are of graphs the console
# has not answered before (each asks about its own second, an interval
# ago), "cached p50" of the same graph asked again at once.
set -euo pipefail
cd "$(dirname "$0")/.."
# BIN: the meshlens binary to measure (default: build this tree's).
if [ -z "${BIN:-}" ]; then make -s build; BIN=./bin/meshlens; fi
SIZES=${SIZES:-"80:5 800:20 4000:50"}
REQUESTS=${REQUESTS:-20}
# Scrapes of 5,000 sidecars (1.5 million series) need more than 10s on 2 cores.
INTERVAL=${INTERVAL:-30s}
SIM=127.0.0.1:${SIM_PORT:-17000}
STORE=127.0.0.1:${STORE_PORT:-17090}
WEB=127.0.0.1:${WEB_PORT:-17001}
. bench/lib.sh

echo "store: ${STORE_KIND:-meshlens}, rules: ${RULES:-1} (every ${RULES_INTERVAL:-$INTERVAL}), scrape interval: $INTERVAL, duration: ${DURATION:-60s}, graphs: $REQUESTS, ${PACE:-0}s apart"
echo
echo "| workloads | namespaces | nodes | edges | queries/graph | response times, throughput | p50 s | p95 s | cached p50 s | answer KiB (gzip KiB) | allocs/graph MiB | console peak RSS MiB | rule group s, median (p99) | recorded series |"
echo "|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"
for size in $SIZES; do
  services=${size%%:*}; namespaces=${size##*:}
  start_mesh_and_console "$services" "$namespaces"
  url="http://$WEB/api/namespaces/graph?namespaces=$ns&graphType=versionedApp&duration=${DURATION:-60s}&injectServiceNodes=true"
  [ "${RULES:-1}" = 1 ] && wait_recorded
  sleep "${WARMUP:-0}"
  curl -fsS "$url" -o "$work/graph.json"   # warm-up, and the answer to describe
  a0=$(metric "http://$WEB/metrics" go_memstats_alloc_bytes_total)
  : >"$work/times"
  last=0
  for _ in $(seq 1 "$REQUESTS"); do
    at=$(( $(date +%s) - ${INTERVAL%s} - 1 ))
    [ "$at" -gt "$last" ] || at=$(( last + 1 ))
    last=$at
    curl -fsS -o /dev/null -w '%{time_total}\n' "$url&queryTime=$at" >>"$work/times"
    sleep "${PACE:-0}"
  done
  a1=$(metric "http://$WEB/metrics" go_memstats_alloc_bytes_total)
  : >"$work/cached"
  for _ in $(seq 1 "$REQUESTS"); do
    curl -fsS -o /dev/null -w '%{time_total}\n' "$url" >>"$work/cached"
  done
  gz=$(curl -fsS -H 'Accept-Encoding: gzip' -o - "$url" | wc -c)
  nodes=$(grep -o '"nodeType"' "$work/graph.json" | wc -l)
  edges=$(grep -o '"source"' "$work/graph.json" | wc -l)
  queries=$(grep -o '"queries":[0-9]*' "$work/graph.json" | tr -dc 0-9)
  times=recorded throughput=recorded
  [ "$(metric "http://$WEB/metrics" 'meshlens_graph_response_times_total{source="buckets"}')" = "" ] || times=buckets
  [ "$(metric "http://$WEB/metrics" 'meshlens_graph_response_times_total{source="recorded+buckets"}')" = "" ] || times=mixed
  [ "$(metric "http://$WEB/metrics" 'meshlens_graph_throughput_total{source="raw"}')" = "" ] || throughput=raw
  [ "$(metric "http://$WEB/metrics" 'meshlens_graph_throughput_total{source="recorded+raw"}')" = "" ] || throughput=mixed
  source="$times, $throughput"
  read -r group_median group_p99 recorded_series < <(rule_group_stats)
  printf "| %d | %d | %d | %d | %s | %s | %s | %s | %s | %.0f (%.0f) | %.1f | %s | %s | %s |\n" \
    "$(( services + services / 4 ))" "$namespaces" "$nodes" "$edges" "$queries" "$source" \
    "$(percentile 50 <"$work/times")" "$(percentile 95 <"$work/times")" "$(percentile 50 <"$work/cached")" \
    "$(awk -v b="$(wc -c <"$work/graph.json")" 'BEGIN { print b / 1024 }')" "$(awk -v b="$gz" 'BEGIN { print b / 1024 }')" \
    "$(awk -v a="$a0" -v b="$a1" -v n="$REQUESTS" 'BEGIN { print (b - a) / n / 1048576 }')" \
    "$(rss_mib "$serve" VmHWM)" "$group_median ($group_p99)" "$recorded_series"
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pids=()
done
