# SparseFlow - build sfgen, run the tests, the demo and the benchmarks.
#
#   make            build build/sfgen
#   make demo       generate, build and run the example MLP; which layers run
#                   sparse and why; speed against --dense and onnxruntime
#   make check      the quick loop: unit tests, golden sources and an end-to-end
#                   slice (under 3 minutes on 2 cores)
#   make lint       cppcheck and the .clang-format style (part of make test)
#   make test       lint, unit tests, golden sources, end-to-end matrix,
#                   reduced-size ResNet/BERT/GPT-2 against PyTorch, CUDA sources
#                   compiled for sm_80/sm_90 (skipped without nvcc unless
#                   SF_REQUIRE_CUDA=1), bad-input suite, concurrent runs of a
#                   generated library, the docs' code blocks and the demo,
#                   fuzz regressions, then unit, end-to-end and bad-input
#                   again under ASan + UBSan (about 20 minutes on 2 cores)
#   make test-models  ResNet-50, BERT-base, GPT-2 at full size against PyTorch
#   make test-cuda  the CUDA backend on a GPU against fp64, compute-sanitizer
#                   (make test compiles it for sm_80 and sm_90 without a GPU)
#   make fuzz       libFuzzer harnesses, FUZZ_SECONDS (60) each
#   make fuzz-coverage  line coverage of generator/ from replaying the corpora
#   make bench      linear layers against oneDNN and OpenBLAS -> docs/PERFORMANCE.md
#   make bench-models  ResNet-50, BERT, GPT-2 against onnxruntime and PyTorch
#   make bench-cuda  2:4 and 1:4 GPU kernels against cuBLAS and cuSPARSELt (GPU)
#   make deps       install the Debian packages the build needs (as root)
#   make clean      remove build/
#
# A fresh Debian machine needs nothing else: every target that compiles first
# runs `deps`, which installs what is missing (or says what to install).

CC ?= cc
PYTHON ?= /usr/bin/python3
# python/sparseflow: the exporter, the model builder, the fp64 reference and
# the safetensors writer that tests, benches and examples import
export PYTHONPATH := $(CURDIR)/python$(if $(PYTHONPATH),:$(PYTHONPATH))
BUILD ?= build

WARN = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wpointer-arith \
       -Wformat=2 -Wundef -Wvla
CJSON_CFLAGS = $(shell pkg-config --cflags libcjson 2>/dev/null || echo -I/usr/include/cjson)
CFLAGS ?= -O2 -g
SF_CFLAGS = -std=c11 $(WARN) $(CJSON_CFLAGS) -Iinclude -Igenerator -Iruntime -I$(BUILD) $(CFLAGS)
RT_CFLAGS = -Iruntime -Iruntime/cpu
SAN = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

# generator/: the compiler, one folder per part (docs/ARCHITECTURE.md)
GEN_SRCS = $(filter-out generator/main.c generator/core/embed.c,\
             $(wildcard generator/*.c generator/*/*.c generator/*/*/*.c))
GEN_HDRS = $(wildcard include/*.h runtime/*.h generator/*.h generator/*/*.h generator/*/*/*.h generator/*/*.def)
# templates and runtime files compiled into sfgen, per backend
EMBEDDED = $(sort $(wildcard templates/*.in templates/*/*.in runtime/*.h runtime/cpu/* runtime/cuda/*))

# Debian packages: build (gcc, make, cJSON, pkg-config), unit tests (Check and
# its subunit dependency), end-to-end reference (python3 + numpy); the model
# tests compare with PyTorch (MODEL_PKGS).
DEB_PKGS = gcc make libc6-dev pkg-config libcjson-dev check libsubunit-dev python3 python3-numpy
MODEL_PKGS = python3-torch python3-torchvision

.PHONY: all deps demo check lint test test-unit test-golden test-e2e test-models-tiny test-models test-bad \
        test-concurrency test-docs test-asan bench-models bench-cuda test-cuda-build test-cuda-skip test-cuda \
        fuzz fuzz-replay fuzz-coverage bench clean

all: $(BUILD)/sfgen $(BUILD)/libsparseflow.a $(BUILD)/libsparseflow.so

# install_pkgs: installs the listed Debian packages that are missing (as
# root, with apt-get), or says exactly what to install.
define install_pkgs
	@mkdir -p $(BUILD)
	@missing=""; for p in $(1); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	    if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	        echo "installing:$$missing"; \
	        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null) \
	            || { echo "apt-get failed; install:$$missing" >&2; exit 1; }; \
	    else \
	        echo "missing Debian packages:$$missing (run: sudo apt-get install$$missing)" >&2; exit 1; \
	    fi; \
	fi
	@touch $@
endef

# Installs missing packages once; the stamp keeps later builds quick.
deps: $(BUILD)/.deps
$(BUILD)/.deps:
	$(call install_pkgs,$(DEB_PKGS))

# Templates and runtime files are compiled into sfgen.
$(BUILD)/embed: generator/core/embed.c | $(BUILD)/.deps
	$(CC) -std=c11 -O1 $(WARN) -o $@ $<

$(BUILD)/embedded.c: $(BUILD)/embed $(EMBEDDED)
	$(BUILD)/embed $@ $(EMBEDDED)

GEN_OBJS = $(GEN_SRCS:generator/%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/embedded.o

# position-independent: the same objects make the static and the shared library
$(BUILD)/obj/%.o: generator/%.c $(GEN_HDRS) | $(BUILD)/.deps
	@mkdir -p $(dir $@)
	$(CC) $(SF_CFLAGS) -fPIC -c $< -o $@

$(BUILD)/obj/embedded.o: $(BUILD)/embedded.c generator/core/embedded.h
	@mkdir -p $(BUILD)/obj
	$(CC) $(SF_CFLAGS) -fPIC -c $< -o $@

# libsparseflow: the compiler as a library (include/sparseflow.h)
$(BUILD)/libsparseflow.a: $(GEN_OBJS)
	rm -f $@ && ar rcs $@ $(GEN_OBJS)

$(BUILD)/libsparseflow.so: $(GEN_OBJS)
	$(CC) -shared -o $@ $(GEN_OBJS) -lcjson -lm

# sfgen: the command line over the library.
$(BUILD)/sfgen: generator/main.c $(BUILD)/libsparseflow.a
	$(CC) $(SF_CFLAGS) -o $@ $< $(BUILD)/libsparseflow.a -lcjson -lm

# The same, under ASan + UBSan, for the sanitizer pass of `make test`.
$(BUILD)/asan/sfgen: generator/main.c $(GEN_SRCS) $(GEN_HDRS) $(BUILD)/embedded.c
	@mkdir -p $(BUILD)/asan
	$(CC) $(SF_CFLAGS) $(SAN) -o $@ generator/main.c $(GEN_SRCS) $(BUILD)/embedded.c -lcjson -lm

# ---- tests -------------------------------------------------------------------

CHECK_LIBS = $(shell pkg-config --libs check 2>/dev/null || echo -lcheck -lsubunit -lm -lrt -pthread)
UNIT_SRCS = $(wildcard tests/unit/*.c)

# the runtime's tile helpers, portable and AVX-512 (tests/unit/tiles/)
TILE_SRCS = tests/unit/tiles/tile_kernels.c runtime/cpu/sf_runtime.h
TILE_FLAGS_portable = -DTILE_VARIANT=portable -Wno-psabi
TILE_FLAGS_avx512 = -DTILE_VARIANT=avx512 -mavx512f

$(BUILD)/obj/tiles_%.o: $(TILE_SRCS) | $(BUILD)/.deps
	@mkdir -p $(BUILD)/obj
	$(CC) $(SF_CFLAGS) -O2 $(RT_CFLAGS) $(TILE_FLAGS_$*) -c -o $@ $<

$(BUILD)/asan/tiles_%.o: $(TILE_SRCS) | $(BUILD)/.deps
	@mkdir -p $(BUILD)/asan
	$(CC) $(SF_CFLAGS) $(SAN) -O1 $(RT_CFLAGS) $(TILE_FLAGS_$*) -c -o $@ $<

TILE_OBJS = $(BUILD)/obj/tiles_portable.o $(BUILD)/obj/tiles_avx512.o

$(BUILD)/unit_tests: $(UNIT_SRCS) $(BUILD)/libsparseflow.a runtime/cpu/sf_ops.c runtime/cpu/sf_npy.c \
                    runtime/cpu/sf_main.c $(TILE_OBJS)
	$(CC) $(SF_CFLAGS) $(RT_CFLAGS) -fopenmp -o $@ $(UNIT_SRCS) runtime/cpu/sf_ops.c runtime/cpu/sf_npy.c \
	    runtime/cpu/sf_main.c \
	    $(TILE_OBJS) $(BUILD)/libsparseflow.a -lcjson $(CHECK_LIBS) -lm

$(BUILD)/asan/unit_tests: $(UNIT_SRCS) $(GEN_SRCS) $(GEN_HDRS) $(BUILD)/embedded.c \
                          $(BUILD)/asan/tiles_portable.o $(BUILD)/asan/tiles_avx512.o
	@mkdir -p $(BUILD)/asan
	$(CC) $(SF_CFLAGS) $(SAN) $(RT_CFLAGS) -fopenmp -o $@ $(UNIT_SRCS) runtime/cpu/sf_ops.c \
	    runtime/cpu/sf_npy.c runtime/cpu/sf_main.c $(BUILD)/asan/tiles_portable.o $(BUILD)/asan/tiles_avx512.o \
	    $(GEN_SRCS) $(BUILD)/embedded.c -lcjson $(CHECK_LIBS) -lm

# Check unit tests for every stage.
test-unit: $(BUILD)/unit_tests
	CK_FORK=yes $(BUILD)/unit_tests

# generate -> make -> run -> compare with an fp64 numpy reference.
test-e2e: $(BUILD)/sfgen
	$(PYTHON) tests/e2e/selftest.py
	$(PYTHON) tests/e2e/run_e2e.py --sfgen $(BUILD)/sfgen --work $(BUILD)/e2e

# Generated sources of a tiny model, byte for byte (UPDATE=1 to accept a change).
test-golden: $(BUILD)/sfgen
	sh tests/golden/check.sh $(BUILD)/sfgen $(BUILD)/golden

# The generated library from many threads with separate arenas (bit-exact),
# its error codes, and what <name>_run allocates (nothing with OPENMP=0);
# then two models linked into one program, weights read from a file at run
# time, and an arena too large to be static (tests/link).
test-concurrency: $(BUILD)/sfgen
	$(PYTHON) tests/concurrency/run_concurrent.py --sfgen $(BUILD)/sfgen --work $(BUILD)/concurrency
	$(PYTHON) tests/link/run_link.py --sfgen $(BUILD)/sfgen --work $(BUILD)/link

# ResNet-50, BERT and GPT-2 at reduced size (same ops, fewer and smaller
# layers), exported from PyTorch with tools/sf_export.py, dense, 2:4 and 1:4:
# the generated program's output against PyTorch's, and the arena's size;
# first the exporter's idioms (tests/models/run_export_idioms.py: each mapped
# one against PyTorch, each refused one's message).
test-models-tiny: $(BUILD)/sfgen $(BUILD)/.deps-models
	$(PYTHON) tests/models/run_export_idioms.py --sfgen $(BUILD)/sfgen --work $(BUILD)/export-idioms
	$(PYTHON) tests/models/run_models.py --sfgen $(BUILD)/sfgen --work $(BUILD)/models
	$(PYTHON) tests/onnx/run_onnx_torch.py --sfgen $(BUILD)/sfgen --work $(BUILD)/onnx-torch

# The same at full size (ResNet-50 224x224, BERT-base, GPT-2 small).
test-models: $(BUILD)/sfgen $(BUILD)/.deps-models
	$(PYTHON) tests/models/run_models.py --full --sfgen $(BUILD)/sfgen --work $(BUILD)/models-full

$(BUILD)/.deps-models: | $(BUILD)/.deps
	$(call install_pkgs,$(MODEL_PKGS))

# The CUDA backend (tests/cuda/run_cuda.py): every case generated with
# --target cuda and compiled by nvcc for sm_80 and sm_90 as real cubins,
# warnings as errors. Needs the CUDA toolkit (nvcc), not a GPU.
test-cuda-build: $(BUILD)/sfgen
	$(PYTHON) tests/cuda/run_cuda.py --sfgen $(BUILD)/sfgen --work $(BUILD)/cuda-build

# Without nvcc both print one SKIPPED line and pass, unless SF_REQUIRE_CUDA=1
# (set by .ci/run): then they fail. test-cuda-skip checks both paths with
# nvcc taken off PATH.
test-cuda-skip: $(BUILD)/sfgen
	$(PYTHON) tests/cuda/check_skip.py --sfgen $(BUILD)/sfgen --build $(BUILD) --work $(BUILD)/cuda-skip

# The same cases run on the GPU against the float64 reference, batch 1 and
# the maximum, then under compute-sanitizer; says so and skips without a GPU.
test-cuda: $(BUILD)/sfgen
	$(PYTHON) tests/cuda/run_cuda.py --run --sanitize --sfgen $(BUILD)/sfgen --work $(BUILD)/cuda

# Every code block of README.md and docs/*.md, run as documented in a scratch
# folder (tests/docs/run_docs.py: how blocks are marked), the demo with a
# short timing step, and PERFORMANCE.md's whole-model summary and plot
# against its table.
test-docs: $(BUILD)/sfgen $(BUILD)/make_mlp
	$(PYTHON) tests/docs/run_docs.py --sfgen $(BUILD)/sfgen --make-mlp $(BUILD)/make_mlp \
	    --work $(BUILD)/docs

# Every rejected input: exit code, message, no output folder; hostile names,
# read-only and full file systems.
test-bad: $(BUILD)/sfgen
	$(PYTHON) tests/bad/run_bad.py --sfgen $(BUILD)/sfgen --work $(BUILD)/bad --program-cases
	$(PYTHON) tests/bad/run_output_safety.py --sfgen $(BUILD)/sfgen --work $(BUILD)/output-safety

# Unit, end-to-end (reduced matrix) and bad-input tests once more with sfgen
# and the generated code built under ASan + UBSan.
test-asan: $(BUILD)/asan/sfgen $(BUILD)/asan/unit_tests
	CK_FORK=yes ASAN_OPTIONS=detect_leaks=1 $(BUILD)/asan/unit_tests
	$(PYTHON) tests/e2e/run_e2e.py --sfgen $(BUILD)/asan/sfgen --work $(BUILD)/e2e-asan --sanitize --quick
	$(PYTHON) tests/bad/run_bad.py --sfgen $(BUILD)/asan/sfgen --work $(BUILD)/bad-asan

# The quick loop while working (make test is the full one): unit tests,
# golden sources, and the end-to-end slice CHECK_FILTER selects.
CHECK_FILTER ?= ^(cli|small_2:4|small_1:4|small_dense|bcast|acts|ops_)
check: $(BUILD)/.deps
	$(MAKE) --no-print-directory test-unit
	$(MAKE) --no-print-directory test-golden
	$(PYTHON) tests/e2e/selftest.py
	$(PYTHON) tests/e2e/run_e2e.py --sfgen $(BUILD)/sfgen --work $(BUILD)/e2e-check --quick \
	    --filter '$(CHECK_FILTER)'

# Static analysis (cppcheck) and the C style (.clang-format) of the sources.
LINT_PKGS = cppcheck clang-format
LINT_SRCS = $(shell git ls-files 'generator/*.[ch]' 'include/*.h' 'runtime/*.h' 'runtime/*/*.[ch]' \
              'runtime/cuda/*' 'tests/unit/*.[ch]' 'tests/unit/tiles/*.c' 'tests/fuzz/*.[ch]' \
              2>/dev/null)
$(BUILD)/.deps-lint: | $(BUILD)/.deps
	$(call install_pkgs,$(LINT_PKGS))

lint: $(BUILD)/.deps-lint
	cppcheck --quiet --error-exitcode=1 --std=c11 --enable=warning,portability,performance \
	    --inline-suppr -Iinclude -Igenerator -Iruntime -Iruntime/cpu $(CJSON_CFLAGS) \
	    generator runtime/cpu
	clang-format --dry-run --Werror $(LINT_SRCS)
	@echo "lint: cppcheck and clang-format clean"

# The README's test command.
test: $(BUILD)/.deps
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory test-unit
	$(MAKE) --no-print-directory test-golden
	$(MAKE) --no-print-directory test-e2e
	$(MAKE) --no-print-directory test-models-tiny
	$(MAKE) --no-print-directory test-cuda-skip
	$(MAKE) --no-print-directory test-cuda-build
	$(MAKE) --no-print-directory test-bad
	$(MAKE) --no-print-directory test-concurrency
	$(MAKE) --no-print-directory test-docs
	$(MAKE) --no-print-directory fuzz-replay
	$(MAKE) --no-print-directory test-asan
	@echo "make test: all suites passed"

# ---- fuzzing ------------------------------------------------------------------
# libFuzzer harnesses under ASan + UBSan (clang; Debian's clang and
# libclang-rt-14-dev), docs/FUZZING.md. `make fuzz FUZZ_SECONDS=N` runs each
# for N seconds; new inputs go to build/fuzz/corpus-<harness>, seeds come from
# tests/fuzz/corpus, the dictionary from tests/fuzz/<harness>.dict where there
# is one, else json.dict. A crash leaves crash-* in build/fuzz: minimise it
# (fuzz_X -minimize_crash=1) and commit it under
# tests/fuzz/regressions/<harness>/, which `make test` replays through the
# harnesses (fuzz-replay).

FUZZ_SECONDS ?= 60
FUZZ_HARNESSES = model safetensors graph npy cuda onnx
FUZZ_PKGS = clang libclang-rt-14-dev
FUZZ_FLAGS = -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_BINS = $(FUZZ_HARNESSES:%=$(BUILD)/fuzz/fuzz_%)

$(BUILD)/.deps-fuzz: | $(BUILD)/.deps
	$(call install_pkgs,$(FUZZ_PKGS))

# The generator's objects are compiled once per build flavour (fuzz: ASan +
# UBSan; fuzz-cov: coverage) and linked into every harness.
FUZZ_OBJ_SRCS = $(GEN_SRCS) $(BUILD)/embedded.c runtime/cpu/sf_npy.c
fuzz_objs = $(patsubst %.c,$(BUILD)/$(1)/obj/%.o,$(patsubst $(BUILD)/%,%,$(FUZZ_OBJ_SRCS)))
FUZZ_CC = clang -std=c11 $(CJSON_CFLAGS) -Iinclude -Igenerator -Iruntime $(RT_CFLAGS) -I$(BUILD)
.SECONDARY: $(call fuzz_objs,fuzz) $(call fuzz_objs,fuzz-cov) # kept between builds

$(BUILD)/fuzz/obj/%.o: %.c $(GEN_HDRS) | $(BUILD)/.deps-fuzz
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(subst fuzzer,fuzzer-no-link,$(FUZZ_FLAGS)) -c $< -o $@

$(BUILD)/fuzz/obj/embedded.o: $(BUILD)/embedded.c | $(BUILD)/.deps-fuzz
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(subst fuzzer,fuzzer-no-link,$(FUZZ_FLAGS)) -c $< -o $@

$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_common.h $(GEN_HDRS) $(call fuzz_objs,fuzz)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $< $(call fuzz_objs,fuzz) -lcjson -lm

fuzz: $(FUZZ_BINS)
	@for h in $(FUZZ_HARNESSES); do \
	    mkdir -p $(BUILD)/fuzz/corpus-$$h; \
	    echo "fuzz_$$h: $(FUZZ_SECONDS) s"; \
	    dict=tests/fuzz/$$h.dict; [ -f $$dict ] || dict=tests/fuzz/json.dict; \
	    (cd $(BUILD)/fuzz && ./fuzz_$$h -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=4096 \
	        -print_final_stats=1 -dict=$(CURDIR)/$$dict \
	        corpus-$$h $(CURDIR)/tests/fuzz/corpus/$$h > fuzz_$$h.log 2>&1); rc=$$?; \
	    grep -E "^(stat::|#[0-9]+ +DONE|SUMMARY|artifact)|cov: " $(BUILD)/fuzz/fuzz_$$h.log | tail -8; \
	    [ $$rc = 0 ] || { echo "fuzz_$$h failed: see $(BUILD)/fuzz/fuzz_$$h.log"; exit 1; }; \
	done

# Replays the seeds and every committed regression input through each harness;
# checks that the op seeds cover every op and attribute key of ops.def.
fuzz-replay: $(FUZZ_BINS)
	@$(PYTHON) tests/fuzz/make_seeds.py --check
	@for h in $(FUZZ_HARNESSES); do \
	    files=$$(ls tests/fuzz/corpus/$$h/* tests/fuzz/regressions/$$h/* 2>/dev/null); \
	    $(BUILD)/fuzz/fuzz_$$h $$files >/dev/null 2>&1 || { echo "fuzz_$$h: a replayed input fails"; \
	        $(BUILD)/fuzz/fuzz_$$h $$files 2>&1 | tail -30; exit 1; }; \
	    echo "fuzz_$$h: $$(echo $$files | wc -w) inputs replayed"; \
	done

# Line coverage of generator/ from replaying the seeds and regressions
# (docs/FUZZING.md): the harnesses built with clang's source-based coverage
# in $(BUILD)/fuzz-cov, one llvm-cov row per generator file, written to
# $(BUILD)/fuzz-cov/report.txt.
FUZZ_COV_PKGS = clang libclang-rt-14-dev llvm-14
FUZZ_COV_BINS = $(FUZZ_HARNESSES:%=$(BUILD)/fuzz-cov/fuzz_%)
LLVM_BIN = $(firstword $(wildcard /usr/lib/llvm-14/bin) /usr/bin)

$(BUILD)/.deps-fuzz-cov: | $(BUILD)/.deps
	$(call install_pkgs,$(FUZZ_COV_PKGS))

FUZZ_COV_FLAGS = -g -O0 -fprofile-instr-generate -fcoverage-mapping

$(BUILD)/fuzz-cov/obj/%.o: %.c $(GEN_HDRS) | $(BUILD)/.deps-fuzz-cov
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_COV_FLAGS) -c $< -o $@

$(BUILD)/fuzz-cov/obj/embedded.o: $(BUILD)/embedded.c | $(BUILD)/.deps-fuzz-cov
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_COV_FLAGS) -c $< -o $@

$(BUILD)/fuzz-cov/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_common.h $(GEN_HDRS) \
                          $(call fuzz_objs,fuzz-cov)
	$(FUZZ_CC) $(FUZZ_COV_FLAGS) -fsanitize=fuzzer -o $@ $< $(call fuzz_objs,fuzz-cov) -lcjson -lm

fuzz-coverage: $(FUZZ_COV_BINS)
	@rm -f $(BUILD)/fuzz-cov/*.profraw
	@for h in $(FUZZ_HARNESSES); do \
	    files=$$(ls tests/fuzz/corpus/$$h/* tests/fuzz/regressions/$$h/* 2>/dev/null); \
	    LLVM_PROFILE_FILE=$(BUILD)/fuzz-cov/$$h.profraw $(BUILD)/fuzz-cov/fuzz_$$h $$files \
	        >/dev/null 2>&1 || { echo "fuzz_$$h: a replayed input fails"; exit 1; }; \
	done
	$(LLVM_BIN)/llvm-profdata merge -sparse $(BUILD)/fuzz-cov/*.profraw -o $(BUILD)/fuzz-cov/all.profdata
	$(LLVM_BIN)/llvm-cov report -instr-profile=$(BUILD)/fuzz-cov/all.profdata \
	    $(firstword $(FUZZ_COV_BINS)) $(patsubst %,-object %,$(wordlist 2,99,$(FUZZ_COV_BINS))) \
	    generator > $(BUILD)/fuzz-cov/report.txt
	@cat $(BUILD)/fuzz-cov/report.txt

# ---- benchmarks ----------------------------------------------------------------
# Linear layers against oneDNN, OpenBLAS and BLIS (Debian libdnnl-dev,
# libopenblas-dev, libblis-dev; gnuplot-nox for the plot); every kernel
# variant of the registry on every case, and the cost model's choice against
# the fastest. Writes docs/PERFORMANCE.md. BENCH_ARGS=--quick for a short run.

BENCH_PKGS = libdnnl-dev libopenblas-dev libblis-dev gnuplot-nox

$(BUILD)/.deps-bench: | $(BUILD)/.deps
	$(call install_pkgs,$(BENCH_PKGS))

$(BUILD)/bench/peers: bench/peers.c | $(BUILD)/.deps-bench
	@mkdir -p $(BUILD)/bench
	$(CC) -std=c11 -O2 -march=native -ffp-contract=fast $(WARN) -fopenmp -o $@ $< -ldnnl -lopenblas

# the same harness on BLIS's CBLAS: its symbols clash with OpenBLAS's
$(BUILD)/bench/peers_blis: bench/peers.c | $(BUILD)/.deps-bench
	@mkdir -p $(BUILD)/bench
	$(CC) -std=c11 -O2 -march=native -ffp-contract=fast $(WARN) -fopenmp -DPEERS_BLIS -o $@ $< -lblis

# what bounds the compressed kernels: FMAs that also load (bench/loadport.c)
$(BUILD)/bench/loadport: bench/loadport.c | $(BUILD)/.deps
	@mkdir -p $(BUILD)/bench
	$(CC) -std=c11 -O2 -march=native $(WARN) -o $@ $<

bench: $(BUILD)/sfgen $(BUILD)/bench/peers $(BUILD)/bench/peers_blis $(BUILD)/bench/loadport
	$(PYTHON) bench/run_bench.py --sfgen $(BUILD)/sfgen --peers $(BUILD)/bench/peers \
	    --loadport $(BUILD)/bench/loadport --work $(BUILD)/bench/work $(BENCH_ARGS)

# The CUDA linear-layer kernels (2:4 sparse tensor cores, ELL) against cuBLAS
# and cuSPARSELt (PyTorch's torch._cslt_sparse_mm) on BERT-large, GPT-2,
# 8192^3 and decoding shapes; needs nvcc, a GPU and PyTorch with CUDA (says
# so and skips without a GPU). CUDA_BENCH_ARCH picks the one architecture
# built; CUDA_BENCH_ARGS passes --runs/--warmup/--filter through.
NVCC ?= nvcc
CUDA_BENCH_ARCH ?= 90
CUDA_PYTHON ?= python3
$(BUILD)/bench/bench_gemm: bench/cuda/bench_gemm.cu $(wildcard runtime/cuda/*) \
                           generator/backends/cuda/sp24.c generator/backends/cuda/sp24.h
	@mkdir -p $(BUILD)/bench
	$(NVCC) -O3 -std=c++17 -arch=sm_$(CUDA_BENCH_ARCH) $(RT_CFLAGS) -Iruntime/cuda -Igenerator -o $@ \
	    bench/cuda/bench_gemm.cu runtime/cuda/sf_cuda.cu generator/backends/cuda/sp24.c -lcublas

bench-cuda:
	@command -v $(NVCC) >/dev/null || { echo "make bench-cuda: SKIPPED - nvcc not found"; exit 0; }; \
	$(MAKE) --no-print-directory $(BUILD)/bench/bench_gemm && \
	$(CUDA_PYTHON) bench/cuda/run_bench_cuda.py --bench $(BUILD)/bench/bench_gemm \
	    --out $(BUILD)/bench-cuda $(CUDA_BENCH_ARGS)

# Whole networks (ResNet-50, BERT-base, GPT-2 small; dense, 2:4, 1:4) against
# onnxruntime and PyTorch on the same weights -> docs/PERFORMANCE.md.
# onnxruntime comes from PyPI into a virtual environment that also sees
# Debian's PyTorch and NumPy. MODELS_BENCH_ARGS passes options through.
MODELS_VENV = $(BUILD)/venv-models
bench-models: $(BUILD)/sfgen $(MODELS_VENV)/.ok
	$(MODELS_VENV)/bin/python bench/run_models_bench.py --sfgen $(BUILD)/sfgen $(MODELS_BENCH_ARGS)

$(MODELS_VENV)/.ok: $(MODELS_VENV)/.ort | $(BUILD)/.deps-models
	@touch $@

# the venv with onnxruntime alone (the demo needs no PyTorch)
$(MODELS_VENV)/.ort: | $(BUILD)/.deps-venv
	$(PYTHON) -m venv --system-site-packages $(MODELS_VENV)
	$(MODELS_VENV)/bin/pip install -q onnxruntime
	@touch $@

$(BUILD)/.deps-venv: | $(BUILD)/.deps
	$(call install_pkgs,python3-venv python3-pip)

# ---- demo --------------------------------------------------------------------

$(BUILD)/make_mlp: examples/mlp/make_mlp.c | $(BUILD)/.deps
	$(CC) -std=c11 -O2 $(WARN) -o $@ $< -lm

# The README's demo (examples/mlp/README.md): example MLP with 2:4 and 1:4
# layers; which layers run sparse and why; timed against its all-dense build
# and onnxruntime (MODELS_VENV) on one and all threads. Where onnxruntime
# cannot be installed (no network) the demo says so and still runs.
demo: $(BUILD)/sfgen $(BUILD)/make_mlp
	@$(MAKE) --no-print-directory $(MODELS_VENV)/.ort || \
	    echo "make demo: onnxruntime could not be installed into $(MODELS_VENV); the demo runs without it"
	@PYTHON=$(PYTHON) DEMO_PYTHON=$$(test -x $(MODELS_VENV)/bin/python && \
	    echo $(MODELS_VENV)/bin/python || echo $(PYTHON)) sh examples/mlp/demo.sh $(BUILD)

clean:
	rm -rf $(BUILD)
