#!/usr/bin/env bash
# Scale-out: what the shared PostgreSQL store costs a node, and what a
# cluster of nodes behind nginx does with it. The same wrk load (POST
# /v1/functions/hello/invoke of the wasm `hello`, every invocation recorded)
# runs, one after the other, against
#
#   1. one node on SQLite (the default store),
#   2. one node on PostgreSQL,
#   3. three nodes on the same PostgreSQL behind nginx (round-robin,
#      keep-alive to the nodes),
#
# and for each prints requests/s, p50 and p99, records stored per second and
# the CPU seconds of nebula, PostgreSQL and nginx during the run, from
# /proc; from those, requests/s per busy core. Then, with the three nodes
# up, deploy propagation: a new function deployed through node 1, timed
# until node 3 first runs it.
#
#   bench/scale_out.sh [--duration 10s] [--connections 32] [--threads 2] [--deploys 20]
#
# The options default to DURATION, CONNECTIONS, THREADS and DEPLOYS from the
# environment. Everything runs on loopback; PostgreSQL 15 (a throwaway
# cluster in a temp directory, defaults: fsync and synchronous_commit on)
# and nginx are started by the script and stopped on exit, as are the
# nodes. Needs postgresql-15 and nginx (scripts/debian-packages.txt); not
# the network.
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"

duration=${DURATION:-10s} connections=${CONNECTIONS:-32} threads=${THREADS:-2}
deploys=${DEPLOYS:-20} poll_ms=${POLL_MS:-5}
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --deploys) deploys=$2; shift 2 ;;
    *) die "unknown option $1" ;;
  esac
done
[[ "$duration" =~ ^[0-9]+$ ]] && duration="${duration}s"  # wrk takes 10s, 1m; a bare number is seconds

NEBULA="$NEBULA_BUILD_DIR/nebula"
module="$NEBULA_BUILD_DIR/examples/hello.wasm"
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
NGINX=${NGINX:-/usr/sbin/nginx}
[ -x "$NEBULA" ] || die "no $NEBULA: build first (cmake --preset $NEBULA_PRESET && cmake --build --preset $NEBULA_PRESET)"
[ -f "$module" ] || die "no $module: build the examples (cmake --build --preset $NEBULA_PRESET)"
command -v wrk >/dev/null || die "wrk is missing: apt-get install wrk"
command -v python3 >/dev/null || die "python3 is missing"
for tool in initdb pg_ctl postgres psql; do
  [ -x "$PG_BIN/$tool" ] || die "no $PG_BIN/$tool: apt-get install postgresql-15 (or set PG_BIN)"
done
[ -x "$NGINX" ] || die "no $NGINX: apt-get install nginx (or set NGINX)"
root=false
if [ "$(id -u)" = 0 ]; then
  root=true
  id postgres >/dev/null 2>&1 || die "PostgreSQL refuses to run as root and there is no postgres user: apt-get install postgresql-15"
fi
# As root, PostgreSQL's tools run as `postgres`.
as_pg() { if $root; then runuser -u postgres -- "$@"; else "$@"; fi; }

work=$(mktemp -d)
chmod 755 "$work"  # postgres and nginx's workers (nobody) reach their directories below
declare -A node_pid=() node_port=()
pg_dir="$work/pg" pg_port="" pg_started=false
nginx_pid="" nginx_port=""
cleanup() {
  local status=$?
  set +e
  if [ "$status" != 0 ]; then  # what went wrong, from every log there is
    for log in "$work"/*.log "$pg_dir/postgres.log" "$work/nginx/error.log"; do
      [ -s "$log" ] && { echo "--- ${log#"$work/"} (last lines)"; tail -n 20 "$log"; } >&2
    done
  fi
  for name in "${!node_pid[@]}"; do kill -TERM "${node_pid[$name]}" 2>/dev/null; done
  for name in "${!node_pid[@]}"; do wait "${node_pid[$name]}" 2>/dev/null; done
  if [ -n "$nginx_pid" ]; then kill -QUIT "$nginx_pid" 2>/dev/null; wait "$nginx_pid" 2>/dev/null; fi
  if $pg_started; then
    as_pg "$PG_BIN/pg_ctl" -D "$pg_dir/data" -m fast -w stop >/dev/null 2>&1 ||
      kill -KILL "$(head -n 1 "$pg_dir/data/postmaster.pid" 2>/dev/null)" 2>/dev/null
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- processes

# start_node NAME [serve options…]: a node on a free port, data in $work/NAME.
# Nodes keep the default --max-records (1000 per function), as they would
# in production: the store prunes while the load runs, so records written
# are counted by the highest seq (both stores number rows one by one).
start_node() {
  local name=$1 port
  shift
  port=$(free_port)
  "$NEBULA" serve --listen "127.0.0.1:$port" --data-dir "$work/$name" --no-docker \
    --node-id "$name" --log-level warn "$@" >"$work/$name.log" 2>&1 &
  node_pid[$name]=$!
  node_port[$name]=$port
  wait_for "http://127.0.0.1:$port/healthz"
}
stop_node() {
  kill -TERM "${node_pid[$1]}" 2>/dev/null || true
  wait "${node_pid[$1]}" 2>/dev/null || true
  unset "node_pid[$1]"
}

# A throwaway cluster: trust on loopback only, its unix socket in its own
# directory (not /var/run/postgresql), database `nebula`.
start_postgres() {
  mkdir -p "$pg_dir"
  $root && chown postgres: "$pg_dir"
  as_pg "$PG_BIN/initdb" --pgdata="$pg_dir/data" --auth=trust --username=postgres \
    --encoding=UTF8 --no-locale --no-sync --no-instructions >"$pg_dir/initdb.log" 2>&1 ||
    { cat "$pg_dir/initdb.log" >&2; die "initdb failed"; }
  pg_port=$(free_port)
  pg_started=true
  as_pg "$PG_BIN/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/postgres.log" -w -t 30 \
    -o "-p $pg_port -c listen_addresses=127.0.0.1 -k $pg_dir" start >/dev/null ||
    die "PostgreSQL did not start on port $pg_port"
  psql_q postgres "CREATE DATABASE nebula" >/dev/null
}
# psql_q DATABASE SQL: the result, unaligned, tuples only
psql_q() {
  "$PG_BIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$pg_port" -U postgres -d "$1" -c "$2"
}
postmaster_pid() { head -n 1 "$pg_dir/data/postmaster.pid"; }

# nginx as our child (daemon off), everything in $work/nginx: round-robin
# over the nodes, keep-alive connections to them, no access log.
start_nginx() {
  local d="$work/nginx" upstreams="" p
  mkdir -p "$d"
  for p in "$@"; do upstreams+="    server 127.0.0.1:$p;"$'\n'; done
  nginx_port=$(free_port)
  {
    $root && echo "user nobody nogroup;"
    cat <<CONF
daemon off;
master_process on;
worker_processes auto;
pid $d/nginx.pid;
lock_file $d/nginx.lock;
error_log $d/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $d/client_body;
  proxy_temp_path $d/proxy;
  fastcgi_temp_path $d/fastcgi;
  uwsgi_temp_path $d/uwsgi;
  scgi_temp_path $d/scgi;
  upstream nebula {
$upstreams    keepalive 64;
    keepalive_timeout 30s;
  }
  server {
    listen 127.0.0.1:$nginx_port;
    client_max_body_size 64m;
    location / {
      proxy_pass http://nebula;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$http_host;
    }
  }
}
CONF
  } >"$d/nginx.conf"
  "$NGINX" -e "$d/error.log" -p "$d/" -c "$d/nginx.conf" </dev/null >>"$d/error.log" 2>&1 &
  nginx_pid=$!
  wait_for "http://127.0.0.1:$nginx_port/healthz"
}

# ---------------------------------------------------------------- measuring

# tree_ticks PID…: CPU clock ticks (user + system) of these processes and of
# all their descendants, those already ended included (a reaped child's
# time is in its parent's cutime/cstime). 0 without a PID.
tree_ticks() {
  python3 - "$@" <<'PY'
import os, sys
roots = {int(a) for a in sys.argv[1:]}
parent, ticks = {}, {}
for name in os.listdir("/proc"):
    if not name.isdigit():
        continue
    try:
        with open(f"/proc/{name}/stat") as f:
            stat = f.read()
    except OSError:
        continue
    fields = stat[stat.rfind(")") + 2:].split()  # state ppid … utime stime cutime cstime
    parent[int(name)] = int(fields[1])
    ticks[int(name)] = sum(int(x) for x in fields[11:15])
total = 0
for pid, t in ticks.items():
    p = pid
    while p > 1 and p not in roots:
        p = parent.get(p, 0)
    total += t if p in roots else 0
print(total)
PY
}
hz=$(getconf CLK_TCK)

# The invocation counter of `hello` on /metrics, summed over outcomes and
# over the nodes on these ports.
metric_count() {
  local sum=0 port n
  for port in "$@"; do
    n=$(curl -fsS "http://127.0.0.1:$port/metrics" |
      awk '/^nebula_invocations_total\{function="hello",/ {s += $2} END {printf "%d", s}')
    sum=$((sum + n))
  done
  echo "$sum"
}

# Records written so far, read from the store itself (the highest seq):
# psql for PostgreSQL, the sqlite3 shell for SQLite; without sqlite3, the
# /metrics counter.
count_records() {  # count_records STORE PORT, STORE postgres or sqlite:DATA_DIR
  case "$1" in
    postgres) psql_q nebula "SELECT coalesce(max(seq), 0) FROM invocations" ;;
    sqlite:*)
      if command -v sqlite3 >/dev/null; then
        sqlite3 "file:${1#sqlite:}/nebula.db?mode=ro" "SELECT coalesce(max(seq), 0) FROM invocations"
      else
        metric_count "$2"
      fi ;;
  esac
}
if command -v sqlite3 >/dev/null; then
  sqlite_counted="sqlite3: SELECT max(seq) FROM invocations"
else
  sqlite_counted="/metrics nebula_invocations_total (no sqlite3 shell)"
fi

cat >"$work/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = "Nebula"
done = function(summary, latency, requests)
  io.write(string.format("non-200 responses: %d\n", summary.errors.status))
  io.write(string.format("completed requests: %d\n", summary.requests))
end
LUA

# child_seconds FILE: CPU seconds (user + system) of the script's ended
# children, from the output of `times` (which must run in this shell, not
# in a $(…) subshell, whose children are its own)
child_seconds() {
  awk 'NR == 2 { split($1, u, /[ms]/); split($2, s, /[ms]/); printf "%.3f", u[1] * 60 + u[2] + s[1] * 60 + s[2] }' "$1"
}

# run_load KEY LABEL URL STORE NODE_PORTS… (STORE as for count_records): warm-up, wrk, the counts and CPU
# before and after; one line of results into $work/results.
run_load() {
  local key=$1 label=$2 url=$3 store=$4
  shift 4
  local ports=("$@") node_pids=() name port
  for name in "${!node_pid[@]}"; do
    for port in "${ports[@]}"; do
      [ "${node_port[$name]}" = "$port" ] && node_pids+=("${node_pid[$name]}")
    done
  done
  local pg_pids=() ngx_pids=()
  [ "$store" = postgres ] && pg_pids=("$(postmaster_pid)")
  [ "$url" = "http://127.0.0.1:$nginx_port" ] && ngx_pids=("$nginx_pid")

  for _ in $(seq 1 50); do curl -fsS -o /dev/null -d Nebula "$url/v1/functions/hello/invoke"; done
  sleep 1
  local records0 metric0
  records0=$(count_records "$store" "${ports[0]}")
  metric0=$(metric_count "${ports[@]}")
  local port
  : >"$work/$key.metric0"
  for port in "${ports[@]}"; do echo "$port $(metric_count "$port")" >>"$work/$key.metric0"; done

  local n0 p0 x0 c0 t0 n1 p1 x1 c1 t1
  n0=$(tree_ticks "${node_pids[@]}") p0=$(tree_ticks "${pg_pids[@]}") x0=$(tree_ticks "${ngx_pids[@]}")
  times >"$work/times.0"
  t0=$(date +%s%N)
  wrk --latency -t"$threads" -c"$connections" -d"$duration" -s "$work/post.lua" \
    "$url/v1/functions/hello/invoke" >"$work/$key.wrk"
  t1=$(date +%s%N)
  times >"$work/times.1"
  c0=$(child_seconds "$work/times.0") c1=$(child_seconds "$work/times.1")
  n1=$(tree_ticks "${node_pids[@]}") p1=$(tree_ticks "${pg_pids[@]}") x1=$(tree_ticks "${ngx_pids[@]}")

  sleep 1  # records are committed in batches, at most 10 ms after their invocation
  local records1 metric1 per_node=""
  records1=$(count_records "$store" "${ports[0]}")
  metric1=$(metric_count "${ports[@]}")
  if [ "$store" = postgres ]; then
    # Invocations per node, from each node's own /metrics.
    local port i=0 before
    for port in "${ports[@]}"; do
      i=$((i + 1))
      before=$(awk -v p="$port" '$1 == p {print $2}' "$work/$key.metric0")
      per_node+="${per_node:+,}node-$i=$(($(metric_count "$port") - before))"
    done
  fi
  local rps p50 p99 completed non200
  rps=$(awk '/Requests\/sec/ {print $2}' "$work/$key.wrk")
  p50=$(awk '$1 == "50%" {print $2}' "$work/$key.wrk")
  p99=$(awk '$1 == "99%" {print $2}' "$work/$key.wrk")
  completed=$(awk '/^completed requests:/ {print $3}' "$work/$key.wrk")
  non200=$(awk '/^non-200 responses:/ {print $3}' "$work/$key.wrk")
  echo "$key|$label|$rps|$p50|$p99|$((records1 - records0))|$((metric1 - metric0))|$completed|$non200|$(((t1 - t0) / 1000))|$((n1 - n0))|$((p1 - p0))|$((x1 - x0))|$c0|$c1|$per_node" >>"$work/results"
  note "$label: $rps req/s, p99 $p99, $((records1 - records0)) records, $non200 non-200"
}

# ---------------------------------------------------------------- the runs

echo "hello.wasm ($(stat -c %s "$module") bytes), wrk -t$threads -c$connections -d$duration POST /v1/functions/hello/invoke, loopback, $(nproc) cores"
echo "PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') (fsync and synchronous_commit on, the defaults), $("$NGINX" -v 2>&1 | sed 's/^nginx version: //'), $(wrk --version 2>&1 | awk 'NR == 1 {print $1, $2}')"

deploy() {  # deploy PORT NAME: hello.wasm as NAME, through the node on PORT
  curl -fsS -o /dev/null -X PUT -H 'Content-Type: application/wasm' --data-binary "@$module" \
    "http://127.0.0.1:$1/v1/functions/$2"
}
# until_invocable PORT NAME: until the node on PORT runs NAME (10 s at most)
until_invocable() {
  for _ in $(seq 1 200); do
    curl -fsS -o /dev/null -d Nebula "http://127.0.0.1:$1/v1/functions/$2/invoke" 2>/dev/null && return 0
    sleep 0.05
  done
  die "the node on port $1 does not run $2 after 10 s"
}

step "1. one node, SQLite"
start_node sqlite-1
deploy "${node_port[sqlite-1]}" hello
run_load sqlite "1 node, SQLite" "http://127.0.0.1:${node_port[sqlite-1]}" "sqlite:$work/sqlite-1" \
  "${node_port[sqlite-1]}"
stop_node sqlite-1

step "2. one node, PostgreSQL"
start_postgres
dsn="postgresql://postgres@127.0.0.1:$pg_port/nebula"
start_node node-1 --store "$dsn"
deploy "${node_port[node-1]}" hello
run_load pg1 "1 node, PostgreSQL" "http://127.0.0.1:${node_port[node-1]}" postgres "${node_port[node-1]}"

step "3. three nodes, PostgreSQL, behind nginx"
start_node node-2 --store "$dsn"
start_node node-3 --store "$dsn"
until_invocable "${node_port[node-2]}" hello
until_invocable "${node_port[node-3]}" hello
start_nginx "${node_port[node-1]}" "${node_port[node-2]}" "${node_port[node-3]}"
run_load pg3 "3 nodes, PostgreSQL, nginx" "http://127.0.0.1:$nginx_port" postgres \
  "${node_port[node-1]}" "${node_port[node-2]}" "${node_port[node-3]}"

step "4. deploy propagation: $deploys deploys through node-1, polled on node-3 every $poll_ms ms"
python3 - "${node_port[node-1]}" "${node_port[node-3]}" "$module" "$deploys" "$poll_ms" \
  >"$work/propagation" <<'PY'
import http.client, sys, time
port1, port3, module, deploys, poll_ms = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
body = open(module, "rb").read()
ms = lambda ns: ns / 1e6

class Conn:  # one keep-alive connection, opened again after an error
    def __init__(self, port): self.port, self.c = port, None
    def request(self, method, path, body, headers):
        for attempt in (1, 2):
            try:
                if self.c is None:
                    self.c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                self.c.request(method, path, body, headers)
                r = self.c.getresponse()
                data = r.read()
                return r.status, r.getheader("X-Nebula-Node"), data
            except (OSError, http.client.HTTPException):
                self.c = None
                if attempt == 2: raise

node1, node3 = Conn(port1), Conn(port3)
for i in range(1, deploys + 1):
    name = f"prop-{i}"
    t0 = time.monotonic_ns()
    status, _, data = node1.request("PUT", f"/v1/functions/{name}", body, {"Content-Type": "application/wasm"})
    t1 = time.monotonic_ns()
    if status not in (200, 201):
        print(f"fail {name} deploy answered {status}: {data[:200]!r}")
        continue
    polls, seen = 0, None
    while time.monotonic_ns() - t1 < 10e9:
        status, node, data = node3.request("POST", f"/v1/functions/{name}/invoke", b"Nebula", {})
        polls += 1
        if status == 200:
            seen = time.monotonic_ns()
            break
        if status != 404:
            print(f"note {name}: node-3 answered {status}: {data[:200]!r}")
        time.sleep(poll_ms / 1000)
    if seen is None:
        print(f"fail {name}: node-3 did not run it within 10 s of the deploy ({polls} polls)")
    else:
        print(f"ok {name} {ms(t1 - t0):.2f} {ms(seen - t0):.2f} {ms(seen - t1):.2f} {polls} {node}")
PY
grep -v '^ok ' "$work/propagation" | sed 's/^/    /' || true

# ---------------------------------------------------------------- the report

echo
python3 - "$work/results" "$work/propagation" "$hz" "$sqlite_counted" "$deploys" "$poll_ms" <<'PY'
import os, statistics, sys
results, propagation, hz, sqlite_counted, deploys, poll_ms = sys.argv[1:7]
hz = float(hz)
rows = {}
for line in open(results):
    f = line.rstrip("\n").split("|")
    (key, label, rps, p50, p99, records, counted, completed, non200, wall_us,
     neb, pg, ngx, c0, c1, per_node) = f
    wall = int(wall_us) / 1e6
    cpu = {"nebula": int(neb) / hz, "postgres": int(pg) / hz, "nginx": int(ngx) / hz}
    busy = sum(cpu.values()) / wall
    rows[key] = dict(label=label, rps=float(rps), p50=p50, p99=p99, records=int(records),
                     counted=int(counted), completed=int(completed), non200=int(non200),
                     wall=wall, cpu=cpu, busy=busy, client=(float(c1) - float(c0)) / wall,
                     per_node=per_node)

head = ("setup", "req/s", "p50", "p99", "records/s", "nebula CPU s", "postgres CPU s",
        "nginx CPU s", "busy cores", "req/s per core", "wrk cores")
fmt = "{:<28} {:>9} {:>9} {:>9} {:>10} {:>13} {:>15} {:>12} {:>11} {:>15} {:>10}"
print(fmt.format(*head))
for key in ("sqlite", "pg1", "pg3"):
    r = rows.get(key)
    if r is None:
        continue
    dash = lambda v, used: f"{v:.2f}" if used else "-"
    print(fmt.format(r["label"], f"{r['rps']:.0f}", r["p50"], r["p99"],
                     f"{r['records'] / r['wall']:.0f}",
                     f"{r['cpu']['nebula']:.2f}", dash(r['cpu']['postgres'], key != "sqlite"),
                     dash(r['cpu']['nginx'], key == "pg3"), f"{r['busy']:.2f}",
                     f"{r['rps'] / r['busy']:.0f}" if r['busy'] > 0 else "-",
                     f"{r['client']:.2f}"))
print()
for key in ("sqlite", "pg1", "pg3"):
    r = rows[key]
    store = sqlite_counted if key == "sqlite" else "psql: SELECT max(seq) FROM invocations"
    line = (f"{r['label']}: {r['completed']} responses ({r['non200']} non-200), "
            f"{r['counted']} invocations on /metrics, {r['records']} records written ({store})")
    if r["per_node"]:
        line += f"; by node {r['per_node']}"
    if r["records"] < r["counted"]:
        line += f"; MISSING {r['counted'] - r['records']} records"
    print(line)
print()
s, p1, p3 = rows["sqlite"], rows["pg1"], rows["pg3"]
print(f"PostgreSQL node / SQLite node: requests/s x{p1['rps'] / s['rps']:.2f}, "
      f"req/s per core x{(p1['rps'] / p1['busy']) / (s['rps'] / s['busy']):.2f}")
print(f"3 nodes / 1 node on PostgreSQL: requests/s x{p3['rps'] / p1['rps']:.2f}, "
      f"req/s per core x{(p3['rps'] / p3['busy']) / (p1['rps'] / p1['busy']):.2f}")
print("busy cores = CPU seconds of nebula + postgres + nginx over the wall seconds of the run "
      "(wrk's own share is beside it).")
cores = os.cpu_count()
if cores <= 2:
    print(f"On these {cores} cores the nodes, PostgreSQL, nginx and wrk all share the same CPU, "
          "so three nodes cannot beat one: they split it, and add a proxy hop.")
else:
    print(f"The nodes, PostgreSQL, nginx and wrk all share these {cores} cores, so the three "
          "nodes are bounded by the machine, not by themselves, and pay for a proxy hop.")
print("req/s per busy core is the figure that predicts a cluster, where each node has cores "
      "of its own.")

ok = [l.split() for l in open(propagation) if l.startswith("ok ")]
print()
if ok:
    deploy_ms = [float(o[2]) for o in ok]
    total_ms = [float(o[3]) for o in ok]
    after_ms = [float(o[4]) for o in ok]
    polls = [int(o[5]) for o in ok]
    print(f"deploy propagation: {deploys} deploys through node-1, node-3 polled every {poll_ms} ms, "
          f"{len(ok)} ran on node-3")
    row = "  {:<36} {:>9} {:>9}"
    print(row.format("", "p50", "max"))
    for what, values in (("deploy answered by node-1", deploy_ms),
                         ("deploy request -> node-3 runs it", total_ms),
                         ("node-1's answer -> node-3 runs it", after_ms)):
        print(row.format(what, f"{statistics.median(values):.1f} ms", f"{max(values):.1f} ms"))
    print(row.format("invocations sent to node-3 until 200", f"{statistics.median(polls):.0f}",
                     f"{max(polls)}"))
else:
    print(f"deploy propagation: none of {deploys} deploys ran on node-3")
PY
