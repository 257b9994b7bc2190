#!/usr/bin/env bash
# Stop the daemons start_slurm.sh started, by PID (slurmd and slurmctld first, then munged if it started it), and
# restore the /etc/slurm configuration that was there before.
: "${SLURM_CI_DIR:?set SLURM_CI_DIR}"
restore() {
  for f in slurm.conf gres.conf; do
    if [[ -f $SLURM_CI_DIR/etc/$f ]]; then cp -p "$SLURM_CI_DIR/etc/$f" "/etc/slurm/$f"; else rm -f "/etc/slurm/$f"; fi
  done
}
trap restore EXIT
[[ -f $SLURM_CI_DIR/pids ]] || exit 0
tac "$SLURM_CI_DIR/pids" | while read -r pid; do kill "$pid" 2>/dev/null || true; done
for _ in $(seq 1 40); do
  alive=0; while read -r pid; do kill -0 "$pid" 2>/dev/null && alive=1; done < "$SLURM_CI_DIR/pids"
  [[ $alive == 0 ]] && exit 0; sleep 0.25
done
while read -r pid; do kill -9 "$pid" 2>/dev/null || true; done < "$SLURM_CI_DIR/pids"
