#!/usr/bin/env bash
# The web console's graph page in headless Chromium (Debian's, driven by
# playwright-core): bookinfo from `meshlens demo`, and synthetic meshes of
# about 1,000 and 5,000 workloads (`meshlens simulate --metrics-only` →
# `meshlens store` → `meshlens serve`), each as a versioned app graph of
# all its namespaces. Columns: nodes and edges drawn; seconds from
# navigation to the graph API's answer (the store's and the console's
# work) and to the first drawn graph; the
# longest main-thread task in the three seconds after it; frames per
# second while panning and zooming, traffic animation off and on (the
# store and the simulator paused meanwhile: in production they run on other
# machines than the browser); the tab's JavaScript heap. Prints a Markdown table.
# The browser is started and left idle (SETTLE ms, default 3000) before it
# opens the page, as a user's is. Environment: SIZES (services:namespaces
# ...), INTERVAL, BIN, RULES (see lib.sh), WARMUP (seconds to wait once the
# rules have run, default 30), REPEAT (runs per mesh, a row each; default 1).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${BIN:-}" ]; then make -s build; BIN=./bin/meshlens; fi
make -s web/ui/node_modules
SIZES=${SIZES:-"800:20 4000:50"}
INTERVAL=${INTERVAL:-30s}
RULES=${RULES:-1}
SIM=127.0.0.1:${SIM_PORT:-17000}
STORE=127.0.0.1:${STORE_PORT:-17090}
WEB=127.0.0.1:${WEB_PORT:-17001}
. bench/lib.sh

echo "| mesh | nodes | edges | API answered s | first drawn s | longest task after ms | fps, animation off | fps, animation on | JS heap MiB |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
"$BIN" --log.level=warn demo --web.listen-address "$WEB" --store.listen-address "$STORE" --scrape-interval 5s >"$work/demo.log" 2>&1 &
demo=$!; pids+=("$demo")
wait_http "http://$WEB/-/ready"
# Every bookinfo edge (13 in the versioned app graph) once two scrapes saw traffic.
for _ in $(seq 1 120); do
  [ "$(curl -fsS "http://$WEB/api/namespaces/graph?namespaces=bookinfo&duration=60s" | grep -o '"source"' | wc -l)" -ge 13 ] && break; sleep 0.5
done
node web/ui/bench/ui.mjs bookinfo "http://$WEB/graph?namespaces=bookinfo&refresh=0"
kill "$demo"; wait "$demo" 2>/dev/null || true
for size in $SIZES; do
  services=${size%%:*}; namespaces=${size##*:}
  start_mesh_and_console "$services" "$namespaces"
  workloads=$(curl -fsS "http://$SIM/api/simulate/targets" | grep -c '"targets"')
  # As bench/graph.sh: measure once the rules have run over scraped data
  # (before, a young store's first graphs read raw series and take
  # several times longer), WARMUP seconds later.
  [ "$RULES" = 1 ] && wait_recorded
  sleep "${WARMUP:-30}"
  for run in $(seq 1 "${REPEAT:-1}"); do
    # Each run a graph the console has not answered (it keeps one for a
    # scrape interval), two scrapes after the last run's pause.
    [ "$run" = 1 ] || sleep $((3 * ${INTERVAL%s}))
    PAUSE_PIDS="$sim $store" node web/ui/bench/ui.mjs "$workloads workloads" "http://$WEB/graph?namespaces=$ns&graphType=versionedApp&refresh=0&duration=$((2 * ${INTERVAL%s}))"
  done
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; pids=()
done
