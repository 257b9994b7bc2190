#!/usr/bin/env bash
# A single-node SLURM cluster on localhost for the `slurm` tests (Debian slurm-wlm + munge; root, no systemd, no
# cgroups, no accounting), after shared/reference/slurm. One fake GPU (GRES on /dev/null) so `--gpus=1` jobs
# schedule. Writes the PIDs of the daemons it started, one per line, to $SLURM_CI_DIR/pids.
# Usage: SLURM_CI_DIR=/tmp/x bash start_slurm.sh    (installs the Debian packages if they are missing)
set -euo pipefail
: "${SLURM_CI_DIR:?set SLURM_CI_DIR}"
NCPU=$(nproc); MEM_MB=$(( $(awk '/MemTotal/{print $2}' /proc/meminfo) / 1024 - 1024 ))
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      slurmctld slurmd slurm-client munge >/dev/null
fi
rm -rf "$SLURM_CI_DIR"; mkdir -p "$SLURM_CI_DIR"/{state,spool,log,etc}
: > "$SLURM_CI_DIR/pids"
# keep whatever configuration was there; stop_slurm.sh puts it back (or removes ours), so that no later slurm
# client (the executor plugin probes sacct on import) waits on a controller that is gone
for f in slurm.conf gres.conf; do [[ -f /etc/slurm/$f ]] && cp -p "/etc/slurm/$f" "$SLURM_CI_DIR/etc/$f"; done
echo "NodeName=localhost Name=gpu File=/dev/null" > /etc/slurm/gres.conf
cat > /etc/slurm/slurm.conf <<CONF
ClusterName=nnftci
GresTypes=gpu
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$SLURM_CI_DIR/state
SlurmdSpoolDir=$SLURM_CI_DIR/spool
SlurmctldPidFile=$SLURM_CI_DIR/slurmctld.pid
SlurmdPidFile=$SLURM_CI_DIR/slurmd.pid
SlurmctldLogFile=$SLURM_CI_DIR/log/slurmctld.log
SlurmdLogFile=$SLURM_CI_DIR/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
ReturnToService=2
MinJobAge=600
DefMemPerCPU=1000
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$NCPU RealMemory=$MEM_MB Gres=gpu:1 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
# munged runs as user munge; reuse one that is already running (and leave it running afterwards)
mkdir -p /run/munge && chown munge:munge /run/munge
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  rm -f /run/munge/munged.pid
  runuser -u munge -- /usr/sbin/munged --force
  cat /run/munge/munged.pid >> "$SLURM_CI_DIR/pids"
fi
munge -n | unmunge >/dev/null
/usr/sbin/slurmctld
/usr/sbin/slurmd
for _ in $(seq 1 60); do
  [[ -f $SLURM_CI_DIR/slurmctld.pid && -f $SLURM_CI_DIR/slurmd.pid ]] && break; sleep 0.5
done
cat "$SLURM_CI_DIR/slurmctld.pid" "$SLURM_CI_DIR/slurmd.pid" >> "$SLURM_CI_DIR/pids"
for _ in $(seq 1 60); do
  [[ "$(sinfo -h -o %T 2>/dev/null)" == idle ]] && exit 0; sleep 0.5
done
echo "slurm did not come up: $(sinfo 2>&1)" >&2; exit 1
