#!/usr/bin/env bash
# Distributed training with torchrun (PyTorch DDP), as mmsegmentation's tools/dist_train.sh.
# Usage: tools/dist_train.sh CONFIG GPUS [train.py args...]
# Env: NNODES (1), NODE_RANK (0), PORT (29500), MASTER_ADDR (127.0.0.1), PYTHON (python).
# Without CUDA the processes use the gloo backend on CPU (GPUS = number of processes).
set -euo pipefail
if [ "$#" -lt 2 ]; then
    echo "usage: $0 CONFIG GPUS [train.py args...]" >&2
    exit 2
fi
CONFIG=$1
GPUS=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
PYTHON=${PYTHON:-python}

# mmengine gathers the ranks' results through a folder `.dist_test/` in the current directory
# unless the metric has a `collect_dir`; dbdseg's AtomicCheckpointHook points it under the work dir.
# For other configs, remove the (then empty) folder here if this run made it.
HAD_COLLECT_DIR=0
[ -e .dist_test ] && HAD_COLLECT_DIR=1
STATUS=0
PYTHONPATH="$(dirname "$0")/..":${PYTHONPATH:-} \
"$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$GPUS" \
    --master_port="$PORT" \
    "$(dirname "$0")/train.py" \
    "$CONFIG" \
    --launcher pytorch "${@:3}" || STATUS=$?
if [ "$HAD_COLLECT_DIR" = 0 ] && [ -d .dist_test ]; then
    rmdir .dist_test 2>/dev/null || true
fi
exit "$STATUS"
