#!/bin/sh
# demo.sh BUILD - the SparseFlow demo (run by `make demo` from the repo root).
#
# Makes the example MLP's weights and input, generates and builds it with
# sfgen, runs it, checks it against an all-dense build of the same model and
# times both. Everything goes to BUILD/demo/. Needs BUILD/sfgen and
# BUILD/make_mlp (the make target builds them first).
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

step() {
    printf '\n== %s\n' "$*"
}

step "1/6 weights and input: fc1 2:4, fc2 1:4, fc3 dense (make_mlp $D)"
mkdir -p "$D"
cp "$HERE/mlp.json" "$D/mlp.json"
"$MAKE_MLP" "$D"

step "2/6 generate C with sfgen: census and plan per layer"
"$SFGEN" "$D/mlp.json" -o "$D/sparse"

step "3/6 build the generated code (make -C $D/sparse)"
"$MAKE" -s --no-print-directory -C "$D/sparse" -j2
echo "built $D/sparse/mlp, libmlp.a, libmlp.so"

step "4/6 run: $D/sparse/mlp --input x=$D/x.npy --output logits=$D/logits.npy"
"$D/sparse/mlp" --input x="$D/x.npy" --output logits="$D/logits.npy"
"$MAKE_MLP" --show "$D/logits.npy"

step "5/6 same model, every layer dense (sfgen --dense): outputs must agree"
"$SFGEN" "$D/mlp.json" -o "$D/dense" --dense --quiet
"$MAKE" -s --no-print-directory -C "$D/dense" -j2
"$D/dense/mlp" --input x="$D/x.npy" --output logits="$D/logits_dense.npy"
"$MAKE_MLP" --compare "$D/logits.npy" "$D/logits_dense.npy"

step "6/6 time it: --bench 30 at batch 64 (median and p90 of 30 runs after warm-up)"
bench() {   # bench BUILD [THREADS] -> "median p90"; no THREADS: the OpenMP default
    if [ -n "$2" ]; then
        out=$("$D/$1/mlp" --bench 30 --threads "$2")
    else
        out=$("$D/$1/mlp" --bench 30)
    fi
    med=${out#*median_ms=}
    med=${med%% *}
    p90=${out#*p90_ms=}
    echo "$med $p90"
}
s1=$(bench sparse 1)
d1=$(bench dense 1)
sn=$(bench sparse "")
dn=$(bench dense "")
printf '%s\n' "sparse 1 $s1" "dense 1 $d1" "sparse all $sn" "dense all $dn" |
awk -v ncpu="$NCPU" '
    { build[NR] = $1; thr[NR] = ($2 == "all") ? "all (" ncpu ")" : $2; med[NR] = $3; p90[NR] = $4 }
    END {
        printf "%-7s %-9s %10s %10s\n", "build", "threads", "median ms", "p90 ms"
        for (i = 1; i <= NR; i++)
            printf "%-7s %-9s %10.3f %10.3f\n", build[i], thr[i], med[i], p90[i]
        printf "speed-up sparse vs dense (median): 1 thread %.2fx, all threads %.2fx\n",
               med[2] / med[1], med[4] / med[3]
        print "(timings vary with machine load; runs on all threads suffer most when other work shares the cores)"
    }'

printf '\ndemo done: files in %s/ (see examples/mlp/README.md)\n' "$D"
