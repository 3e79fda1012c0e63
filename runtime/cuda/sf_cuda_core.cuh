/* sf_cuda_core.cuh - part of the CUDA runtime (sf_cuda.cuh): what every
 * other part and the generated <model>.cu need first. Checked CUDA and cuBLAS
 * calls (SFC_TRY, SFC_TRY_BLAS, SFC_LAUNCHED, SFC_STEP), the record of the
 * first failure (sf_cuda.cu), the header of the weights blob, and the shape
 * structs passed to kernels by value. No kernels here, so that the network
 * ops and the linear-layer kernels can each include it alone. */
#ifndef SF_CUDA_CORE_CUH
#define SF_CUDA_CORE_CUH

#include "sf_format.h"
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>

#define SFC_ERR (-1)

/* Records the first failure (file, line, what) and returns SFC_ERR. */
int sfc_fail(const char *file, int line, const char *call, const char *why);
const char *sfc_last_error(void);
void sfc_clear_error(void);

#define SFC_TRY(call)                                                               \
    do {                                                                            \
        cudaError_t sfc_e_ = (call);                                                \
        if (sfc_e_ != cudaSuccess)                                                  \
            return sfc_fail(__FILE__, __LINE__, #call, cudaGetErrorString(sfc_e_)); \
    } while (0)
#define SFC_TRY_BLAS(call)                                                             \
    do {                                                                               \
        cublasStatus_t sfc_s_ = (call);                                                \
        if (sfc_s_ != CUBLAS_STATUS_SUCCESS)                                           \
            return sfc_fail(__FILE__, __LINE__, #call, cublasGetStatusString(sfc_s_)); \
    } while (0)
/* A kernel launch: launch errors now, execution errors at the next sync. */
#define SFC_LAUNCHED() SFC_TRY(cudaGetLastError())
/* A step of the generated code: propagate a failure. */
#define SFC_STEP(call)      \
    do {                    \
        if ((call) != 0)    \
            return SFC_ERR; \
    } while (0)

/* The same for a cudaError_t already at hand (0 when it is cudaSuccess). */
int sfc_fail_if(cudaError_t e, const char *file, int line);

/* Header of the weights blob (sf_format.h, shared with the generator and
 * the CPU runtime). */
typedef sf_blob_header sfc_blob_header;

/* Shapes travel to kernels by value. */
typedef struct {
    int32_t d[8];
} sfc_dims;
typedef struct {
    int32_t p[8];
} sfc_perm;

#endif
