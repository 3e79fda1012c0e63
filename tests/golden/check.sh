#!/bin/sh
# Golden generated sources: regenerates tests/golden/tiny.json (default plan;
# every layer compressed; mask-unrolled; on the 2:4 stream where it fits;
# --target cuda with 2:4 tensor cores where it fits; weights read at run time
# and no static arena)
# and compares every generated file byte for byte with the committed copy.
# The runtime files copied verbatim (sf_*) are left out. A change to them must be meant:
#   UPDATE=1 tests/golden/check.sh build/sfgen build/golden   rewrites them.
# usage: check.sh SFGEN WORKDIR
set -u
sfgen=$1
work=$2
here=$(dirname "$0")
pass=0
fail=0
for variant in default compressed unrolled nm24 cuda external; do
    flags=""
    [ "$variant" = compressed ] && flags="--kernel nm_compressed"
    [ "$variant" = unrolled ] && flags="--kernel nm_unrolled"
    [ "$variant" = nm24 ] && flags="--kernel nm24"
    [ "$variant" = cuda ] && flags="--target cuda --gpu-kernel sp24"
    [ "$variant" = external ] && flags="--external-weights --static-arena 0"
    rm -rf "${work:?}/$variant"
    mkdir -p "$work"
    # shellcheck disable=SC2086
    if ! "$sfgen" "$here/tiny.json" -o "$work/$variant" -q $flags; then
        echo "FAIL $variant: sfgen failed"
        fail=$((fail + 1))
        continue
    fi
    if [ "${UPDATE:-0}" = 1 ]; then
        rm -rf "${here:?}/$variant"
        mkdir -p "$here/$variant"
        for f in "$work/$variant"/*; do
            case "$(basename "$f")" in sf_*) ;; *) cp "$f" "$here/$variant/" ;; esac
        done
    fi
    for f in "$here/$variant"/*; do
        name=$(basename "$f")
        if cmp -s "$f" "$work/$variant/$name"; then
            pass=$((pass + 1))
        else
            echo "FAIL $variant/$name differs from the golden copy:"
            diff -u "$f" "$work/$variant/$name" | head -20
            fail=$((fail + 1))
        fi
    done
    for f in "$work/$variant"/*; do
        name=$(basename "$f")
        case "$name" in sf_*) continue ;; esac
        if [ ! -e "$here/$variant/$name" ]; then
            echo "FAIL $variant/$name: generated but has no golden copy"
            fail=$((fail + 1))
        fi
    done
done
echo "golden: $pass passed, $fail failed"
[ "$fail" = 0 ]
