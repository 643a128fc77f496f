#!/usr/bin/env bash
# Cluster variant of the local stack, without Docker (`touchpoints stack up --cluster`):
#   three Apache Kafka 4.1 brokers (KRaft, each broker and controller, a quorum of three),
#   ZooKeeper 3.8 and two ClickHouse 18.16 replicas of one shard, as plain user processes.
#
# It proves the production shape on one machine: topics with replication factor 3 and
# min.insync.replicas 2, replicated tables with Distributed tables for reads, ON CLUSTER
# migrations, and faults (a broker killed) that the single-node stack cannot show.
# No Prometheus or Alertmanager: the single-node stack has those.
#
# It reuses deploy/local/stack.sh's helpers (pid files, health waits, jar installs) and
# keeps everything in its own state dir, $TOUCHPOINTS_CLUSTER_DIR (default
# <repo>/.stack-cluster), on ports of its own. Run `cluster.sh help`.
set -euo pipefail

CLUSTER_SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
CLUSTER_REPO_DIR=$(cd -- "$CLUSTER_SCRIPT_DIR/../.." && pwd -P)

# stack.sh reads its state dir from TOUCHPOINTS_STACK_DIR when sourced: point it at ours.
TOUCHPOINTS_STACK_DIR=${TOUCHPOINTS_CLUSTER_DIR:-$CLUSTER_REPO_DIR/.stack-cluster}
# shellcheck source=deploy/local/stack.sh
source "$CLUSTER_SCRIPT_DIR/stack.sh"
PROG="deploy/local/cluster.sh"

# Every port is BASE + an offset, so one variable moves the whole cluster.
PORT_BASE=${TOUCHPOINTS_CLUSTER_PORT_BASE:-29000}
CLUSTER_NAME=${TOUCHPOINTS_CLUSTER_NAME:-touchpoints}
KAFKA_HEAP=${TOUCHPOINTS_CLUSTER_KAFKA_HEAP:-384m}
ZOOKEEPER_HEAP=${TOUCHPOINTS_CLUSTER_ZOOKEEPER_HEAP:-128m}
BROKERS=(1 2 3)
REPLICAS=(1 2)
CLUSTER_SERVICES=(zookeeper kafka-1 kafka-2 kafka-3 clickhouse-1 clickhouse-2)

ZOOKEEPER_POM="$CLUSTER_SCRIPT_DIR/zookeeper/pom.xml"
ZOOKEEPER_LOGBACK="$CLUSTER_SCRIPT_DIR/zookeeper/logback.xml"
CLICKHOUSE_CLUSTER_TEMPLATE="$CLUSTER_SCRIPT_DIR/clickhouse/cluster.xml.in"
ZOOKEEPER_DIR="$STATE_DIR/zookeeper"
ZOOKEEPER_LIBS="$ZOOKEEPER_DIR/libs"

zookeeper_port() { echo $((PORT_BASE + 181)); }
broker_port() { echo $((PORT_BASE + 90 + $1)); }       # 29091, 29092, 29093
controller_port() { echo $((PORT_BASE + 190 + $1)); }  # 29191, 29192, 29193
ch_tcp_port() { echo $((PORT_BASE + $1)); }            # 29001, 29002
ch_http_port() { echo $((PORT_BASE + 120 + $1)); }     # 29121, 29122
ch_interserver_port() { echo $((PORT_BASE + 130 + $1)); }

bootstrap_servers() {
  local b out=()
  for b in "${BROKERS[@]}"; do out+=("$HOST:$(broker_port "$b")"); done
  (IFS=,; echo "${out[*]}")
}

cluster_usage() {
  cat <<EOF
Usage: $PROG COMMAND [ARGS]

Local cluster (no Docker): three Kafka 4.1 brokers (KRaft, a quorum of three), ZooKeeper
and two ClickHouse 18.16 replicas of one shard, as user processes bound to 127.0.0.1.

Commands:
  install         install what is missing (Debian packages, Kafka and ZooKeeper jars via Maven)
  up              install, then start every service not running and wait until healthy
  down            stop the services this script started (SIGTERM, then SIGKILL after ${STOP_TIMEOUT}s)
  status          one line per service; exit 0 if all are running and healthy, 3 otherwise
  env             the TOUCHPOINTS_* variables that point the pipeline at this cluster
  logs [SERVICE]  last 100 lines of the log of SERVICE (${CLUSTER_SERVICES[*]}) or of all
  start SERVICE   start one service (already installed) and wait until it is healthy
  stop SERVICE    stop one service (SIGTERM, then SIGKILL after ${STOP_TIMEOUT}s)
  kill SERVICE    SIGKILL one service at once (fault tests: a crash, not a shutdown)
  reset           down, then delete the state dir
  help            this text

Environment (defaults in brackets):
  TOUCHPOINTS_CLUSTER_DIR            state dir [<repo>/.stack-cluster], now: $STATE_DIR
  TOUCHPOINTS_CLUSTER_PORT_BASE      every port is this plus an offset [29000]: now
                                     Kafka $(bootstrap_servers) (controllers $(controller_port 1)-$(controller_port 3)),
                                     ClickHouse native $(ch_tcp_port 1), $(ch_tcp_port 2), HTTP $(ch_http_port 1), $(ch_http_port 2),
                                     interserver $(ch_interserver_port 1), $(ch_interserver_port 2), ZooKeeper $(zookeeper_port)
  TOUCHPOINTS_CLUSTER_NAME           the ClickHouse cluster's name (ON CLUSTER, Distributed) [touchpoints]
  TOUCHPOINTS_CLUSTER_KAFKA_HEAP     each broker's JVM heap [384m]
  TOUCHPOINTS_CLUSTER_ZOOKEEPER_HEAP ZooKeeper's JVM heap [128m]
  TOUCHPOINTS_STACK_START_TIMEOUT    seconds to wait for each service to be healthy [120]
  TOUCHPOINTS_STACK_STOP_TIMEOUT     seconds between SIGTERM and SIGKILL on down [20]

Exit codes: 0 ok, 1 error, 2 usage error, 3 (status) not all running and healthy.
EOF
}

check_cluster_settings() {
  [[ $PORT_BASE =~ ^[0-9]+$ ]] && ((PORT_BASE >= 1024 && PORT_BASE <= 65000)) ||
    die "TOUCHPOINTS_CLUSTER_PORT_BASE must be a number between 1024 and 65000, got '$PORT_BASE'"
  [[ $CLUSTER_NAME =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] ||
    die "TOUCHPOINTS_CLUSTER_NAME must be letters, digits and '_', got '$CLUSTER_NAME'"
  [[ $KAFKA_HEAP =~ ^[0-9]+[mg]$ && $ZOOKEEPER_HEAP =~ ^[0-9]+[mg]$ ]] ||
    die "the heap sizes must look like 384m or 1g"
  [[ $STATE_DIR != "" && $STATE_DIR != "$REPO_DIR" && $STATE_DIR != "${HOME:-/}" ]] ||
    die "refusing to use '$STATE_DIR' as the state dir: set TOUCHPOINTS_CLUSTER_DIR to a dedicated folder"
}

# ------------------------------------------------------ per-service facts
# (these replace stack.sh's, which know only the single node's four services)

service_ports() {
  case $1 in
    zookeeper) zookeeper_port ;;
    kafka-*) echo "$(broker_port "${1#kafka-}") $(controller_port "${1#kafka-}")" ;;
    clickhouse-*) echo "$(ch_tcp_port "${1#clickhouse-}") $(ch_http_port "${1#clickhouse-}") $(ch_interserver_port "${1#clickhouse-}")" ;;
  esac
}

service_address() {
  case $1 in
    zookeeper) echo "zk://$HOST:$(zookeeper_port)" ;;
    kafka-*) echo "kafka://$HOST:$(broker_port "${1#kafka-}") (controller $HOST:$(controller_port "${1#kafka-}"))" ;;
    clickhouse-*) echo "tcp://$HOST:$(ch_tcp_port "${1#clickhouse-}") http://$HOST:$(ch_http_port "${1#clickhouse-}")" ;;
  esac
}

service_logs() {
  case $1 in
    zookeeper) echo "$ZOOKEEPER_DIR/logs/zookeeper.log $ZOOKEEPER_DIR/logs/stdout.log" ;;
    kafka-*) echo "$STATE_DIR/$1/logs/server.log $STATE_DIR/$1/logs/stdout.log" ;;
    clickhouse-*) echo "$STATE_DIR/$1/log/clickhouse-server.log $STATE_DIR/$1/log/stdout.log" ;;
  esac
}

service_healthy() {
  case $1 in
    zookeeper)
      local answer
      # srvr, not ruok: ruok says imok while the server inside has died.
      answer=$(timeout 2 bash -c "exec 3<>/dev/tcp/$HOST/$(zookeeper_port); printf srvr >&3; cat <&3" 2>/dev/null) &&
        [[ $answer == *"Mode: standalone"* ]]
      ;;
    kafka-*)
      local id=${1#kafka-} metadata
      port_open "$(broker_port "$id")" &&
        metadata=$(kcat -b "$HOST:$(broker_port "$id")" -L -m 3 2>/dev/null) &&
        [[ $metadata == *"broker $id at"* ]]
      ;;
    clickhouse-*)
      [[ $(curl -s --max-time 2 "http://$HOST:$(ch_http_port "${1#clickhouse-}")/ping" 2>/dev/null) == "Ok." ]]
      ;;
  esac
}

check_cluster_service() {
  local name
  for name in "${CLUSTER_SERVICES[@]}"; do
    [[ ${1:-} == "$name" ]] && return 0
  done
  warn "name one service: ${CLUSTER_SERVICES[*]}"
  exit 2
}

# -------------------------------------------------------------- install

install_zookeeper_jars() {
  local marker="$ZOOKEEPER_LIBS/.complete" want build
  want=$(file_hash "$ZOOKEEPER_POM")
  if [[ -f $marker && $(<"$marker") == "$want" ]] && compgen -G "$ZOOKEEPER_LIBS/zookeeper-3*.jar" >/dev/null; then
    return 0
  fi
  command -v mvn >/dev/null 2>&1 || die "fetching the ZooKeeper jars needs Maven: apt-get install -y maven"
  say "resolving the ZooKeeper jars with Maven ($ZOOKEEPER_POM -> $ZOOKEEPER_LIBS)"
  build="$ZOOKEEPER_DIR/build"
  rm -rf -- "$build" "$ZOOKEEPER_LIBS.new"
  mkdir -p "$build"
  cp -- "$ZOOKEEPER_POM" "$build/pom.xml"
  if ! (cd "$build" && mvn -B -q -Dstyle.color=never dependency:copy-dependencies \
    -DoutputDirectory="$ZOOKEEPER_LIBS.new" -DincludeScope=runtime) >"$ZOOKEEPER_DIR/mvn.log" 2>&1; then
    tail -n 40 -- "$ZOOKEEPER_DIR/mvn.log" >&2
    die "Maven could not resolve the ZooKeeper jars: see $ZOOKEEPER_DIR/mvn.log"
  fi
  rm -rf -- "$ZOOKEEPER_LIBS" "$build"
  mv -- "$ZOOKEEPER_LIBS.new" "$ZOOKEEPER_LIBS"
  echo "$want" >"$marker"
}

cluster_install() {
  init_state_dir
  lock_state_dir
  install_packages
  check_java
  install_kafka_jars # into <state>/kafka/libs, shared by the three brokers
  mkdir -p "$ZOOKEEPER_DIR"
  install_zookeeper_jars
}

# ------------------------------------------------------------- zookeeper

zookeeper_start() {
  mkdir -p "$ZOOKEEPER_DIR/data" "$ZOOKEEPER_DIR/logs"
  cat >"$ZOOKEEPER_DIR/zoo.cfg" <<EOF
# Generated by $PROG on each start: edit the script, not this file.
tickTime=2000
initLimit=10
syncLimit=5
dataDir=$ZOOKEEPER_DIR/data
clientPort=$(zookeeper_port)
clientPortAddress=$HOST
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=ruok,stat,srvr,mntr
autopurge.snapRetainCount=3
autopurge.purgeInterval=1
EOF
  start_process zookeeper "$ZOOKEEPER_DIR/logs/stdout.log" \
    java "-Xms$ZOOKEEPER_HEAP" "-Xmx$ZOOKEEPER_HEAP" -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -Djava.awt.headless=true "-Dzookeeper.log.dir=$ZOOKEEPER_DIR/logs" \
    "-Dlogback.configurationFile=$ZOOKEEPER_LOGBACK" -cp "$ZOOKEEPER_LIBS/*" \
    org.apache.zookeeper.server.quorum.QuorumPeerMain "$ZOOKEEPER_DIR/zoo.cfg"
}

# ------------------------------------------------------------------ kafka

# Small heaps, serial GC and the client compiler only: three brokers share 2 cores, and
# what they serve here (hundreds of records/s) never needs C2 or G1.
broker_java() { # broker_java ID -> BROKER_JAVA array
  BROKER_JAVA=(java "-Xms$KAFKA_HEAP" "-Xmx$KAFKA_HEAP" -XX:+UseSerialGC -XX:TieredStopAtLevel=1
    -Djava.awt.headless=true
    "-Dlog4j2.configurationFile=$KAFKA_LOG4J" "-Dkafka.logs.dir=$STATE_DIR/kafka-$1/logs"
    -cp "$KAFKA_LIBS/*")
}

broker_render() {
  local id=$1 dir="$STATE_DIR/kafka-$1" voters=() b
  mkdir -p "$dir/data" "$dir/logs"
  for b in "${BROKERS[@]}"; do voters+=("$b@$HOST:$(controller_port "$b")"); done
  cat >"$dir/server.properties.tmp" <<EOF
# Generated by $PROG on each start: edit the script, not this file.
process.roles=broker,controller
node.id=$id
controller.quorum.voters=$(IFS=,; echo "${voters[*]}")
listeners=PLAINTEXT://$HOST:$(broker_port "$id"),CONTROLLER://$HOST:$(controller_port "$id")
advertised.listeners=PLAINTEXT://$HOST:$(broker_port "$id")
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/data
num.partitions=4
auto.create.topics.enable=false
# The production shape: three copies, a write needs two of them (acks=all).
# Topics the project creates get both from its settings (TOUCHPOINTS_KAFKA_TOPIC_*);
# these are the broker defaults for the rest (Faust's changelogs, internal topics).
default.replication.factor=3
min.insync.replicas=2
offsets.topic.replication.factor=3
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
share.coordinator.state.topic.replication.factor=3
share.coordinator.state.topic.min.isr=2
unclean.leader.election.enable=false
group.initial.rebalance.delay.ms=0
log.retention.hours=24
log.segment.bytes=67108864
# Few threads: three brokers share 2 cores with the rest of the stack.
num.network.threads=2
num.io.threads=2
num.replica.fetchers=1
background.threads=2
log.cleaner.threads=1
num.recovery.threads.per.data.dir=1
EOF
  mv -f -- "$dir/server.properties.tmp" "$dir/server.properties"
}

# One cluster id for the three brokers, made once; each broker's storage formatted once.
broker_format() {
  local id=$1 dir="$STATE_DIR/kafka-$1" id_file="$STATE_DIR/kafka/cluster-id" cluster_id
  [[ -f $dir/data/meta.properties ]] && return 0
  mkdir -p "$STATE_DIR/kafka"
  if [[ ! -s $id_file ]]; then
    cluster_id=-
    while [[ $cluster_id == -* ]]; do
      cluster_id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
    done
    echo "$cluster_id" >"$id_file"
  fi
  cluster_id=$(<"$id_file")
  say "kafka-$id: formatting the KRaft storage (cluster id $cluster_id, static quorum of ${#BROKERS[@]})"
  broker_java "$id"
  "${BROKER_JAVA[@]}" kafka.tools.StorageTool format --cluster-id "$cluster_id" \
    --config "$dir/server.properties" >"$dir/logs/format.log" 2>&1 || {
    tail -n 20 -- "$dir/logs/format.log" >&2
    die "kafka-$id: formatting the storage failed: see $dir/logs/format.log"
  }
}

broker_start() {
  local id=$1
  broker_render "$id"
  broker_format "$id"
  broker_java "$id"
  start_process "kafka-$id" "$STATE_DIR/kafka-$id/logs/stdout.log" \
    "${BROKER_JAVA[@]}" kafka.Kafka "$STATE_DIR/kafka-$id/server.properties"
}

# ------------------------------------------------------------- clickhouse

replica_start() {
  local id=$1 dir="$STATE_DIR/clickhouse-$1" sub
  for sub in data tmp user_files format_schemas log config.d; do
    mkdir -p "$dir/$sub"
  done
  render "$CLICKHOUSE_CONFIG_TEMPLATE" "$dir/config.xml" \
    "@STATE_DIR@/clickhouse/" "$dir/" \
    @TCP_PORT@ "$(ch_tcp_port "$id")" @HTTP_PORT@ "$(ch_http_port "$id")"
  render "$CLICKHOUSE_CLUSTER_TEMPLATE" "$dir/config.d/cluster.xml" \
    @INTERSERVER_PORT@ "$(ch_interserver_port "$id")" @CLUSTER@ "$CLUSTER_NAME" \
    @TCP_PORT_1@ "$(ch_tcp_port 1)" @TCP_PORT_2@ "$(ch_tcp_port 2)" \
    @ZOOKEEPER_PORT@ "$(zookeeper_port)" @REPLICA@ "ch$id"
  cp -f -- "$CLICKHOUSE_USERS" "$dir/users.xml"
  start_process "clickhouse-$id" "$dir/log/stdout.log" \
    "$(clickhouse_bin)" --config-file="$dir/config.xml"
}

service_start() {
  case $1 in
    zookeeper) zookeeper_start ;;
    kafka-*) broker_start "${1#kafka-}" ;;
    clickhouse-*) replica_start "${1#clickhouse-}" ;;
  esac
}

# ---------------------------------------------------------------- commands

# Every broker sees all three in the metadata (the quorum formed and they registered).
brokers_registered() {
  local metadata b
  metadata=$(kcat -b "$(bootstrap_servers)" -L -m 3 2>/dev/null) || return 1
  for b in "${BROKERS[@]}"; do
    [[ $metadata == *"broker $b at"* ]] || return 1
  done
}

cluster_up() {
  local start service pid state deadline
  local -A started=()
  start=$(now_ms)
  cluster_install
  # ZooKeeper before the replicas (they connect at start); the brokers start together,
  # since each waits for the quorum of the others.
  for service in zookeeper kafka-1 kafka-2 kafka-3 clickhouse-1 clickhouse-2; do
    if pid=$(service_pid "$service"); then
      check_running_ports "$service"
      continue
    fi
    rm -f -- "$(pid_file "$service")"
    ensure_ports_free "$service"
    service_start "$service"
    started[$service]=1
    if [[ $service == zookeeper ]]; then
      wait_healthy zookeeper "$(started_pid zookeeper)"
    fi
  done
  for service in "${CLUSTER_SERVICES[@]}"; do
    pid=$(started_pid "$service") ||
      die "$service exited right after its start: see $(service_logs "$service" | cut -d' ' -f1) (or: $PROG logs $service)"
    wait_healthy "$service" "$pid"
  done
  deadline=$(($(date +%s) + START_TIMEOUT))
  until brokers_registered; do
    (($(date +%s) < deadline)) || die "the three brokers did not all register within ${START_TIMEOUT}s"
    sleep 0.5
  done
  for service in "${CLUSTER_SERVICES[@]}"; do
    pid=$(service_pid "$service")
    state="running"
    [[ -n ${started[$service]:-} ]] && state="started"
    say "$(printf '%-13s %-8s %-62s pid %s' "$service" "$state" "$(service_address "$service")" "$pid")"
  done
  say "cluster up in $(elapsed "$start") (state dir $STATE_DIR); point the pipeline at it with: eval \"\$($PROG env)\""
}

cluster_start_one() {
  local service=$1 pid start
  check_cluster_service "$service"
  start=$(now_ms)
  init_state_dir
  lock_state_dir
  if pid=$(service_pid "$service"); then
    check_running_ports "$service"
    say "$(printf '%-13s running  pid %s' "$service" "$pid")"
    return 0
  fi
  rm -f -- "$(pid_file "$service")"
  ensure_ports_free "$service"
  service_start "$service"
  pid=$(started_pid "$service") ||
    die "$service exited right after its start: see $(service_logs "$service" | cut -d' ' -f1)"
  wait_healthy "$service" "$pid"
  say "$(printf '%-13s started  %s pid %s in %s' "$service" "$(service_address "$service")" "$pid" "$(elapsed "$start")")"
}

cluster_kill() {
  check_cluster_service "${1:-}"
  kill_service "$1"
}

cluster_down() {
  local service stopped=0
  if [[ ! -d $RUN_DIR ]]; then
    say "nothing to stop (no $RUN_DIR)"
    return 0
  fi
  lock_state_dir
  # Replicas and brokers together, ZooKeeper last (the replicas talk to it until they stop).
  for service in clickhouse-1 clickhouse-2 kafka-1 kafka-2 kafka-3; do
    if service_pid "$service" >/dev/null; then
      stop_service "$service" &
      stopped=$((stopped + 1))
    else
      stop_service "$service"
    fi
  done
  wait
  service_pid zookeeper >/dev/null && stopped=$((stopped + 1))
  stop_service zookeeper
  if ((stopped == 0)); then
    say "down (nothing was running)"
  else
    say "down"
  fi
}

cluster_status() {
  local service pid ok=0
  for service in "${CLUSTER_SERVICES[@]}"; do
    if pid=$(service_pid "$service"); then
      if service_healthy "$service"; then
        say "$(printf '%-13s %-9s pid %-8s %s' "$service" running "$pid" "$(service_address "$service")")"
      else
        say "$(printf '%-13s %-9s pid %-8s %s (log: %s)' "$service" unhealthy "$pid" "$(service_address "$service")" "$(service_logs "$service" | cut -d' ' -f1)")"
        ok=3
      fi
    else
      say "$(printf '%-13s %s' "$service" stopped)"
      ok=3
    fi
  done
  return "$ok"
}

# The settings that point touchpoints at this cluster (eval "$(cluster.sh env)").
cluster_env() {
  cat <<EOF
export TOUCHPOINTS_KAFKA_BOOTSTRAP_SERVERS=$(bootstrap_servers)
export TOUCHPOINTS_KAFKA_TOPIC_REPLICATION_FACTOR=3
export TOUCHPOINTS_KAFKA_TOPIC_MIN_INSYNC_REPLICAS=2
export TOUCHPOINTS_CLICKHOUSE_PORT=$(ch_tcp_port 1)
export TOUCHPOINTS_CLICKHOUSE_CLUSTER=$CLUSTER_NAME
EOF
}

cluster_logs() {
  local service
  if (($# == 0)); then
    for service in "${CLUSTER_SERVICES[@]}"; do
      tail_logs "$service" || true
      echo
    done
    return 0
  fi
  check_cluster_service "$1"
  tail_logs "$1"
}

cluster_reset() {
  cluster_down
  [[ -d $STATE_DIR ]] || return 0
  [[ -e $STATE_MARKER ]] ||
    die "$STATE_DIR was not created by $PROG (no $(basename -- "$STATE_MARKER")): not deleting it"
  rm -rf -- "$STATE_DIR"
  say "deleted $STATE_DIR"
}

cluster_main() {
  local command=${1:-help}
  (($# == 0)) || shift
  case $command in
    help | -h | --help)
      cluster_usage
      return 0
      ;;
  esac
  check_cluster_settings
  case $command in
    install)
      cluster_install
      say "everything is installed (Kafka jars in $KAFKA_LIBS, ZooKeeper jars in $ZOOKEEPER_LIBS)"
      ;;
    up) cluster_up ;;
    down) cluster_down ;;
    status) cluster_status ;;
    env) cluster_env ;;
    logs) cluster_logs "$@" ;;
    reset) cluster_reset ;;
    start) cluster_start_one "${1:-}" ;;
    stop)
      check_cluster_service "${1:-}"
      [[ -d $RUN_DIR ]] || return 0
      lock_state_dir
      stop_service "$1"
      ;;
    kill) cluster_kill "${1:-}" ;;
    *)
      cluster_usage >&2
      warn "unknown command '$command'"
      exit 2
      ;;
  esac
}

cluster_main "$@"
