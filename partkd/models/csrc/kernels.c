/* partkd's native kernels (partkd/models/native.py): the sparse graph aggregation and a fused batch-norm + ReLU.

   Sparse graph aggregation over the joints of every frame, forward and backward.

   Every frame n holds `rows_in` input rows and `rows_out` output rows of `c` floats each (contiguous, row-major).
   Edge e adds a[e] * in[n, s, :] to out[n, dst[e], :] for the input row s it leaves; the edges are listed by input
   row (start[s] .. start[s + 1] leave row s), so every pass reads its input rows in memory order and keeps the
   frame's smaller side in L1. Frames are split over `threads` OpenMP threads. */
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static int thread_id(void) {
#ifdef _OPENMP
  return omp_get_thread_num();
#else
  return 0;
#endif
}

/* out[n, dst[e]] += a[e] * in[n, s] over the edges e leaving each input row s */
void graph_aggregate_forward(const float *in, float *out, long frames, int rows_in, int rows_out, int c,
                             const int *start, const int *dst, const float *a, int threads) {
#pragma omp parallel for num_threads(threads) schedule(static)
  for (long n = 0; n < frames; n++) {
    const float *x = in + n * rows_in * (long)c;
    float *o = out + n * rows_out * (long)c;
    memset(o, 0, sizeof(float) * (size_t)rows_out * (size_t)c);
    for (int s = 0; s < rows_in; s++) {
      const float *restrict xs = x + (long)s * c;
      for (int e = start[s]; e < start[s + 1]; e++) {
        float *restrict od = o + (long)dst[e] * c;
        const float w = a[e];
        for (int j = 0; j < c; j++) od[j] += w * xs[j];
      }
    }
  }
}

/* grad_in[n, s] = sum over the edges e leaving s of a[e] * grad_out[n, dst[e]];
   grad_a[e] = sum over n and channels of grad_out[n, dst[e]] * in[n, s], summed in double per thread in `work`
   (threads * edges doubles) */
void graph_aggregate_backward(const float *in, const float *grad_out, float *grad_in, float *grad_a, double *work,
                              long frames, int rows_in, int rows_out, int c, int edges, const int *start,
                              const int *dst, const float *a, int threads) {
  memset(work, 0, sizeof(double) * (size_t)threads * (size_t)edges);
#pragma omp parallel num_threads(threads)
  {
    int t = thread_id();
    double *acc = work + (long)t * edges;
#pragma omp for schedule(static)
    for (long n = 0; n < frames; n++) {
      const float *x = in + n * rows_in * (long)c;
      const float *g = grad_out + n * rows_out * (long)c;
      float *gin = grad_in + n * rows_in * (long)c;
      for (int s = 0; s < rows_in; s++) {
        const float *restrict xs = x + (long)s * c;
        float *restrict gs = gin + (long)s * c;
        memset(gs, 0, sizeof(float) * (size_t)c);
        for (int e = start[s]; e < start[s + 1]; e++) {
          const float *restrict gd = g + (long)dst[e] * c;
          const float w = a[e];
          float dot = 0.f;
#pragma omp simd reduction(+ : dot)
          for (int j = 0; j < c; j++) {
            gs[j] += w * gd[j];
            dot += gd[j] * xs[j];
          }
          acc[e] += dot;
        }
      }
    }
  }
  for (int e = 0; e < edges; e++) {
    double s = 0.0;
    for (int t = 0; t < threads; t++) s += work[(long)t * edges + e];
    grad_a[e] = (float)s;
  }
}

#define BLOCK 64

/* acc += part and part = 0 for two per-channel sums (float partials into double totals) */
static void flush(double *restrict acc1, double *restrict acc2, float *restrict part1, float *restrict part2, int c) {
  for (int j = 0; j < c; j++) {
    acc1[j] += part1[j];
    acc2[j] += part2[j];
    part1[j] = 0.f;
    part2[j] = 0.f;
  }
}

/* Training-mode batch-norm over the channels of `rows` channels-last rows, plus an optional residual, then ReLU:
   out = max(0, (z - mean) * invstd * weight + bias + res). Writes the batch mean, the biased variance var and
   invstd = 1 / sqrt(var + eps) per channel; `work` holds 2 * threads * c doubles. */
void bn_relu_forward(const float *z, const float *res, float *out, long rows, int c, const float *weight,
                     const float *bias, float eps, float *mean, float *var, float *invstd, double *work,
                     int threads) {
  memset(work, 0, sizeof(double) * 2 * (size_t)threads * (size_t)c);
#pragma omp parallel num_threads(threads)
  {
    int t = thread_id();
    double *sum = work + 2L * t * c, *sq = sum + c;
    float fs[c], fq[c]; /* float partial sums over blocks of BLOCK rows (they vectorize), added up in double */
    long done = 0;
    memset(fs, 0, sizeof fs);
    memset(fq, 0, sizeof fq);
#pragma omp for schedule(static)
    for (long r = 0; r < rows; r++) {
      const float *restrict zr = z + r * c;
      for (int j = 0; j < c; j++) {
        fs[j] += zr[j];
        fq[j] += zr[j] * zr[j];
      }
      if (++done % BLOCK == 0) flush(sum, sq, fs, fq, c);
    }
    flush(sum, sq, fs, fq, c);
  }
  for (int j = 0; j < c; j++) {
    double s = 0.0, q = 0.0;
    for (int t = 0; t < threads; t++) {
      s += work[2L * t * c + j];
      q += work[2L * t * c + c + j];
    }
    double m = s / (double)rows, v = q / (double)rows - m * m;
    v = v > 0.0 ? v : 0.0;
    mean[j] = (float)m;
    var[j] = (float)v;
    invstd[j] = (float)(1.0 / __builtin_sqrt(v + eps));
  }
#pragma omp parallel for num_threads(threads) schedule(static)
  for (long r = 0; r < rows; r++) {
    const float *restrict zr = z + r * c;
    float *restrict o = out + r * c;
    if (res) {
      const float *restrict rr = res + r * c;
      for (int j = 0; j < c; j++) {
        float v = (zr[j] - mean[j]) * invstd[j] * weight[j] + bias[j] + rr[j];
        o[j] = v > 0.f ? v : 0.f;
      }
    } else {
      for (int j = 0; j < c; j++) {
        float v = (zr[j] - mean[j]) * invstd[j] * weight[j] + bias[j];
        o[j] = v > 0.f ? v : 0.f;
      }
    }
  }
}

/* The backward pass of bn_relu_forward from its output `out` (the ReLU's mask) and input z: the gradients of z
   (grad_z), of the residual (grad_res = grad masked, when not NULL), of weight and bias; `work` holds
   2 * threads * c doubles and `coef` 3 * c floats. */
void bn_relu_backward(const float *grad, const float *out, const float *z, float *grad_z, float *grad_res,
                      long rows, int c, const float *weight, const float *mean, const float *invstd, float *grad_weight,
                      float *grad_bias, double *work, float *coef, int threads) {
  memset(work, 0, sizeof(double) * 2 * (size_t)threads * (size_t)c);
#pragma omp parallel num_threads(threads)
  {
    int t = thread_id();
    double *sg = work + 2L * t * c, *sgx = sg + c;
    float fs[c], fx[c];
    long done = 0;
    memset(fs, 0, sizeof fs);
    memset(fx, 0, sizeof fx);
#pragma omp for schedule(static)
    for (long r = 0; r < rows; r++) {
      const float *restrict gr = grad + r * c, *restrict orow = out + r * c, *restrict zr = z + r * c;
      for (int j = 0; j < c; j++) {
        float g = gr[j]; /* loaded, then selected: the loop vectorizes */
        g = orow[j] > 0.f ? g : 0.f;
        fs[j] += g;
        fx[j] += g * (zr[j] - mean[j]);
      }
      if (++done % BLOCK == 0) flush(sg, sgx, fs, fx, c);
    }
    flush(sg, sgx, fs, fx, c);
  }
  float *a = coef, *b = coef + c, *d = coef + 2 * c;
  for (int j = 0; j < c; j++) {
    double s = 0.0, x = 0.0;
    for (int t = 0; t < threads; t++) {
      s += work[2L * t * c + j];
      x += work[2L * t * c + c + j];
    }
    grad_weight[j] = (float)(x * invstd[j]);
    grad_bias[j] = (float)s;
    /* grad_z = a * g_masked - b - d * (z - mean) */
    a[j] = weight[j] * invstd[j];
    b[j] = (float)(a[j] * s / (double)rows);
    d[j] = (float)(a[j] * invstd[j] * invstd[j] * x / (double)rows);
  }
#pragma omp parallel for num_threads(threads) schedule(static)
  for (long r = 0; r < rows; r++) {
    const float *restrict gr = grad + r * c, *restrict orow = out + r * c, *restrict zr = z + r * c;
    float *restrict gz = grad_z + r * c;
    if (grad_res) {
      float *restrict gres = grad_res + r * c;
#pragma omp simd
      for (int j = 0; j < c; j++) {
        float g = gr[j];
        g = orow[j] > 0.f ? g : 0.f;
        gres[j] = g;
        gz[j] = a[j] * g - b[j] - d[j] * (zr[j] - mean[j]);
      }
    } else {
#pragma omp simd
      for (int j = 0; j < c; j++) {
        float g = gr[j];
        g = orow[j] > 0.f ? g : 0.f;
        gz[j] = a[j] * g - b[j] - d[j] * (zr[j] - mean[j]);
      }
    }
  }
}
