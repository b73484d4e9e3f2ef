#!/bin/bash
# End-to-end test of the Slurm path on a single-node cluster on localhost: a private munge key
# and socket, slurmctld and slurmd with state under a temporary directory (no systemd, no
# cgroups), a 4-shard array of the flagship scenario plus the dependent merge job, compared byte
# for byte with a one-machine run. Stops the daemons it started, by their process ids.
#
#   scripts/slurm-e2e.sh [TRIALS]      (needs: slurmctld slurmd slurm-client munge; run as root)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
trials=${1:-400}
bin="$repo/target/release/supplyshock"
scenario="$repo/scenarios/japan-eu-critical-materials.toml"
[ -x "$bin" ] || (cd "$repo" && cargo build --release --quiet)
for c in slurmctld slurmd sbatch squeue munged; do
  command -v "$c" >/dev/null || { echo "slurm-e2e: $c not found (apt-get install --no-install-recommends slurmctld slurmd slurm-client munge)" >&2; exit 1; }
done

work=$(mktemp -d /tmp/supplyshock-slurm.XXXXXX)
chmod 700 "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# munge: private key and socket.
mkdir -p "$work/munge"
dd if=/dev/urandom of="$work/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$work/munge/munge.key"
munged --foreground --force --key-file="$work/munge/munge.key" --socket="$work/munge/munge.sock" \
  --pid-file="$work/munge/munged.pid" --log-file="$work/munge/munged.log" --seed-file="$work/munge/seed" \
  >"$work/munged.out" 2>&1 &
pids+=($!)

host=$(hostname -s)
cpus=$(nproc)
mkdir -p "$work/state" "$work/spool" "$work/jobs"
cat > "$work/slurm.conf" <<CONF
ClusterName=supplyshock-e2e
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
SlurmctldPort=16817
SlurmdPort=16818
AuthType=auth/munge
AuthInfo=socket=$work/munge/munge.sock
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MailProg=/bin/true
MpiDefault=none
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MinJobAge=300
NodeName=$host CPUs=$cpus State=UNKNOWN
PartitionName=e2e Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$work/slurm.conf"
for _ in $(seq 50); do [ -S "$work/munge/munge.sock" ] && break; sleep 0.1; done

slurmctld -D -f "$SLURM_CONF" >"$work/slurmctld.out" 2>&1 &
pids+=($!)
slurmd -D -f "$SLURM_CONF" >"$work/slurmd.out" 2>&1 &
pids+=($!)
for i in $(seq 150); do
  state=$(sinfo -h -o %T 2>/dev/null | head -1 || true)
  [ "$state" = idle ] && break
  [ "$i" = 150 ] && { echo "slurm-e2e: node never became idle (state '$state')" >&2; tail -20 "$work/slurmctld.log" "$work/slurmd.log" >&2; exit 1; }
  sleep 0.2
done

cd "$work/jobs"
out="$work/jobs/merged"
ids=$(SUPPLYSHOCK="$bin" "$repo/deploy/slurm/submit.sh" "$scenario" 4 "$trials" "$out" "$work/jobs/parts")
echo "slurm-e2e: $ids"
merge_id=$(echo "$ids" | sed -n 's/.*merge: job \([0-9]*\).*/\1/p')
# Poll the queue until the merge job has left it.
for i in $(seq 600); do
  squeue -h -j "$merge_id" 2>/dev/null | grep -q . || break
  [ "$i" = 600 ] && { echo "slurm-e2e: merge job still queued after 120 s" >&2; squeue >&2; exit 1; }
  sleep 0.2
done
[ -f "$out/summary.json" ] || { echo "slurm-e2e: no merged results; job logs:" >&2; cat "$work"/jobs/*.log >&2 || true; exit 1; }

"$bin" run "$scenario" --trials "$trials" -q -o "$work/single"
if diff -r "$work/single" "$out" >/dev/null; then
  echo "slurm-e2e: 4-shard Slurm array + merge == one-machine run ($(ls "$out" | wc -l) files, byte for byte)"
else
  echo "slurm-e2e: merged results differ from the one-machine run" >&2
  diff -rq "$work/single" "$out" >&2 || true
  exit 1
fi
