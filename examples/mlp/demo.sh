#!/bin/sh
# demo.sh BUILD - the SparseFlow demo (run by `make demo` from the repo root).
#
# Makes the example MLP's weights and input, generates it with sfgen, says
# which layers run sparse and why, builds and runs it, checks it against an
# all-dense build of the same model, and times both and onnxruntime on one
# and all threads. Everything goes to BUILD/demo/. Needs BUILD/sfgen and
# BUILD/make_mlp (the make target builds them first). PYTHON: python3 with
# NumPy; DEMO_PYTHON: one that also has onnxruntime (else that comparison is
# left out, and the demo says so); DEMO_BENCH_ARGS: e.g. "--rounds 9 --runs 100".
set -e

if [ $# -ne 1 ]; then
    echo "usage: sh examples/mlp/demo.sh BUILD" >&2
    exit 2
fi
B=$1
HERE=$(dirname "$0")
D=$B/demo
SFGEN=$B/sfgen
MAKE_MLP=$B/make_mlp
MAKE=${MAKE:-make}
NCPU=$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || echo '?')
PY=${PYTHON:-python3}
# the timing step's Python: one with onnxruntime where `make demo` installed it
BENCH_PY=${DEMO_PYTHON:-$PY}

step() {
    printf '\n== %s\n' "$*"
}

step "1/7 weights and input: fc1 2:4, fc2 1:4, fc3 dense (make_mlp $D)"
mkdir -p "$D"
cp "$HERE/mlp.json" "$D/mlp.json"
"$MAKE_MLP" "$D"

step "2/7 generate C with sfgen: census and plan per layer"
"$SFGEN" "$D/mlp.json" -o "$D/sparse"

step "3/7 which layers run sparse, and why (from $D/sparse/report.json)"
"$PY" "$HERE/demo_layers.py" "$D/sparse/report.json"

step "4/7 build the generated code (make -C $D/sparse)"
"$MAKE" -s --no-print-directory -C "$D/sparse" -j2
echo "built $D/sparse/mlp, libmlp.a, libmlp.so"

step "5/7 run: $D/sparse/mlp --input x=$D/x.npy --output logits=$D/logits.npy"
"$D/sparse/mlp" --input x="$D/x.npy" --output logits="$D/logits.npy"
"$MAKE_MLP" --show "$D/logits.npy"

step "6/7 same model, every layer dense (sfgen --dense): outputs must agree"
"$SFGEN" "$D/mlp.json" -o "$D/dense" --dense --quiet
"$MAKE" -s --no-print-directory -C "$D/dense" -j2
"$D/dense/mlp" --input x="$D/x.npy" --output logits="$D/logits_dense.npy"
"$MAKE_MLP" --compare "$D/logits.npy" "$D/logits_dense.npy"

step "7/7 time it: sparse build against the dense build and onnxruntime, 1 thread and all $NCPU"
# shellcheck disable=SC2086 # DEMO_BENCH_ARGS: options for demo_bench.py, word-split
"$BENCH_PY" "$HERE/demo_bench.py" "$D" $DEMO_BENCH_ARGS

printf '\ndemo done: files in %s/ (see examples/mlp/README.md)\n' "$D"
