#!/usr/bin/env bash
# cluster.sh - a real Apache Flink StateFun 3.3.0 cluster on this machine,
# without Docker: Kafka (KRaft, no ZooKeeper), a Flink 1.16.2 JobManager and
# N TaskManagers as plain JVM processes on 127.0.0.1, running the StateFun
# job against your module.yaml. Everything comes from Maven Central.
#
#   cluster.sh fetch                  download (once) and assemble the jars
#   cluster.sh start --module PATH [options]
#   cluster.sh stop                   stop every process of the cluster
#   cluster.sh status                 processes, TaskManagers, jobs
#   cluster.sh logs [NAME] [-f]       tail every log, or one log in full
#   cluster.sh kill-tm N              kill -9 TaskManager N (fault tests)
#   cluster.sh start-tm N             (re)start TaskManager N
#   cluster.sh topics T1,T2,...       create Kafka topics (idempotent)
#   cluster.sh produce TOPIC KEY VALUE... [--type string|int|long|bool|raw]
#                                     records with StateFun-typed values
#   cluster.sh consume TOPIC [--count N] [--timeout S] [--committed]
#                                     print KEY<TAB>VALUE per record
#   cluster.sh classpath flink|kafka  print a classpath (for your own tools)
#
# start options:
#   --module PATH              module.yaml (required). Copied into the run
#                              dir; @KAFKA_BOOTSTRAP@ is replaced by the
#                              broker address (127.0.0.1:<kafka port>).
#   --checkpoint-interval D    default 1s (Flink duration: 500ms, 1s, 1min)
#   --taskmanagers N           default 1
#   --slots N                  task slots per TaskManager, default 1
#   --parallelism N            job parallelism, default taskmanagers*slots
#   --topics T1,T2             topics to create besides the module's
#                              ingress topics (e.g. your egress topics)
#   --partitions N             partitions of every created topic, default 1
#   --kafka-port P             default 9092 (KRaft controller: P+1)
#   --rest-port P              Flink REST/UI, default 8081
#   --rpc-port P               JobManager RPC, default 6123
#   --tuning latency|none      latency (default): the low-latency settings
#                              of docs/run-on-flink.md "Tuned for latency"
#                              (latency_conf below); none: Flink's defaults
#   --set KEY=VALUE            extra flink-conf.yaml entry (repeatable;
#                              replaces a --tuning entry of the same key);
#                              env.java.opts.all / .jobmanager /
#                              .taskmanager are added to those JVMs' flags
#   --timeout S                start-up bound in seconds, default 300
#
# Environment:
#   SF_CACHE          cache root (default <repo>/.cache): jars are assembled
#                     in $SF_CACHE/flink-statefun-3.3.0 and $SF_CACHE/kafka-3.9.1
#   SF_CLUSTER_DIR    run dir (default $SF_CACHE/cluster): conf/, logs/,
#                     kafka-data/, checkpoints/, pids/, module.yaml
#   JAVA_HOME / SF_JAVA  the JVM (default: a JDK 11 under /usr/lib/jvm if
#                     there is one, else `java` on PATH; Java 17 works with
#                     the --add-opens below)
#   MVN               the Maven command (default mvn)
#   SF_MAVEN_REPO     Maven's local repository (default ~/.m2/repository)
#
# How the job runs: the StateFun launcher (StatefulFunctionsClusterEntryPoint)
# hard-codes /opt/flink/lib/statefun-flink-core.jar and /opt/statefun/modules
# (spi/Constants.java, no override), and flink-container (Flink's
# StandaloneApplicationClusterEntryPoint) is not on Maven Central. So this is
# a standalone *session* cluster (StandaloneSessionClusterEntrypoint +
# TaskManagerRunner, both in flink-runtime) and the job is submitted with
# Flink's own CLI (CliFrontend `run -d -c StatefulFunctionsJob
# statefun-flink-core.jar`), the "flink run" path of the StateFun docs. All
# StateFun jars are on every JVM's classpath, as in the official image's lib/.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cache="${SF_CACHE:-$root/.cache}"
run="${SF_CLUSTER_DIR:-$cache/cluster}"
mvn_cmd="${MVN:-mvn}"

STATEFUN_VERSION=3.3.0
FLINK_VERSION=1.16.2
KAFKA_VERSION=3.9.1
flink_lib="$cache/flink-statefun-$STATEFUN_VERSION/lib"
kafka_lib="$cache/kafka-$KAFKA_VERSION/lib"

die() { echo "cluster.sh: $*" >&2; exit 1; }
say() { echo "cluster.sh: $*" >&2; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# ---- the JVM ---------------------------------------------------------------
pick_java() {
  if [ -n "${SF_JAVA:-}" ]; then echo "$SF_JAVA"; return; fi
  if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then
    echo "$JAVA_HOME/bin/java"; return
  fi
  local d
  for d in /usr/lib/jvm/*11* /opt/*jdk*11* /usr/lib/jvm/temurin-11*; do
    if [ -x "$d/bin/java" ]; then echo "$d/bin/java"; return; fi
  done
  command -v java >/dev/null || die "no java on PATH (install openjdk-17-jdk-headless)"
  command -v java
}
JAVA="$(pick_java)"
JAVA_MAJOR="$("$JAVA" -version 2>&1 | awk -F'"' '/version/ { split($2, v, "."); print (v[1] == "1") ? v[2] : v[1]; exit }')"
# Flink 1.16 targets Java 8/11. On 17 it runs with the module openings that
# Flink 1.18 ships in its default env.java.opts.all.
JAVA_OPENS=(
  --add-exports=java.base/sun.net.util=ALL-UNNAMED
  --add-exports=java.rmi/sun.rmi.registry=ALL-UNNAMED
  --add-exports=java.security.jgss/sun.security.krb5=ALL-UNNAMED
  --add-opens=java.base/java.lang=ALL-UNNAMED
  --add-opens=java.base/java.net=ALL-UNNAMED
  --add-opens=java.base/java.io=ALL-UNNAMED
  --add-opens=java.base/java.nio=ALL-UNNAMED
  --add-opens=java.base/sun.nio.ch=ALL-UNNAMED
  --add-opens=java.base/java.lang.reflect=ALL-UNNAMED
  --add-opens=java.base/java.text=ALL-UNNAMED
  --add-opens=java.base/java.time=ALL-UNNAMED
  --add-opens=java.base/java.util=ALL-UNNAMED
  --add-opens=java.base/java.util.concurrent=ALL-UNNAMED
  --add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED
  --add-opens=java.base/java.util.concurrent.locks=ALL-UNNAMED
)
java_opts() {
  local m
  m="$JAVA_MAJOR"
  if [ -n "$m" ] && [ "$m" -ge 9 ]; then printf '%s\n' "${JAVA_OPENS[@]}"; fi
}

# ---- fetch -----------------------------------------------------------------
# assemble POM DIR: copies POM's dependencies (with Maven, through ~/.m2)
# into DIR, once: DIR/.stamp holds the POM's hash.
assemble() {
  local pom=$1 dir=$2 want
  want="$(sha256sum "$pom" | cut -d' ' -f1)"
  if [ -f "$dir/.stamp" ] && [ "$(cat "$dir/.stamp")" = "$want" ]; then
    return 0
  fi
  command -v "$mvn_cmd" >/dev/null || die "Maven ($mvn_cmd) not found (apt-get install maven)"
  say "fetching $(basename "$pom" .pom.xml) jars from Maven Central into $dir (once)"
  rm -rf "$dir.tmp"
  mkdir -p "$dir.tmp"
  local t0
  t0="$(now)"
  local repo=()
  [ -z "${SF_MAVEN_REPO:-}" ] || repo=("-Dmaven.repo.local=$SF_MAVEN_REPO")
  if ! "$mvn_cmd" -B -q "${repo[@]+"${repo[@]}"}" -f "$pom" \
      org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies \
      -DoutputDirectory="$dir.tmp" -DincludeScope=runtime >"$dir.tmp.log" 2>&1; then
    cat "$dir.tmp.log" >&2
    die "Maven could not fetch $(basename "$pom") (log above)"
  fi
  echo "$want" >"$dir.tmp/.stamp"
  rm -rf "$dir"
  mv "$dir.tmp" "$dir"
  rm -f "$dir.tmp.log"
  say "fetched $(ls "$dir" | wc -l) jars ($(du -sh "$dir" | cut -f1)) in $(since "$t0")s"
}
cmd_fetch() {
  assemble "$here/maven/flink.pom.xml" "$flink_lib"
  assemble "$here/maven/kafka.pom.xml" "$kafka_lib"
}

# The Flink classpath in the official image's order: lib/ (StateFun jars,
# logging) before flink-dist (Flink and the rest).
flink_cp() {
  local first=() rest=() f
  for f in "$flink_lib"/statefun-*.jar "$flink_lib"/log4j-*.jar; do first+=("$f"); done
  for f in "$flink_lib"/*.jar; do
    case "$(basename "$f")" in statefun-*|log4j-*) ;; *) rest+=("$f") ;; esac
  done
  local IFS=:
  echo "${first[*]}:${rest[*]}"
}
kafka_cp() { echo "$kafka_lib/*"; }

# ---- processes -------------------------------------------------------------
pidfile() { echo "$run/pids/$1.pid"; }
alive() { # alive NAME
  local f
  f="$(pidfile "$1")"
  [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null
}
# spawn NAME CMD...: starts CMD detached, output to logs/NAME.out.
spawn() {
  local name=$1
  shift
  mkdir -p "$run/pids" "$run/logs"
  nohup "$@" >"$run/logs/$name.out" 2>&1 </dev/null &
  echo $! >"$(pidfile "$name")"
}
# stop_proc NAME [SIGNAL]: TERM (or SIGNAL), waits up to 15 s, then KILL.
stop_proc() {
  local name=$1 sig=${2:-TERM} f pid i
  f="$(pidfile "$name")"
  [ -f "$f" ] || return 0
  pid="$(cat "$f")"
  if kill -0 "$pid" 2>/dev/null; then
    kill "-$sig" "$pid" 2>/dev/null || true
    for i in $(seq 1 150); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      say "$name ($pid) did not stop in 15s: kill -9"
      kill -9 "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$f"
}
names() { ls "$run/pids" 2>/dev/null | sed 's/\.pid$//' || true; }

conf_get() { # conf_get KEY: a value from the run's cluster.env
  sed -n "s/^$1=//p" "$run/cluster.env" 2>/dev/null | tail -1
}
rest_url() { echo "http://127.0.0.1:$(conf_get REST_PORT)"; }
http_get() { curl -sf --max-time 5 "$1"; }

# tail_logs [N]: the last N lines of every log (for failures).
tail_logs() {
  local n=${1:-40} f
  for f in "$run"/logs/*; do
    [ -s "$f" ] || continue
    echo "----- $f (last $n lines)"
    tail -n "$n" "$f"
  done
}
fail_start() {
  echo "cluster.sh: start failed: $*" >&2
  tail_logs 60 >&2
  echo "cluster.sh: start failed: $* (logs in $run/logs; cluster.sh stop to clean up)" >&2
  exit 1
}

# ---- Kafka -----------------------------------------------------------------
write_kafka_conf() {
  local port=$1
  cat >"$run/conf/kafka.properties" <<EOF
# KRaft: one process is both broker and controller; no ZooKeeper.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$((port + 1))
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$((port + 1))
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$run/kafka-data
num.partitions=1
# one broker: replication 1 everywhere, few internal partitions (fast start)
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
# Flink's exactly-once producer may ask for up to 1 h
transaction.max.timeout.ms=3600000
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
EOF
  cat >"$run/conf/kafka-log4j.properties" <<EOF
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=$run/logs/kafka.log
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.org.apache.kafka.controller=INFO
log4j.logger.state.change.logger=WARN
EOF
}
kafka_java() { # kafka_java MAIN ARGS...: a Kafka tool in the foreground
  local main=$1
  shift
  "$JAVA" -Xmx256m -XX:TieredStopAtLevel=1 -cp "$(kafka_cp)" \
    -Dlog4j.configuration="file:$run/conf/kafka-log4j.properties" "$main" "$@"
}
start_kafka() {
  local port=$1 id
  write_kafka_conf "$port"
  # a cluster id as `kafka-storage random-uuid` makes it (base64url of a
  # random UUID), without one more JVM start; never with a leading '-'
  # (1 in 64 of them), which the tool's option parser takes for an option
  id="$(python3 -c 'import base64, uuid
while True:
    s = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    if not s.startswith("-"):
        print(s)
        break')"
  kafka_java kafka.tools.StorageTool format -t "$id" \
    -c "$run/conf/kafka.properties" >"$run/logs/kafka-format.out" 2>&1 ||
    fail_start "kafka storage format failed"
  spawn kafka "$JAVA" -Xms512m -Xmx512m -XX:+UseG1GC \
    -Dlog4j.configuration="file:$run/conf/kafka-log4j.properties" \
    -cp "$(kafka_cp)" kafka.Kafka "$run/conf/kafka.properties"
}
wait_kafka() { # wait_kafka DEADLINE
  local deadline=$1
  while ! grep -q "Kafka Server started" "$run/logs/kafka.log" 2>/dev/null; do
    alive kafka || fail_start "the Kafka broker exited"
    [ "$(date +%s)" -lt "$deadline" ] || fail_start "Kafka did not start in time"
    sleep 0.3
  done
}
create_topics() { # create_topics PARTITIONS T1 T2 ...
  local parts=$1 t pids=() rc=0 p
  shift
  [ $# -gt 0 ] || return 0
  for t in "$@"; do
    kafka_java org.apache.kafka.tools.TopicCommand \
      --bootstrap-server "127.0.0.1:$(conf_get KAFKA_PORT)" --create --if-not-exists \
      --topic "$t" --partitions "$parts" --replication-factor 1 \
      >>"$run/logs/topics.out" 2>&1 &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || rc=1; done
  [ "$rc" -eq 0 ] || { cat "$run/logs/topics.out" >&2; return 1; }
}
# Ingress topics of a module.yaml: every "- topic: NAME" line.
module_topics() {
  sed -n -E 's/^[[:space:]]*-[[:space:]]*topic:[[:space:]]*["'\'']?([^"'\''[:space:]#]+).*/\1/p' "$1" | sort -u
}

# ---- Flink -----------------------------------------------------------------
# latency_conf: the flink-conf.yaml entries of --tuning latency, one
# KEY=VALUE a line. Each is explained, with its measured effect and cost,
# in docs/run-on-flink.md "Tuned for latency" (bench/flink_latency.sh
# measures them one by one).
latency_conf() {
  cat <<'EOF'
execution.buffer-timeout=1ms
state.backend=hashmap
taskmanager.memory.managed.fraction=0.05
EOF
}
write_flink_conf() {
  local rest=$1 rpc=$2 slots=$3 par=$4 ckpt=$5 tuning=$6
  shift 6
  cat >"$run/conf/flink-conf.yaml" <<EOF
# Written by deploy/local/cluster.sh. A standalone Flink 1.16.2 session
# cluster on 127.0.0.1 running the StateFun 3.3.0 job.
jobmanager.rpc.address: 127.0.0.1
jobmanager.rpc.port: $rpc
jobmanager.bind-host: 127.0.0.1
taskmanager.bind-host: 127.0.0.1
taskmanager.host: 127.0.0.1
rest.address: 127.0.0.1
rest.bind-address: 127.0.0.1
rest.port: $rest
jobmanager.memory.process.size: 1024m
taskmanager.memory.process.size: 1280m
taskmanager.numberOfTaskSlots: $slots
parallelism.default: $par
io.tmp.dirs: $run/tmp
web.tmpdir: $run/tmp

# State and checkpoints (as in the StateFun image), checkpointing on.
state.backend: rocksdb
state.backend.incremental: true
state.checkpoints.dir: file://$run/checkpoints
state.savepoints.dir: file://$run/savepoints
state.backend.rocksdb.log.dir: $run/tmp/rocksdb-logs
execution.checkpointing.interval: $ckpt
execution.checkpointing.mode: EXACTLY_ONCE

# A failed task restarts the job from the last checkpoint, forever.
restart-strategy: fixed-delay
restart-strategy.fixed-delay.attempts: 2147483647
restart-strategy.fixed-delay.delay: 1s
# Notice a killed TaskManager in seconds, not in 50 s.
heartbeat.interval: 2000
heartbeat.timeout: 20000

# Required by StateFun (StatefulFunctionsConfigValidator).
classloader.parent-first-patterns.additional: org.apache.flink.statefun;org.apache.kafka;com.google.protobuf
statefun.remote.module-name: file://$run/module.yaml
EOF
  # --tuning entries unless a --set names the same key, then the --sets
  local kv set_keys=" "
  for kv in "$@"; do set_keys+="${kv%%=*} "; done
  if [ "$tuning" = latency ]; then
    echo "# --tuning latency (docs/run-on-flink.md, Tuned for latency)" >>"$run/conf/flink-conf.yaml"
    while IFS= read -r kv; do
      case "$set_keys" in *" ${kv%%=*} "*) continue ;; esac
      echo "${kv%%=*}: ${kv#*=}" >>"$run/conf/flink-conf.yaml"
    done < <(latency_conf)
  fi
  [ $# -eq 0 ] || echo "# --set" >>"$run/conf/flink-conf.yaml"
  for kv in "$@"; do
    echo "${kv%%=*}: ${kv#*=}" >>"$run/conf/flink-conf.yaml"
  done
  # one entry per key, the last one written (--set over --tuning over the
  # base above), so the file says what Flink uses
  tac "$run/conf/flink-conf.yaml" |
    awk '/^[A-Za-z0-9_.-]+:/ { k = $1; if (k in seen) next; seen[k] = 1 } { print }' |
    tac >"$run/conf/flink-conf.yaml.tmp"
  mv "$run/conf/flink-conf.yaml.tmp" "$run/conf/flink-conf.yaml"
  cat >"$run/conf/log4j.properties" <<'EOF'
monitorInterval = 0
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = MainAppender
appender.main.name = MainAppender
appender.main.type = File
appender.main.append = true
appender.main.fileName = ${sys:log.file}
appender.main.layout.type = PatternLayout
appender.main.layout.pattern = %d{yyyy-MM-dd HH:mm:ss,SSS} %-5p %-60c %x - %m%n
logger.akka.name = akka
logger.akka.level = INFO
logger.kafka.name = org.apache.kafka
logger.kafka.level = WARN
logger.netty.name = org.jboss.netty.channel.DefaultChannelPipeline
logger.netty.level = OFF
EOF
}
# resource_params JM|TM: Flink's own memory computation (what jobmanager.sh
# and taskmanager.sh do): line 1 JVM flags, line 2 dynamic -D properties.
resource_params() {
  local out
  out="$("$JAVA" $(java_opts) -Xmx128m -XX:TieredStopAtLevel=1 -cp "$(flink_cp)" \
    -Dlog4j2.level=WARN \
    org.apache.flink.runtime.util.bash.BashJavaUtils "GET_$1_RESOURCE_PARAMS" \
    --configDir "$run/conf" 2>&1)" || { echo "$out" >&2; return 1; }
  grep '^BASH_JAVA_UTILS_EXEC_RESULT:' <<<"$out" | sed 's/^BASH_JAVA_UTILS_EXEC_RESULT://'
}
# conf_java_opts JM|TM: the JVM options flink-conf.yaml names for it
# (env.java.opts.all, then env.java.opts.jobmanager / .taskmanager), as
# Flink's own start scripts add them, e.g. --set
# env.java.opts.taskmanager="-Xlog:gc:file=/tmp/tm-gc.log".
conf_java_opts() {
  local role=jobmanager
  [ "$1" = TM ] && role=taskmanager
  sed -n -E "s/^env\.java\.opts\.(all|$role):[[:space:]]*//p" "$run/conf/flink-conf.yaml" |
    sed -E 's/^"(.*)"$/\1/' | tr '\n' ' '
}
start_jm() {
  local params jvm dyn
  params="$(cat "$run/conf/jm.params" 2>/dev/null)"
  [ -n "$params" ] || fail_start "cannot compute JobManager memory: $(cat "$run/logs/params-jm.out")"
  jvm="$(sed -n 1p <<<"$params")"
  dyn="$(sed -n 2p <<<"$params")"
  # shellcheck disable=SC2086
  spawn jobmanager "$JAVA" $(java_opts) $jvm $(conf_java_opts JM) \
    -Dlog.file="$run/logs/jobmanager.log" \
    -Dlog4j.configurationFile="file:$run/conf/log4j.properties" \
    -cp "$(flink_cp)" \
    org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint \
    --configDir "$run/conf" --executionMode cluster $dyn
}
start_tm() { # start_tm N
  local n=$1 params jvm dyn
  params="$(cat "$run/conf/tm.params" 2>/dev/null)"
  [ -n "$params" ] || fail_start "cannot compute TaskManager memory: $(cat "$run/logs/params-tm.out")"
  jvm="$(sed -n 1p <<<"$params")"
  dyn="$(sed -n 2p <<<"$params")"
  # shellcheck disable=SC2086
  spawn "taskmanager-$n" "$JAVA" $(java_opts) $jvm $(conf_java_opts TM) \
    -Dlog.file="$run/logs/taskmanager-$n.log" \
    -Dlog4j.configurationFile="file:$run/conf/log4j.properties" \
    -cp "$(flink_cp)" \
    org.apache.flink.runtime.taskexecutor.TaskManagerRunner \
    --configDir "$run/conf" $dyn
}
registered_tms() {
  http_get "$(rest_url)/overview" 2>/dev/null |
    sed -n -E 's/.*"taskmanagers":([0-9]+).*/\1/p'
}
submit_job() {
  FLINK_CONF_DIR="$run/conf" "$JAVA" $(java_opts) -Xmx256m \
    -Dlog.file="$run/logs/client.log" \
    -Dlog4j.configurationFile="file:$run/conf/log4j.properties" \
    -cp "$(flink_cp)" org.apache.flink.client.cli.CliFrontend \
    run -d -c org.apache.flink.statefun.flink.core.StatefulFunctionsJob \
    "$flink_lib/statefun-flink-core-$STATEFUN_VERSION.jar" \
    >"$run/logs/submit.out" 2>&1
}
# job_state: "<jid> <state> <running tasks> <total tasks>" of the newest job.
job_state() {
  http_get "$(rest_url)/jobs/overview" 2>/dev/null | python3 -c '
import json, sys
try:
    jobs = json.load(sys.stdin)["jobs"]
except Exception:
    sys.exit(0)
if jobs:
    j = max(jobs, key=lambda j: j["start-time"])
    t = j["tasks"]
    print(j["jid"], j["state"], t.get("running", 0), t["total"])
'
}

# ---- produce / consume (confluent-kafka in the e2e suite's venv) -----------
kafka_python() {
  local venv="$cache/e2e-venv" req="$root/tests/e2e/requirements.txt" want
  want="$(sha256sum "$req" | cut -d' ' -f1)"
  if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/.requirements.sha256" 2>/dev/null)" != "$want" ]; then
    say "creating $venv (confluent-kafka, once)"
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install -q --disable-pip-version-check -r "$req" >&2
    echo "$want" >"$venv/.requirements.sha256"
  fi
  echo "$venv/bin/python"
}
kafka_tool() { # kafka_tool produce|consume ARGS...
  local port py
  port="$(conf_get KAFKA_PORT)"
  [ -n "$port" ] || die "no cluster in $run (cluster.sh start first)"
  py="$(kafka_python)"
  exec "$py" "$here/kafka_tool.py" --bootstrap "127.0.0.1:$port" "$@"
}

# ---- commands --------------------------------------------------------------
cmd_start() {
  local module="" ckpt=1s tms=1 slots=1 par="" topics="" parts=1
  local kport=9092 rport=8081 rpcport=6123 timeout=300 sets=() tuning=latency
  while [ $# -gt 0 ]; do
    case "$1" in
      --module) module=$2; shift 2 ;;
      --checkpoint-interval) ckpt=$2; shift 2 ;;
      --taskmanagers) tms=$2; shift 2 ;;
      --slots) slots=$2; shift 2 ;;
      --parallelism) par=$2; shift 2 ;;
      --topics) topics=$2; shift 2 ;;
      --partitions) parts=$2; shift 2 ;;
      --kafka-port) kport=$2; shift 2 ;;
      --rest-port) rport=$2; shift 2 ;;
      --rpc-port) rpcport=$2; shift 2 ;;
      --set) sets+=("$2"); shift 2 ;;
      --tuning) tuning=$2; shift 2 ;;
      --timeout) timeout=$2; shift 2 ;;
      *) die "start: unknown option $1 (see the top of $0)" ;;
    esac
  done
  [ -n "$module" ] || die "start: --module PATH is required"
  case "$tuning" in latency|none) ;; *) die "start: --tuning latency|none, not $tuning" ;; esac
  [ -f "$module" ] || die "start: no such module file: $module"
  [ -n "$par" ] || par=$((tms * slots))
  local n
  for n in $(names); do
    if alive "$n"; then die "a cluster is running in $run ($n): cluster.sh stop first"; fi
  done
  command -v curl >/dev/null || die "curl is needed"
  command -v python3 >/dev/null || die "python3 is needed"

  local t0 deadline
  t0="$(now)"
  deadline=$(($(date +%s) + timeout))
  cmd_fetch
  local t_fetched
  t_fetched="$(now)"

  rm -rf "$run/conf" "$run/logs" "$run/pids" "$run/kafka-data" \
    "$run/checkpoints" "$run/savepoints" "$run/tmp" "$run/module.yaml"
  mkdir -p "$run/conf" "$run/logs" "$run/pids" "$run/kafka-data" \
    "$run/checkpoints" "$run/tmp"
  sed "s/@KAFKA_BOOTSTRAP@/127.0.0.1:$kport/g" "$module" >"$run/module.yaml"
  cat >"$run/cluster.env" <<EOF
KAFKA_PORT=$kport
REST_PORT=$rport
RPC_PORT=$rpcport
TASKMANAGERS=$tms
MODULE=$(cd "$(dirname "$module")" && pwd)/$(basename "$module")
JAVA=$JAVA
EOF
  say "run dir $run; java $("$JAVA" -version 2>&1 | head -1)"

  # Kafka, the JobManager and the TaskManagers start side by side; the job
  # is submitted once the topics exist (a Kafka source started before its
  # topic sees no partitions).
  write_flink_conf "$rport" "$rpcport" "$slots" "$par" "$ckpt" "$tuning" "${sets[@]+"${sets[@]}"}"
  # Flink's memory computation (two short JVMs) runs beside Kafka's format
  local pj pt
  resource_params JM >"$run/conf/jm.params" 2>"$run/logs/params-jm.out" &
  pj=$!
  resource_params TM >"$run/conf/tm.params" 2>"$run/logs/params-tm.out" &
  pt=$!
  start_kafka "$kport"
  wait "$pj" || true
  wait "$pt" || true
  start_jm
  local i
  for i in $(seq 1 "$tms"); do start_tm "$i"; done

  wait_kafka "$deadline"
  local t_kafka
  t_kafka="$(now)"
  local all_topics
  all_topics="$( (module_topics "$run/module.yaml"; tr ',' '\n' <<<"$topics") | sed '/^$/d' | sort -u)"
  # shellcheck disable=SC2086
  create_topics "$parts" $all_topics || fail_start "topic creation failed"
  say "kafka up on 127.0.0.1:$kport in $(since "$t_fetched")s; topics: $(echo $all_topics)"

  while [ "$(registered_tms || true)" != "$tms" ]; do
    alive jobmanager || fail_start "the JobManager exited"
    for i in $(seq 1 "$tms"); do
      alive "taskmanager-$i" || fail_start "TaskManager $i exited"
    done
    [ "$(date +%s)" -lt "$deadline" ] || fail_start "$tms TaskManager(s) did not register in time"
    sleep 0.3
  done
  say "flink up (REST http://127.0.0.1:$rport, $tms TaskManager(s)) in $(since "$t_fetched")s"

  submit_job || fail_start "job submission failed: $(tail -5 "$run/logs/submit.out")"
  local st jid state running total
  while :; do
    st="$(job_state || true)"
    read -r jid state running total <<<"${st:-- - 0 1}"
    if [ "$state" = RUNNING ] && [ "$running" = "$total" ]; then break; fi
    case "$state" in
      FAILED|CANCELED|FINISHED) fail_start "job $jid is $state" ;;
    esac
    alive jobmanager || fail_start "the JobManager exited"
    [ "$(date +%s)" -lt "$deadline" ] ||
      fail_start "the job was not RUNNING within ${timeout}s (last: ${st:-no job})"
    sleep 0.3
  done
  echo "$jid" >"$run/job.id"
  local total_s
  total_s="$(since "$t0")"
  echo "JOB=$jid" >>"$run/cluster.env"
  echo "STARTUP_SECONDS=$(since "$t_fetched")" >>"$run/cluster.env"
  say "job $jid RUNNING ($running/$total tasks); start-up $(since "$t_fetched")s (kafka $(awk -v a="$t_fetched" -v b="$t_kafka" 'BEGIN{printf "%.1f", b-a}')s), ${total_s}s with fetch"
  say "kafka 127.0.0.1:$kport  flink http://127.0.0.1:$rport  logs $run/logs"
}

cmd_stop() {
  local n
  # TaskManagers first (the job fails over quietly), then the JobManager,
  # then Kafka (Flink's producers flush into it until the end).
  for n in $(names); do
    case "$n" in taskmanager-*) stop_proc "$n" ;; esac
  done
  stop_proc jobmanager
  for n in $(names); do stop_proc "$n"; done
  say "stopped ($run)"
}

cmd_status() {
  local n rc=0
  if [ -z "$(names)" ]; then echo "no cluster in $run"; return 3; fi
  for n in $(names); do
    if alive "$n"; then
      printf '%-16s running (pid %s)\n' "$n" "$(cat "$(pidfile "$n")")"
    else
      printf '%-16s DEAD\n' "$n"
      rc=1
    fi
  done
  if alive jobmanager; then
    echo "overview: $(http_get "$(rest_url)/overview" || echo unreachable)"
    echo "job:      $(job_state || echo none)"
  fi
  return "$rc"
}

cmd_logs() {
  local follow=0 name=""
  while [ $# -gt 0 ]; do
    case "$1" in -f) follow=1 ;; *) name=$1 ;; esac
    shift
  done
  if [ -z "$name" ]; then
    tail_logs 40
    return
  fi
  local f
  for f in "$run/logs/$name" "$run/logs/$name.log" "$run/logs/$name.out"; do
    if [ -f "$f" ]; then
      if [ "$follow" -eq 1 ]; then exec tail -f "$f"; else cat "$f"; fi
      return
    fi
  done
  die "no log $name in $run/logs ($(ls "$run/logs" | tr '\n' ' '))"
}

main() {
  case "${1:-}" in
    fetch) cmd_fetch ;;
    start) shift; cmd_start "$@" ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    logs) shift; cmd_logs "$@" ;;
    kill-tm)
      [ -n "${2:-}" ] || die "kill-tm N"
      alive "taskmanager-$2" || die "TaskManager $2 is not running"
      stop_proc "taskmanager-$2" KILL
      say "TaskManager $2 killed (-9)" ;;
    start-tm)
      [ -n "${2:-}" ] || die "start-tm N"
      alive "taskmanager-$2" && die "TaskManager $2 is running"
      start_tm "$2"
      say "TaskManager $2 started (pid $(cat "$(pidfile "taskmanager-$2")"))" ;;
    topics)
      [ -n "${2:-}" ] || die "topics T1,T2,..."
      # shellcheck disable=SC2046
      create_topics "${3:-1}" $(tr ',' ' ' <<<"$2") ;;
    produce|consume) kafka_tool "$@" ;;
    classpath)
      case "${2:-flink}" in
        flink) flink_cp ;;
        kafka) kafka_cp ;;
        *) die "classpath flink|kafka" ;;
      esac ;;
    ""|-h|--help|help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' ;;
    *) die "unknown command $1 (fetch|start|stop|status|logs|kill-tm|start-tm|topics|produce|consume|classpath)" ;;
  esac
}

# One line: bash reads a script as it runs it, so nothing after this line
# is read while a command runs (editing the file mid-run stays harmless).
main "$@"; exit $?
