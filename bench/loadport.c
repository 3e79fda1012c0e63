/* loadport.c - what bounds the compressed kernels: time per vector FMA when
 * each FMA also loads, against register-only FMAs, on AVX-512.
 *
 *   loadport            prints one line per case: name, ns per FMA, and the
 *                       ratio to register-only FMAs (1.00 = FMA-bound)
 *
 * Each case is 16 independent accumulators in one asm block, so neither the
 * compiler nor FMA latency is measured. The cases are the inner loops of the
 * kernels: the dense kernel (a broadcast weight per FMA, the input in a
 * register), the compressed kernel (one 64-byte input load per FMA, plus a
 * weight broadcast and an index per 4 FMAs), and the 2:4 stream (a
 * two-source permute per FMA). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <time.h>

#if defined(__AVX512F__) && defined(__x86_64__)
static float g_buf[4096] __attribute__((aligned(64)));

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#define CLOBBER                                                                                  \
    "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",    \
        "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18",         \
        "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31"

/* Sixteen FMAs per block; `F(i)` is one of them on accumulator i. */
#define FMA16(F) F(0) F(1) F(2) F(3) F(4) F(5) F(6) F(7) F(8) F(9) F(10) F(11) F(12) F(13) F(14) F(15)
#define STR(x) #x
#define REG(i) "vfmadd231ps %%zmm30, %%zmm31, %%zmm" STR(i) "\n"
#define MEM(i) "vfmadd231ps " STR(i) "*64(%0), %%zmm31, %%zmm" STR(i) "\n"
#define BCAST(i) "vfmadd231ps " STR(i) "*4(%0)%{1to16%}, %%zmm31, %%zmm" STR(i) "\n"
#define PERM(i)                                                                                  \
    "vmovaps %%zmm29, %%zmm" STR(16) "\n"                                                       \
    "vpermt2ps %%zmm27, %%zmm28, %%zmm16\n"                                                     \
    "vfmadd231ps %%zmm16, %%zmm30, %%zmm" STR(i) "\n"
/* the compressed kernel, 4 token vectors: per nonzero an index load, a
 * broadcast of the weight, and 4 FMAs each loading an input vector */
#define NZ(a, b, c, d, w)                                                                        \
    "movzwl " STR(w) "*2+2048(%0), %%eax\n"                                                      \
    "vbroadcastss " STR(w) "*4+1024(%0), %%zmm30\n"                                             \
    "vfmadd231ps " STR(a) "*64(%0), %%zmm30, %%zmm" STR(a) "\n"                                 \
    "vfmadd231ps " STR(b) "*64(%0), %%zmm30, %%zmm" STR(b) "\n"                                 \
    "vfmadd231ps " STR(c) "*64(%0), %%zmm30, %%zmm" STR(c) "\n"                                 \
    "vfmadd231ps " STR(d) "*64(%0), %%zmm30, %%zmm" STR(d) "\n"
#define COMPRESSED NZ(0, 1, 2, 3, 0) NZ(4, 5, 6, 7, 1) NZ(8, 9, 10, 11, 2) NZ(12, 13, 14, 15, 3)

#define CASE(name, body)                                                                         \
    do {                                                                                         \
        double best = 1e9;                                                                       \
        for (int rep = 0; rep < 5; rep++) {                                                      \
            double t0 = now_s();                                                                 \
            for (long it = 0; it < iters; it++)                                                  \
                __asm__ volatile(body : : "r"(g_buf) : CLOBBER, "eax");                           \
            double dt = (now_s() - t0) / ((double)iters * 16);                                   \
            best = dt < best ? dt : best;                                                        \
        }                                                                                        \
        if (base == 0)                                                                           \
            base = best;                                                                         \
        printf("%-44s %.3f ns/FMA  %.2fx\n", name, best * 1e9, best / base);                    \
    } while (0)

int main(void)
{
    const long iters = 4000000;
    double base = 0;
    CASE("register operands (peak)", FMA16(REG));
    CASE("dense: weight broadcast from memory per FMA", FMA16(BCAST));
    CASE("one 64-byte input load per FMA", FMA16(MEM));
    CASE("compressed: + weight broadcast, index / 4 FMAs", COMPRESSED);
    CASE("2:4 stream: two-source permute per FMA", FMA16(PERM));
    return 0;
}
#else
int main(void)
{
    printf("loadport: needs x86-64 with AVX-512\n");
    return 0;
}
#endif
