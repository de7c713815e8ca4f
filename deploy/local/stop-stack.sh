#!/usr/bin/env bash
# Stops what deploy/local/run-stack.sh started: SIGTERM (services drain), then SIGKILL after 10 s.
set -uo pipefail
state=.run
[ -f "$state/pids" ] || { echo "nothing to stop"; exit 0; }
pids=$(cat "$state/pids")
kill $pids 2>/dev/null
for _ in $(seq 1 100); do
    alive=0
    for pid in $pids; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ $alive -eq 0 ] && break
    sleep 0.1
done
for pid in $pids; do kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null; done
rm -f "$state/pids"
echo "stopped"
