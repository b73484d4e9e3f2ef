#!/bin/bash
# Submit a sharded supplyshock run as a Slurm job array plus a dependent merge job.
#
#   deploy/slurm/submit.sh SCENARIO SHARDS TRIALS OUT [PARTS]
#
# e.g. deploy/slurm/submit.sh scenarios/japan-eu-critical-materials.toml 8 1000000 out/flagship
# Prints the two job ids. SUPPLYSHOCK may name the binary (default: supplyshock on PATH).
set -euo pipefail
scenario=${1:?scenario}; shards=${2:?number of shards}; trials=${3:?trials}; out=${4:?output directory}
parts=${5:-$out.parts}
here=$(cd "$(dirname "$0")" && pwd)
env="ALL,SCENARIO=$scenario,TRIALS=$trials,PARTS=$parts,OUT=$out${SUPPLYSHOCK:+,SUPPLYSHOCK=$SUPPLYSHOCK}"
array=$(sbatch --parsable --array=0-$((shards - 1)) --export="$env" "$here/shards.sbatch")
array=${array%%;*}
merge=$(sbatch --parsable --dependency=afterok:"$array" --export="$env" "$here/merge.sbatch")
echo "shards: job $array (array 0-$((shards - 1))), merge: job ${merge%%;*}"
