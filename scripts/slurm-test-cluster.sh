#!/usr/bin/env bash
# A one-node Slurm cluster on this machine for tests and CI (run as root):
#   scripts/slurm-test-cluster.sh start    munged, slurmctld and slurmd; waits until the node is idle
#   scripts/slurm-test-cluster.sh stop     stops the daemons this script started, removes their state
#   scripts/slurm-test-cluster.sh status   exit 0 when the cluster accepts jobs
# Both start and stop are idempotent. State, spool and logs live under $WES_SLURM_TEST_DIR
# (default /tmp/wes-slurm-test); the configuration is /etc/slurm/slurm.conf, which client
# commands (sbatch, squeue) read without any environment. A slurm.conf not written by this
# script is never overwritten.
set -euo pipefail

DIR=${WES_SLURM_TEST_DIR:-/tmp/wes-slurm-test}
CONF=/etc/slurm/slurm.conf
MARKER='# managed by wes-server scripts/slurm-test-cluster.sh'
NODE=$(hostname -s)

log() { echo "slurm-test-cluster: $*"; }

running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

cluster_up() {
  # The node must be idle or allocated (not down/drained) for jobs to start.
  running "$DIR/slurmctld.pid" && running "$DIR/slurmd.pid" &&
    sinfo --noheader --nodes="$NODE" --format=%t 2>/dev/null | grep -Eq '^(idle|mix|alloc)'
}

write_conf() {
  if [ -f "$CONF" ] && ! grep -qF "$MARKER" "$CONF"; then
    log "$CONF exists and was not written by this script; not touching it"
    exit 1
  fi
  # RealMemory as slurmd itself measures it: a larger value would drain the node.
  local memory
  memory=$(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
  mkdir -p /etc/slurm "$DIR/state" "$DIR/spool"
  cat >"$CONF" <<CONF
$MARKER
ClusterName=wes-test
SlurmctldHost=$NODE
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
ReturnToService=2
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd.log
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
# Poll quickly: tests wait for jobs to start and end.
SchedulerParameters=sched_interval=1
MessageTimeout=10
KillWait=2
DefMemPerCPU=256
MinJobAge=300
NodeName=$NODE CPUs=$(nproc) RealMemory=$memory State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
CONF
}

start_munge() {
  if munge -n </dev/null >/dev/null 2>&1; then return; fi
  mkdir -p /run/munge /var/lib/munge /var/log/munge
  chown munge:munge /run/munge /var/lib/munge /var/log/munge
  chmod 0755 /run/munge
  if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null
  fi
  chown munge:munge /etc/munge/munge.key
  chmod 0400 /etc/munge/munge.key
  runuser -u munge -- /usr/sbin/munged
  for _ in $(seq 1 20); do munge -n </dev/null >/dev/null 2>&1 && return; sleep 0.5; done
  log "munged did not start"
  exit 1
}

start() {
  if cluster_up; then log "already up"; return; fi
  write_conf
  start_munge
  running "$DIR/slurmctld.pid" || slurmctld
  running "$DIR/slurmd.pid" || slurmd
  for _ in $(seq 1 60); do
    if cluster_up; then log "up: node $NODE, $(nproc) CPUs"; return; fi
    # A node left down by an earlier run returns to service once told so.
    scontrol update nodename="$NODE" state=resume >/dev/null 2>&1 || true
    sleep 1
  done
  log "cluster did not come up; logs in $DIR"
  tail -n 20 "$DIR"/*.log || true
  exit 1
}

stop_pid() {
  local file=$1
  running "$file" || return 0
  local pid
  pid=$(cat "$file")
  kill "$pid"
  for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.2; done
  kill -9 "$pid" 2>/dev/null || true
}

stop() {
  stop_pid "$DIR/slurmd.pid"
  stop_pid "$DIR/slurmctld.pid"
  rm -rf "$DIR"
  if [ -f "$CONF" ] && grep -qF "$MARKER" "$CONF"; then rm -f "$CONF"; fi
  log "stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) cluster_up ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
