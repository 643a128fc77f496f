#!/usr/bin/env bash
# Local service stack of the touchpoints pipeline, without Docker:
#   Apache Kafka 4.1 (KRaft, single combined node), ClickHouse (Debian 18.16),
#   Prometheus 2.42 and Alertmanager 0.25, all as plain user processes.
#
# Everything (jars, data, logs, pid files, rendered configs) lives in the state
# dir, $TOUCHPOINTS_STACK_DIR (default: <repo>/.stack). Run `stack.sh help`.
set -euo pipefail
shopt -u patsub_replacement 2>/dev/null || true

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
REPO_DIR=$(cd -- "$SCRIPT_DIR/../.." && pwd -P)
PROG="deploy/local/stack.sh"

STATE_DIR=${TOUCHPOINTS_STACK_DIR:-$REPO_DIR/.stack}
case $STATE_DIR in
  /*) ;;
  *) STATE_DIR="$PWD/$STATE_DIR" ;;
esac
STATE_DIR=${STATE_DIR%/}
RUN_DIR="$STATE_DIR/run"
STATE_MARKER="$STATE_DIR/.touchpoints-stack"

KAFKA_PORT=${TOUCHPOINTS_STACK_KAFKA_PORT:-9092}
KAFKA_CONTROLLER_PORT=${TOUCHPOINTS_STACK_KAFKA_CONTROLLER_PORT:-9094}
CLICKHOUSE_PORT=${TOUCHPOINTS_STACK_CLICKHOUSE_PORT:-9000}
CLICKHOUSE_HTTP_PORT=${TOUCHPOINTS_STACK_CLICKHOUSE_HTTP_PORT:-8123}
PROMETHEUS_PORT=${TOUCHPOINTS_STACK_PROMETHEUS_PORT:-9090}
ALERTMANAGER_PORT=${TOUCHPOINTS_STACK_ALERTMANAGER_PORT:-9093}
# Optional second Kafka listener, SASL_SSL with SCRAM-SHA-512 (off when empty).
KAFKA_SASL_PORT=${TOUCHPOINTS_STACK_KAFKA_SASL_PORT:-}
KAFKA_SCRAM_USER=${TOUCHPOINTS_STACK_KAFKA_SCRAM_USER:-touchpoints}
# The secure profile (1): the broker listener on KAFKA_PORT is SASL_SSL only, the
# KRaft controller listener stays PLAINTEXT on 127.0.0.1, the StandardAuthorizer
# denies what no ACL allows, and the SCRAM user above is the one super user
# (docs/security.md, "Kafka: least privilege"); `touchpoints acls apply` then
# creates one principal per component and its ACLs.
KAFKA_SECURE=${TOUCHPOINTS_STACK_KAFKA_SECURE:-0}
# Seconds each service may take to become healthy.
START_TIMEOUT=${TOUCHPOINTS_STACK_START_TIMEOUT:-120}
# Seconds a service may take to stop after SIGTERM before it gets SIGKILL.
STOP_TIMEOUT=${TOUCHPOINTS_STACK_STOP_TIMEOUT:-20}

HOST=127.0.0.1
SERVICES=(kafka clickhouse prometheus alertmanager)
# systemd: its systemd-analyze verifies deploy/systemd's units (tests/unit/deploy).
APT_PACKAGES=(clickhouse-server clickhouse-client prometheus prometheus-alertmanager kcat curl systemd)
BROWSER_PACKAGES=(chromium chromium-driver)

KAFKA_POM="$SCRIPT_DIR/kafka/pom.xml"
KAFKA_LOG4J="$SCRIPT_DIR/kafka/log4j2.yaml"
CLICKHOUSE_CONFIG_TEMPLATE="$SCRIPT_DIR/clickhouse/config.xml.in"
CLICKHOUSE_USERS="$SCRIPT_DIR/clickhouse/users.xml"
PROMETHEUS_TEMPLATE="$REPO_DIR/deploy/prometheus/prometheus.yml"
PROMETHEUS_RULES_DIR="$REPO_DIR/deploy/prometheus/rules"
ALERTMANAGER_CONFIG="$REPO_DIR/deploy/alertmanager/alertmanager.yml"

KAFKA_DIR="$STATE_DIR/kafka"
KAFKA_LIBS="$KAFKA_DIR/libs"
CLICKHOUSE_DIR="$STATE_DIR/clickhouse"
PROMETHEUS_DIR="$STATE_DIR/prometheus"
ALERTMANAGER_DIR="$STATE_DIR/alertmanager"

# ---------------------------------------------------------------- helpers

say() { printf 'stack: %s\n' "$*"; }
warn() { printf 'stack: %s\n' "$*" >&2; }
die() {
  printf 'stack: error: %s\n' "$*" >&2
  exit 1
}

usage() {
  cat <<EOF
Usage: $PROG COMMAND [ARGS]

Local touchpoints service stack (no Docker): Kafka 4.1 (KRaft), ClickHouse,
Prometheus and Alertmanager as user processes bound to 127.0.0.1.

Commands:
  install         install what is missing (Debian packages, Kafka jars via Maven)
  install-browser install Chromium and chromedriver if missing (the ops page's browser test)
  up              install, then start every service not running and wait until healthy
  down            stop the services this script started (SIGTERM, then SIGKILL after ${STOP_TIMEOUT}s)
  status          one line per service; exit 0 if all are running and healthy, 3 otherwise
  logs [SERVICE]  last 100 lines of the log of SERVICE (${SERVICES[*]}) or of all
  start SERVICE   start one service (already installed) and wait until it is healthy
  stop SERVICE    stop one service (SIGTERM, then SIGKILL after ${STOP_TIMEOUT}s)
  kill SERVICE    SIGKILL one service at once (fault tests: a crash, not a shutdown)
  reset           down, then delete the state dir
  help            this text

Environment (defaults in brackets):
  TOUCHPOINTS_STACK_DIR                    state dir [<repo>/.stack], now: $STATE_DIR
  TOUCHPOINTS_STACK_KAFKA_PORT             Kafka PLAINTEXT listener [9092]
  TOUCHPOINTS_STACK_KAFKA_CONTROLLER_PORT  Kafka KRaft CONTROLLER listener [9094]
  TOUCHPOINTS_STACK_CLICKHOUSE_PORT        ClickHouse native TCP [9000]
  TOUCHPOINTS_STACK_CLICKHOUSE_HTTP_PORT   ClickHouse HTTP [8123]
  TOUCHPOINTS_STACK_PROMETHEUS_PORT        Prometheus [9090]
  TOUCHPOINTS_STACK_ALERTMANAGER_PORT      Alertmanager [9093]
  TOUCHPOINTS_STACK_KAFKA_SASL_PORT        also listen with SASL_SSL (SCRAM-SHA-512, TLS with a
                                           locally generated CA) on this port [off]; the CA,
                                           user and password are in <state>/kafka/tls/
  TOUCHPOINTS_STACK_KAFKA_SCRAM_USER       the SCRAM user created for that listener [touchpoints]
  TOUCHPOINTS_STACK_KAFKA_SECURE           1: the secure profile: KAFKA_PORT speaks SASL_SSL only
                                           (no PLAINTEXT listener), the controller listener stays
                                           PLAINTEXT on 127.0.0.1, ACLs are enforced and the SCRAM
                                           user is the only client super user; then run
                                           \`touchpoints acls apply\` as that user [0]
  TOUCHPOINTS_STACK_START_TIMEOUT          seconds to wait for each service to be healthy [120]
  TOUCHPOINTS_STACK_STOP_TIMEOUT           seconds between SIGTERM and SIGKILL on down [20]

Exit codes: 0 ok, 1 error, 2 usage error, 3 (status) not all running and healthy.
EOF
}

check_settings() {
  local name value optional=()
  [[ -z $KAFKA_SASL_PORT ]] || optional=(KAFKA_SASL_PORT)
  [[ $KAFKA_SECURE == 0 || $KAFKA_SECURE == 1 ]] ||
    die "TOUCHPOINTS_STACK_KAFKA_SECURE must be 0 or 1, got '$KAFKA_SECURE'"
  [[ $KAFKA_SECURE == 0 || -z $KAFKA_SASL_PORT ]] ||
    die "TOUCHPOINTS_STACK_KAFKA_SECURE=1 already makes TOUCHPOINTS_STACK_KAFKA_PORT SASL_SSL: leave TOUCHPOINTS_STACK_KAFKA_SASL_PORT unset"
  [[ $KAFKA_SCRAM_USER =~ ^[A-Za-z0-9._-]+$ ]] ||
    die "TOUCHPOINTS_STACK_KAFKA_SCRAM_USER must be letters, digits, '.', '_' or '-', got '$KAFKA_SCRAM_USER'"
  for name in KAFKA_PORT KAFKA_CONTROLLER_PORT CLICKHOUSE_PORT CLICKHOUSE_HTTP_PORT \
    PROMETHEUS_PORT ALERTMANAGER_PORT START_TIMEOUT STOP_TIMEOUT "${optional[@]}"; do
    value=${!name}
    if ! [[ $value =~ ^[0-9]+$ ]] || ((value < 1 || value > 65535)); then
      die "TOUCHPOINTS_STACK_$name must be a number between 1 and 65535, got '$value'"
    fi
  done
  local ports
  # shellcheck disable=SC2086 # the optional SASL port is empty or one word
  ports=$(printf '%s\n' "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT" "$CLICKHOUSE_PORT" \
    "$CLICKHOUSE_HTTP_PORT" "$PROMETHEUS_PORT" "$ALERTMANAGER_PORT" $KAFKA_SASL_PORT |
    sort | uniq -d | tr '\n' ' ')
  [[ -z $ports ]] || die "each service port must be different, but ${ports% } is used twice (see: $PROG help)"
  [[ $STATE_DIR != "" && $STATE_DIR != "$REPO_DIR" && $STATE_DIR != "${HOME:-/}" ]] ||
    die "refusing to use '$STATE_DIR' as the state dir: set TOUCHPOINTS_STACK_DIR to a dedicated folder"
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }

elapsed() { # elapsed START_MS -> "1.23s"
  local ms=$(($(now_ms) - $1))
  printf '%d.%02ds' $((ms / 1000)) $((ms % 1000 / 10))
}

# Creates the state dir (with a marker file, so that reset only ever deletes
# a folder this script created).
init_state_dir() {
  if [[ -d $STATE_DIR && ! -e $STATE_MARKER ]] && [[ -n $(ls -A "$STATE_DIR") ]]; then
    die "$STATE_DIR exists, is not empty and was not created by $PROG: set TOUCHPOINTS_STACK_DIR elsewhere"
  fi
  mkdir -p "$RUN_DIR"
  [[ -e $STATE_MARKER ]] || echo "state dir of $REPO_DIR/$PROG" >"$STATE_MARKER"
}

# Holds a lock on the state dir for the rest of the script (up/down/reset).
STATE_LOCKED=
lock_state_dir() {
  [[ -z $STATE_LOCKED ]] || return 0
  command -v flock >/dev/null 2>&1 || return 0
  exec 9>"$RUN_DIR/lock"
  flock -w 300 9 || die "another $PROG is still busy with $STATE_DIR after 5 minutes (lock $RUN_DIR/lock)"
  STATE_LOCKED=1
}

file_hash() { cat -- "$@" 2>/dev/null | sha256sum | cut -d' ' -f1; }

# render TEMPLATE OUTPUT FROM TO [FROM TO ...]: literal string replacements.
render() {
  local template=$1 output=$2 content
  shift 2
  content=$(<"$template")
  while (($# >= 2)); do
    content=${content//"$1"/"$2"}
    shift 2
  done
  printf '%s\n' "$content" >"$output.tmp"
  mv -f -- "$output.tmp" "$output"
}

port_open() { # port_open PORT: something accepts TCP connections on 127.0.0.1:PORT
  timeout 2 bash -c "exec 3<>/dev/tcp/$HOST/$1" 2>/dev/null
}

port_holder() { # best-effort "pid N (command)" of the listener on PORT
  local port=$1 pid
  command -v ss >/dev/null 2>&1 || return 0
  pid=$(ss -Hltnp "sport = :$port" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n1 | cut -d= -f2) || true
  [[ -n $pid ]] || return 0
  printf ': pid %s (%s)' "$pid" "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-120)"
}

# ------------------------------------------------------------ pid files

pid_file() { echo "$RUN_DIR/$1.pid"; }

# service_pid SERVICE: prints the pid of the running service started by this
# script; fails if the pid file is missing, the process is gone, or the pid now
# belongs to another process (its command line must mention the state dir).
service_pid() {
  local file pid
  file=$(pid_file "$1")
  [[ -f $file ]] || return 1
  pid=$(<"$file")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  [[ -r /proc/$pid/cmdline ]] || return 1
  tr '\0' '\n' <"/proc/$pid/cmdline" | grep -qF -- "$STATE_DIR/" || return 1
  [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) != Z ]] || return 1
  echo "$pid"
}

# start_process SERVICE OUTPUT_FILE COMMAND...: starts COMMAND in the
# background in its own session (so that it survives this shell and a Ctrl-C),
# and records its pid.
start_process() {
  local service=$1 output=$2
  shift 2
  mkdir -p "$(dirname -- "$output")"
  printf '\n==== %s: %s starting: %s\n' "$(date -u +%FT%TZ)" "$service" "$*" >>"$output"
  # fd 9 is the state dir lock: the service must not inherit (and hold) it.
  (cd "$STATE_DIR" && exec setsid "$@" </dev/null >>"$output" 2>&1 9>&-) &
  echo "$!" >"$(pid_file "$service")"
  service_ports "$service" >"$RUN_DIR/$service.ports"
}

# Fails if one of the ports of SERVICE is taken by a process of someone else.
ensure_ports_free() {
  local service=$1 port
  for port in $(service_ports "$service"); do
    if port_open "$port"; then
      stop_system_service "$service" "$port" && continue
      die "$service: port $HOST:$port is already in use by another process$(port_holder "$port"); stop it or choose another port (see: $PROG help)"
    fi
  done
}

# A Debian package may have started its own system service (clickhouse-server,
# prometheus, prometheus-alertmanager) on the same port: stop that service.
stop_system_service() {
  local service=$1 port=$2 unit pid cmdline i
  case $service in
    clickhouse) unit=clickhouse-server ;;
    prometheus) unit=prometheus ;;
    alertmanager) unit=prometheus-alertmanager ;;
    *) return 1 ;;
  esac
  command -v ss >/dev/null 2>&1 || return 1
  pid=$(ss -Hltnp "sport = :$port" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n1 | cut -d= -f2) || true
  [[ -n $pid ]] || return 1
  cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
  # Only the packaged service: its config is in /etc (or defaults), never our state dir.
  [[ $cmdline != *"$STATE_DIR/"* ]] || return 1
  case $cmdline in
    *clickhouse*"/etc/clickhouse-server/"* | *prometheus-alertmanager* | *"/usr/bin/prometheus"* | prometheus\ *) ;;
    *) return 1 ;;
  esac
  warn "$service: port $port is held by the system service '$unit' (pid $pid) that the Debian package started; stopping it with 'service $unit stop'"
  if command -v service >/dev/null 2>&1; then
    service "$unit" stop >/dev/null 2>&1 || true
  fi
  for ((i = 0; i < 40; i++)); do
    port_open "$port" || return 0
    sleep 0.25
  done
  return 1
}

# stop_service SERVICE: TERM, wait up to STOP_TIMEOUT, then KILL.
stop_service() {
  local service=$1 file pid start i
  file=$(pid_file "$service")
  if ! pid=$(service_pid "$service"); then
    if [[ -f $file ]]; then
      say "$(printf '%-13s' "$service") stopped (removed stale pid file)"
      rm -f -- "$file" "$RUN_DIR/$service.ports"
    fi
    return 0
  fi
  start=$(now_ms)
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    warn "$service (pid $pid) did not stop within ${STOP_TIMEOUT}s: sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
  fi
  rm -f -- "$file" "$RUN_DIR/$service.ports"
  say "$(printf '%-13s' "$service") stopped (pid $pid, $(elapsed "$start"))"
}

# started_pid SERVICE: service_pid, allowing the just-forked shell a moment to
# exec the service (until then its command line does not name the state dir).
started_pid() {
  local i
  for ((i = 0; i < 50; i++)); do
    service_pid "$1" && return 0
    sleep 0.1
  done
  return 1
}

# ------------------------------------------------------ per-service facts

service_ports() {
  case $1 in
    kafka) echo "$KAFKA_PORT $KAFKA_CONTROLLER_PORT${KAFKA_SASL_PORT:+ $KAFKA_SASL_PORT}" ;;
    clickhouse) echo "$CLICKHOUSE_PORT $CLICKHOUSE_HTTP_PORT" ;;
    prometheus) echo "$PROMETHEUS_PORT" ;;
    alertmanager) echo "$ALERTMANAGER_PORT" ;;
  esac
}

service_address() {
  case $1 in
    kafka)
      if [[ $KAFKA_SECURE == 1 ]]; then
        echo "sasl_ssl://$HOST:$KAFKA_PORT (controller $HOST:$KAFKA_CONTROLLER_PORT, plaintext)"
      else
        echo "kafka://$HOST:$KAFKA_PORT${KAFKA_SASL_PORT:+ sasl_ssl://$HOST:$KAFKA_SASL_PORT} (controller $HOST:$KAFKA_CONTROLLER_PORT)"
      fi
      ;;
    clickhouse) echo "tcp://$HOST:$CLICKHOUSE_PORT http://$HOST:$CLICKHOUSE_HTTP_PORT" ;;
    prometheus) echo "http://$HOST:$PROMETHEUS_PORT" ;;
    alertmanager) echo "http://$HOST:$ALERTMANAGER_PORT" ;;
  esac
}

# Main log first, then the captured stdout/stderr of the process.
service_logs() {
  case $1 in
    kafka) echo "$KAFKA_DIR/logs/server.log $KAFKA_DIR/logs/stdout.log" ;;
    clickhouse) echo "$CLICKHOUSE_DIR/log/clickhouse-server.log $CLICKHOUSE_DIR/log/stdout.log" ;;
    prometheus) echo "$PROMETHEUS_DIR/prometheus.log" ;;
    alertmanager) echo "$ALERTMANAGER_DIR/alertmanager.log" ;;
  esac
}

service_healthy() {
  case $1 in
    kafka)
      local metadata
      if [[ $KAFKA_SECURE == 1 ]]; then
        # Debian's kcat (librdkafka) fails SCRAM against this broker where the Java and
        # kafka-python clients pass: check the TLS handshake against the local CA.
        port_open "$KAFKA_PORT" && openssl s_client -connect "$HOST:$KAFKA_PORT" \
          -CAfile "$KAFKA_TLS_DIR/ca.crt" -verify_return_error </dev/null >/dev/null 2>&1
        return
      fi
      port_open "$KAFKA_PORT" &&
        metadata=$(kcat -b "$HOST:$KAFKA_PORT" -L -m 3 2>/dev/null) &&
        [[ $metadata == *"broker 1 at"* ]]
      ;;
    clickhouse)
      [[ $(curl -s --max-time 2 "http://$HOST:$CLICKHOUSE_HTTP_PORT/ping" 2>/dev/null) == "Ok." ]]
      ;;
    prometheus) curl -fs --max-time 2 -o /dev/null "http://$HOST:$PROMETHEUS_PORT/-/ready" ;;
    alertmanager) curl -fs --max-time 2 -o /dev/null "http://$HOST:$ALERTMANAGER_PORT/-/ready" ;;
  esac
}

# wait_healthy SERVICE PID: until healthy, the process exits or the timeout.
wait_healthy() {
  local service=$1 pid=$2 deadline log
  deadline=$(($(date +%s) + START_TIMEOUT))
  log=$(service_logs "$service")
  log=${log%% *}
  until service_healthy "$service"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      warn "$service (pid $pid) exited during startup; last lines of its logs:"
      tail_logs "$service" 20 >&2 || true
      die "$service failed to start: see $log (or: $PROG logs $service)"
    fi
    if (($(date +%s) >= deadline)); then
      die "$service (pid $pid) is not healthy after ${START_TIMEOUT}s: see $log (or: $PROG logs $service)"
    fi
    sleep 0.25
  done
}

# ---------------------------------------------------------------- install

deb_installed() {
  [[ $(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null) == ii* ]]
}

install_packages() {
  local missing=() package
  if command -v dpkg-query >/dev/null 2>&1; then
    for package in "${APT_PACKAGES[@]}"; do
      deb_installed "$package" || missing+=("$package")
    done
  else
    for package in clickhouse-server clickhouse-client prometheus prometheus-alertmanager kcat curl; do
      command -v "$package" >/dev/null 2>&1 || [[ -x /usr/sbin/$package ]] || missing+=("$package")
    done
  fi
  ((${#missing[@]} > 0)) || return 0
  command -v apt-get >/dev/null 2>&1 ||
    die "apt-get is not available: install ${missing[*]} (ClickHouse server and client, Prometheus with promtool, Alertmanager, kcat, curl) with your system's package manager."
  apt_install install "${missing[@]}"
}

# The headless browser the ops page's end-to-end test drives (tests/e2e/test_ops_page.py):
# `make test` installs it, the stack itself does not need it.
install_browser() {
  local missing=() package
  if command -v dpkg-query >/dev/null 2>&1; then
    for package in "${BROWSER_PACKAGES[@]}"; do
      deb_installed "$package" || missing+=("$package")
    done
  else
    for package in chromium chromedriver; do
      command -v "$package" >/dev/null 2>&1 || missing+=("$package")
    done
  fi
  ((${#missing[@]} > 0)) || return 0
  command -v apt-get >/dev/null 2>&1 ||
    die "apt-get is not available: install ${missing[*]} (Chromium and its chromedriver) with your system's package manager."
  apt_install install-browser "${missing[@]}"
}

# apt_install COMMAND PACKAGE...: as root, waiting for another apt's lock; COMMAND is this
# script's command that installs them, named when not root.
apt_install() {
  local command=$1 missing=("${@:2}")
  ((EUID == 0)) ||
    die "missing Debian packages (${missing[*]}): run '$PROG $command' as root, or: sudo apt-get install -y ${missing[*]}"
  say "installing Debian packages: ${missing[*]} (waits for the dpkg lock if another apt is running)"
  apt-get -o DPkg::Lock::Timeout=900 update -q ||
    die "apt-get update failed (see its output above)"
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -q "${missing[@]}" ||
    die "apt-get install ${missing[*]} failed (see its output above)"
}

java_major() { # major version of `java`, e.g. 17 (1.8 -> 8)
  local line version
  line=$(java -version 2>&1 | grep -m1 -E 'version "[^"]+"') || return 1
  version=${line#*version \"}
  version=${version%%\"*}
  [[ $version == 1.* ]] && version=${version#1.}
  echo "${version%%[.+-]*}"
}

check_java() {
  local major
  if command -v java >/dev/null 2>&1 && major=$(java_major) && [[ $major =~ ^[0-9]+$ ]] && ((major >= 17)); then
    return 0
  fi
  die "Kafka 4.1 needs Java 17 or newer as 'java' on the PATH: install it, e.g. apt-get install -y openjdk-17-jre-headless"
}

install_kafka_jars() {
  local marker="$KAFKA_LIBS/.complete" want build
  want=$(file_hash "$KAFKA_POM")
  if [[ -f $marker && $(<"$marker") == "$want" ]] && compgen -G "$KAFKA_LIBS/kafka_2.13-*.jar" >/dev/null; then
    return 0
  fi
  if ! command -v mvn >/dev/null 2>&1 || ! command -v java >/dev/null 2>&1; then
    die "fetching the Kafka jars needs Java 17+ and Maven: install them, e.g. apt-get install -y openjdk-17-jdk-headless maven"
  fi
  check_java
  say "resolving the Kafka jars with Maven ($KAFKA_POM -> $KAFKA_LIBS)"
  build="$KAFKA_DIR/build"
  rm -rf -- "$build" "$KAFKA_LIBS.new"
  mkdir -p "$build"
  cp -- "$KAFKA_POM" "$build/pom.xml"
  if ! (cd "$build" && mvn -B -q -Dstyle.color=never dependency:copy-dependencies \
    -DoutputDirectory="$KAFKA_LIBS.new" -DincludeScope=runtime) >"$KAFKA_DIR/mvn.log" 2>&1; then
    tail -n 40 -- "$KAFKA_DIR/mvn.log" >&2
    die "Maven could not resolve the Kafka jars: see $KAFKA_DIR/mvn.log"
  fi
  compgen -G "$KAFKA_LIBS.new/kafka_2.13-*.jar" >/dev/null ||
    die "Maven ran but $KAFKA_LIBS.new has no kafka_2.13 jar"
  rm -rf -- "$KAFKA_LIBS" "$build"
  mv -- "$KAFKA_LIBS.new" "$KAFKA_LIBS"
  echo "$want" >"$marker"
}

cmd_install() {
  init_state_dir
  lock_state_dir
  install_packages
  check_java
  install_kafka_jars
}

# ------------------------------------------------------------------ kafka

kafka_render() {
  local props="$KAFKA_DIR/server.properties" listeners protocols
  mkdir -p "$KAFKA_DIR/data" "$KAFKA_DIR/logs"
  listeners="PLAINTEXT://$HOST:$KAFKA_PORT,CONTROLLER://$HOST:$KAFKA_CONTROLLER_PORT"
  protocols="CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
  if [[ $KAFKA_SECURE == 1 ]]; then
    # No PLAINTEXT broker listener at all; the controller's stays on loopback.
    listeners="SASL_SSL://$HOST:$KAFKA_PORT,CONTROLLER://$HOST:$KAFKA_CONTROLLER_PORT"
    protocols="CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL"
  elif [[ -n $KAFKA_SASL_PORT ]]; then
    listeners+=",SASL_SSL://$HOST:$KAFKA_SASL_PORT"
    protocols+=",SASL_SSL:SASL_SSL"
  fi
  cat >"$props.tmp" <<EOF
# Generated by $PROG on each start: edit the script, not this file.
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=$HOST:$KAFKA_CONTROLLER_PORT
listeners=$listeners
advertised.listeners=$listeners
listener.security.protocol.map=$protocols
controller.listener.names=CONTROLLER
inter.broker.listener.name=${listeners%%:*}
log.dirs=$KAFKA_DIR/data
num.partitions=4
auto.create.topics.enable=false
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.retention.hours=168
log.segment.bytes=268435456
EOF
  [[ -z $KAFKA_SASL_PORT && $KAFKA_SECURE == 0 ]] || kafka_sasl_properties >>"$props.tmp"
  [[ $KAFKA_SECURE == 0 ]] || kafka_secure_properties >>"$props.tmp"
  chmod 600 "$props.tmp" # it holds the keystore's and the super user's passwords
  mv -f -- "$props.tmp" "$props"
}

# ------------------------------------------------- kafka SASL_SSL listener

KAFKA_TLS_DIR="$KAFKA_DIR/tls"

# secret_file FILE: prints the secret kept in FILE, creating a random one first.
secret_file() {
  local file=$1
  mkdir -p "$(dirname -- "$file")"
  if [[ ! -s $file ]]; then
    (umask 077 && head -c 24 /dev/urandom | base64 | tr -d '/+=\n' >"$file")
  fi
  cat -- "$file"
}

# A local CA and a broker certificate for 127.0.0.1/localhost, made once with
# openssl; clients trust <tls>/ca.crt. The broker reads a PKCS12 keystore.
kafka_tls_generate() {
  local dir=$KAFKA_TLS_DIR store_password
  [[ -s $dir/broker.p12 && -s $dir/ca.crt ]] && return 0
  command -v openssl >/dev/null 2>&1 ||
    die "kafka: the SASL_SSL listener needs openssl to make its certificates"
  mkdir -p "$dir"
  store_password=$(secret_file "$dir/keystore.password")
  say "kafka: generating a local CA and a broker certificate in $dir"
  (
    cd "$dir" || exit 1
    openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 825 \
      -subj "/CN=touchpoints local CA" -keyout ca.key -out ca.crt &&
      openssl req -newkey rsa:2048 -nodes -sha256 -subj "/CN=$HOST" \
        -keyout broker.key -out broker.csr &&
      printf 'subjectAltName=IP:%s,DNS:localhost\nextendedKeyUsage=serverAuth\n' "$HOST" >broker.ext &&
      openssl x509 -req -in broker.csr -CA ca.crt -CAkey ca.key -CAcreateserial -sha256 \
        -days 825 -extfile broker.ext -out broker.crt &&
      openssl pkcs12 -export -in broker.crt -inkey broker.key -certfile ca.crt -name broker \
        -passout "pass:$store_password" -out broker.p12 &&
      chmod 600 ca.key broker.key broker.p12
  ) >"$dir/openssl.log" 2>&1 || {
    cat "$dir/openssl.log" >&2
    die "kafka: generating the TLS certificates failed (see $dir/openssl.log)"
  }
}

kafka_sasl_properties() {
  local store_password
  store_password=$(secret_file "$KAFKA_TLS_DIR/keystore.password")
  cat <<EOF
# SASL_SSL listener (TOUCHPOINTS_STACK_KAFKA_SASL_PORT): SCRAM-SHA-512 over TLS.
sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_ssl.sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.ssl.keystore.type=PKCS12
listener.name.sasl_ssl.ssl.keystore.location=$KAFKA_TLS_DIR/broker.p12
listener.name.sasl_ssl.ssl.keystore.password=$store_password
listener.name.sasl_ssl.ssl.key.password=$store_password
EOF
}

# The secure profile: brokers talk to each other as the super user over SASL_SSL,
# and the authorizer allows nothing else that no ACL allows.
kafka_secure_properties() {
  local password
  password=$(secret_file "$KAFKA_TLS_DIR/scram.password")
  echo "$KAFKA_SCRAM_USER" >"$KAFKA_TLS_DIR/scram.user"
  cat <<EOF
# Secure profile (TOUCHPOINTS_STACK_KAFKA_SECURE=1): ACLs, one super user.
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
# The broker is a client of its own listener too: it trusts the local CA.
listener.name.sasl_ssl.ssl.truststore.type=PEM
listener.name.sasl_ssl.ssl.truststore.location=$KAFKA_TLS_DIR/ca.crt
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="$KAFKA_SCRAM_USER" password="$password";
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
# ANONYMOUS is the broker itself on the PLAINTEXT controller listener (127.0.0.1 only),
# which needs CLUSTER_ACTION before any ACL can exist; SASL_SSL has no anonymous client.
super.users=User:$KAFKA_SCRAM_USER;User:ANONYMOUS
# A refused login is answered, then closed after this delay, so that clients read why.
connection.failed.authentication.delay.ms=2000
EOF
}

# Creates (or updates) the SCRAM user through the PLAINTEXT listener, once per
# password; the credential lives in the cluster metadata, so it survives restarts.
kafka_scram_user() {
  local password marker="$KAFKA_TLS_DIR/scram.applied" want
  password=$(secret_file "$KAFKA_TLS_DIR/scram.password")
  echo "$KAFKA_SCRAM_USER" >"$KAFKA_TLS_DIR/scram.user"
  want=$(printf '%s:%s' "$KAFKA_SCRAM_USER" "$password" | sha256sum | cut -d' ' -f1)
  [[ -f $marker && $(<"$marker") == "$want" ]] && return 0
  kafka_java_command
  "${KAFKA_JAVA[@]}" kafka.admin.ConfigCommand --bootstrap-server "$HOST:$KAFKA_PORT" --alter \
    --add-config "SCRAM-SHA-512=[iterations=8192,password=$password]" \
    --entity-type users --entity-name "$KAFKA_SCRAM_USER" >"$KAFKA_DIR/logs/scram.log" 2>&1 || {
    tail -n 20 -- "$KAFKA_DIR/logs/scram.log" >&2
    die "kafka: creating the SCRAM user $KAFKA_SCRAM_USER failed: see $KAFKA_DIR/logs/scram.log"
  }
  echo "$want" >"$marker"
  say "kafka: SCRAM-SHA-512 user '$KAFKA_SCRAM_USER' ready (password in $KAFKA_TLS_DIR/scram.password, CA $KAFKA_TLS_DIR/ca.crt)"
}

# The java command line of the Kafka server and its tools (without main class).
kafka_java_command() {
  KAFKA_JAVA=(java -Xms512m -Xmx1g -XX:+UseG1GC -XX:MaxGCPauseMillis=20
    -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent
    -Djava.awt.headless=true
    "-Dlog4j2.configurationFile=$KAFKA_LOG4J" "-Dkafka.logs.dir=$KAFKA_DIR/logs"
    -cp "$KAFKA_LIBS/*")
}

kafka_format() {
  local id_file="$KAFKA_DIR/cluster-id" cluster_id
  [[ -f $KAFKA_DIR/data/meta.properties ]] && return 0
  if [[ ! -s $id_file ]]; then
    # Same shape as `kafka.tools.StorageTool random-uuid` (16 random bytes,
    # URL-safe base64 without padding), without paying for a JVM start.
    cluster_id=-
    while [[ $cluster_id == -* ]]; do
      cluster_id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
    done
    echo "$cluster_id" >"$id_file"
  fi
  cluster_id=$(<"$id_file")
  say "kafka: formatting the KRaft storage (cluster id $cluster_id, single-node dynamic quorum)"
  kafka_java_command
  local scram=()
  # The secure profile has no listener to create its super user through: the
  # credential is written into the metadata log with the storage.
  [[ $KAFKA_SECURE == 0 ]] ||
    scram=(--add-scram "SCRAM-SHA-512=[name=$KAFKA_SCRAM_USER,password=$(secret_file "$KAFKA_TLS_DIR/scram.password")]")
  "${KAFKA_JAVA[@]}" kafka.tools.StorageTool format --cluster-id "$cluster_id" \
    --config "$KAFKA_DIR/server.properties" --standalone "${scram[@]}" >"$KAFKA_DIR/logs/format.log" 2>&1 || {
    tail -n 20 -- "$KAFKA_DIR/logs/format.log" >&2
    die "kafka: formatting the storage failed: see $KAFKA_DIR/logs/format.log"
  }
}

kafka_start() {
  [[ -z $KAFKA_SASL_PORT && $KAFKA_SECURE == 0 ]] || kafka_tls_generate
  kafka_render
  kafka_format
  kafka_java_command
  start_process kafka "$KAFKA_DIR/logs/stdout.log" \
    "${KAFKA_JAVA[@]}" kafka.Kafka "$KAFKA_DIR/server.properties"
}

# ------------------------------------------------------------- clickhouse

clickhouse_bin() {
  local candidate
  for candidate in "$(command -v clickhouse-server || true)" /usr/sbin/clickhouse-server /usr/bin/clickhouse-server; do
    [[ -n $candidate && -x $candidate ]] && {
      echo "$candidate"
      return 0
    }
  done
  die "clickhouse-server not found: run '$PROG install'"
}

clickhouse_start() {
  local dir
  for dir in data tmp user_files format_schemas log; do
    mkdir -p "$CLICKHOUSE_DIR/$dir"
  done
  render "$CLICKHOUSE_CONFIG_TEMPLATE" "$CLICKHOUSE_DIR/config.xml" \
    @STATE_DIR@ "$STATE_DIR" @TCP_PORT@ "$CLICKHOUSE_PORT" @HTTP_PORT@ "$CLICKHOUSE_HTTP_PORT"
  cp -f -- "$CLICKHOUSE_USERS" "$CLICKHOUSE_DIR/users.xml"
  start_process clickhouse "$CLICKHOUSE_DIR/log/stdout.log" \
    "$(clickhouse_bin)" --config-file="$CLICKHOUSE_DIR/config.xml"
}

# ------------------------------------------------------------- prometheus

# Renders deploy/prometheus/prometheus.yml with the chosen ports and an
# absolute rules path; prints the hash of the config and the rule files.
prometheus_render() {
  local rules=()
  mkdir -p "$PROMETHEUS_DIR/data"
  render "$PROMETHEUS_TEMPLATE" "$PROMETHEUS_DIR/prometheus.yml" \
    '"rules/*.yml"' "\"$PROMETHEUS_RULES_DIR/*.yml\"" \
    '"127.0.0.1:9090"' "\"$HOST:$PROMETHEUS_PORT\"" \
    '"127.0.0.1:9093"' "\"$HOST:$ALERTMANAGER_PORT\""
  if [[ -d $PROMETHEUS_RULES_DIR ]]; then
    mapfile -t rules < <(find "$PROMETHEUS_RULES_DIR" -maxdepth 1 -name '*.yml' -type f | LC_ALL=C sort)
  fi
  { printf '%s\n' "${rules[@]}"; file_hash "$PROMETHEUS_DIR/prometheus.yml" "${rules[@]}"; } | sha256sum | cut -d' ' -f1
}

prometheus_check() {
  command -v promtool >/dev/null 2>&1 || return 0
  promtool check config "$PROMETHEUS_DIR/prometheus.yml" >"$PROMETHEUS_DIR/promtool.log" 2>&1 || {
    cat "$PROMETHEUS_DIR/promtool.log" >&2
    die "prometheus: invalid config or rules (template $PROMETHEUS_TEMPLATE, rules $PROMETHEUS_RULES_DIR); promtool says above"
  }
}

prometheus_start() {
  mkdir -p "$PROMETHEUS_DIR"
  prometheus_render >"$RUN_DIR/prometheus.config-hash"
  prometheus_check
  start_process prometheus "$PROMETHEUS_DIR/prometheus.log" \
    prometheus --config.file="$PROMETHEUS_DIR/prometheus.yml" \
    --storage.tsdb.path="$PROMETHEUS_DIR/data" --storage.tsdb.retention.time=7d \
    --web.listen-address="$HOST:$PROMETHEUS_PORT" --web.enable-lifecycle
}

# Running Prometheus: reload it if its config or rule files changed.
prometheus_refresh() {
  local hash_file="$RUN_DIR/prometheus.config-hash" new
  mkdir -p "$PROMETHEUS_DIR"
  new=$(prometheus_render)
  [[ -f $hash_file && $(<"$hash_file") == "$new" ]] && return 0
  prometheus_check
  curl -fs --max-time 10 -X POST -o /dev/null "http://$HOST:$PROMETHEUS_PORT/-/reload" ||
    die "prometheus: reloading the changed config failed: see $PROMETHEUS_DIR/prometheus.log"
  echo "$new" >"$hash_file"
  say "prometheus: config or rules changed: reloaded"
}

# ----------------------------------------------------------- alertmanager

alertmanager_check() {
  command -v amtool >/dev/null 2>&1 || return 0
  amtool check-config "$ALERTMANAGER_CONFIG" >"$ALERTMANAGER_DIR/amtool.log" 2>&1 || {
    cat "$ALERTMANAGER_DIR/amtool.log" >&2
    die "alertmanager: invalid config $ALERTMANAGER_CONFIG; amtool says above"
  }
}

alertmanager_start() {
  mkdir -p "$ALERTMANAGER_DIR/data"
  alertmanager_check
  file_hash "$ALERTMANAGER_CONFIG" >"$RUN_DIR/alertmanager.config-hash"
  start_process alertmanager "$ALERTMANAGER_DIR/alertmanager.log" \
    prometheus-alertmanager --config.file="$ALERTMANAGER_CONFIG" \
    --storage.path="$ALERTMANAGER_DIR/data" \
    --web.listen-address="$HOST:$ALERTMANAGER_PORT" --cluster.listen-address=
}

alertmanager_refresh() {
  local hash_file="$RUN_DIR/alertmanager.config-hash" new
  new=$(file_hash "$ALERTMANAGER_CONFIG")
  [[ -f $hash_file && $(<"$hash_file") == "$new" ]] && return 0
  alertmanager_check
  curl -fs --max-time 10 -X POST -o /dev/null "http://$HOST:$ALERTMANAGER_PORT/-/reload" ||
    die "alertmanager: reloading the changed config failed: see $ALERTMANAGER_DIR/alertmanager.log"
  echo "$new" >"$hash_file"
  say "alertmanager: config changed: reloaded"
}

# ---------------------------------------------------------------- commands

# A running service must still be on the ports the environment asks for.
check_running_ports() {
  local service=$1 started
  started=$(cat "$RUN_DIR/$service.ports" 2>/dev/null || true)
  [[ -z $started || $started == "$(service_ports "$service")" ]] ||
    die "$service is running on port(s) $started, not $(service_ports "$service") as asked: run '$PROG down' first"
}

cmd_up() {
  local start service pid state
  local -A started=()
  start=$(now_ms)
  cmd_install
  lock_state_dir
  # Launch the quick ones first, so they boot while Kafka formats its storage.
  for service in clickhouse alertmanager prometheus kafka; do
    if pid=$(service_pid "$service"); then
      check_running_ports "$service"
      continue
    fi
    rm -f -- "$(pid_file "$service")"
    ensure_ports_free "$service"
    "${service}_start"
    started[$service]=1
  done
  for service in "${SERVICES[@]}"; do
    pid=$(started_pid "$service") ||
      die "$service exited right after its start: see $(service_logs "$service" | cut -d' ' -f1) (or: $PROG logs $service)"
    wait_healthy "$service" "$pid"
  done
  [[ -z $KAFKA_SASL_PORT ]] || kafka_scram_user
  [[ -n ${started[prometheus]:-} ]] || prometheus_refresh
  [[ -n ${started[alertmanager]:-} ]] || alertmanager_refresh
  for service in "${SERVICES[@]}"; do
    pid=$(service_pid "$service")
    state="running"
    [[ -n ${started[$service]:-} ]] && state="started"
    say "$(printf '%-13s %-8s %-62s pid %s' "$service" "$state" "$(service_address "$service")" "$pid")"
  done
  say "up in $(elapsed "$start") (state dir $STATE_DIR)"
}

check_service_name() {
  case ${1:-} in
    kafka | clickhouse | prometheus | alertmanager) ;;
    *)
      warn "name one service: ${SERVICES[*]}"
      exit 2
      ;;
  esac
}

# start SERVICE: one service, already installed (fault tests restart what they stopped).
cmd_start() {
  local service=${1:-} pid start
  check_service_name "$service"
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
  "${service}_start"
  pid=$(started_pid "$service") ||
    die "$service exited right after its start: see $(service_logs "$service" | cut -d' ' -f1)"
  wait_healthy "$service" "$pid"
  [[ $service != kafka || -z $KAFKA_SASL_PORT ]] || kafka_scram_user
  say "$(printf '%-13s started  %s pid %s in %s' "$service" "$(service_address "$service")" "$pid" "$(elapsed "$start")")"
}

cmd_stop() {
  check_service_name "${1:-}"
  [[ -d $RUN_DIR ]] || return 0
  lock_state_dir
  stop_service "$1"
}

# kill SERVICE: SIGKILL, no shutdown at all (what the OOM killer or a crash does).
cmd_kill() {
  check_service_name "${1:-}"
  kill_service "$1"
}

# kill_service SERVICE: the SIGKILL itself, for a service of this stack or of the cluster.
kill_service() {
  local service=$1 pid i
  if ! pid=$(service_pid "$service"); then
    say "$(printf '%-13s not running' "$service")"
    return 0
  fi
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  rm -f -- "$(pid_file "$service")" "$RUN_DIR/$service.ports"
  say "$(printf '%-13s killed (SIGKILL, pid %s)' "$service" "$pid")"
}

cmd_down() {
  local service stopped=0
  if [[ ! -d $RUN_DIR ]]; then
    say "nothing to stop (no $RUN_DIR)"
    return 0
  fi
  lock_state_dir
  # All at once: Kafka's controlled shutdown is the slow one.
  for service in prometheus alertmanager clickhouse kafka; do
    if service_pid "$service" >/dev/null; then
      stop_service "$service" &
      stopped=$((stopped + 1))
    else
      stop_service "$service"
    fi
  done
  wait
  rm -f -- "$RUN_DIR"/*.config-hash
  if ((stopped == 0)); then
    say "down (nothing was running)"
  else
    say "down"
  fi
}

cmd_status() {
  local service pid ok=0 started
  for service in "${SERVICES[@]}"; do
    if pid=$(service_pid "$service"); then
      started=$(cat "$RUN_DIR/$service.ports" 2>/dev/null || true)
      if [[ -n $started && $started != "$(service_ports "$service")" ]]; then
        say "$(printf '%-13s %-9s pid %s, on port(s) %s instead of %s' "$service" unhealthy "$pid" "$started" "$(service_ports "$service")")"
        ok=3
      elif service_healthy "$service"; then
        say "$(printf '%-13s %-9s pid %-8s %s' "$service" running "$pid" "$(service_address "$service")")"
      else
        say "$(printf '%-13s %-9s pid %-8s %s (log: %s)' "$service" unhealthy "$pid" "$(service_address "$service")" "$(service_logs "$service" | cut -d' ' -f1)")"
        ok=3
      fi
    elif [[ -f $(pid_file "$service") ]]; then
      say "$(printf '%-13s %-9s (stale pid file %s)' "$service" stopped "$(pid_file "$service")")"
      ok=3
    else
      say "$(printf '%-13s %s' "$service" stopped)"
      ok=3
    fi
  done
  return "$ok"
}

tail_logs() { # tail_logs SERVICE [LINES]
  local service=$1 lines=${2:-100} files=() file
  for file in $(service_logs "$service"); do
    [[ -s $file ]] && files+=("$file")
  done
  if ((${#files[@]} == 0)); then
    say "$service: no log yet (expected at $(service_logs "$service" | cut -d' ' -f1))"
    return 1
  fi
  tail -n "$lines" -v -- "${files[@]}"
}

cmd_logs() {
  local service
  if (($# == 0)); then
    for service in "${SERVICES[@]}"; do
      tail_logs "$service" || true
      echo
    done
    return 0
  fi
  case $1 in
    kafka | clickhouse | prometheus | alertmanager) tail_logs "$1" ;;
    *)
      warn "unknown service '$1' (one of: ${SERVICES[*]})"
      exit 2
      ;;
  esac
}

cmd_reset() {
  cmd_down
  [[ -d $STATE_DIR ]] || return 0
  [[ -e $STATE_MARKER ]] ||
    die "$STATE_DIR was not created by $PROG (no $(basename -- "$STATE_MARKER")): not deleting it"
  rm -rf -- "$STATE_DIR"
  say "deleted $STATE_DIR"
}

main() {
  local command=${1:-help}
  (($# == 0)) || shift
  case $command in
    help | -h | --help)
      usage
      return 0
      ;;
  esac
  check_settings
  case $command in
    install)
      cmd_install
      say "everything is installed (Kafka jars in $KAFKA_LIBS)"
      ;;
    install-browser)
      install_browser
      say "Chromium and chromedriver are installed"
      ;;
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    logs) cmd_logs "$@" ;;
    reset) cmd_reset ;;
    start) cmd_start "${1:-}" ;;
    stop) cmd_stop "${1:-}" ;;
    kill) cmd_kill "${1:-}" ;;
    *)
      usage >&2
      warn "unknown command '$command'"
      exit 2
      ;;
  esac
}

# Sourced (deploy/local/cluster.sh reuses the helpers above): define, do not run.
[[ ${BASH_SOURCE[0]} != "$0" ]] || main "$@"
