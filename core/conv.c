/* conv.c — 2-D convolution lowered to GEMMs over batch chunks, and nearest ×2 upsampling.
 *
 * The batch is cut into chunks of Bc images; Bc depends only on the shapes, never on the thread
 * count. For a chunk with N = Bc*OH*OW output pixels and R = C*K*K kernel taps:
 *
 *   forward   col (R, N) = im2col(inp);   out (OC, pixels) = w (OC, R) · col + b
 *   backward  dmat (OC, N) = dout gathered;   dw (OC, R) += dmat · col^T;   db += sums of dout
 *             dinp, stride 1: a stride-1 convolution of dout with the flipped, transposed
 *               filters wt (C, OC*K*K) and padding K-1-pad: im2col(dout), then one GEMM that
 *               accumulates straight into dinp (a large reduction dimension, no col2im);
 *             dinp, stride > 1: dcol (R, N) = w^T · dmat, then dinp += col2im(dcol).
 * 3×3 stride-1 pad-1 convolutions of 16+ channels at batch >= 16 take Winograd F(4×4, 3×3) for
 * out, dinp and dw instead (see "Winograd" below); so does their forward at any batch size when
 * the caller passes the filters already transformed (drl_conv2d_forward_prepared: inference).
 *
 * Threading. OpenBLAS (pthreads build) parks its worker threads in a spin loop for ~0.1 s after
 * every multi-threaded call; they then fight the OpenMP threads for the cores and both slow down
 * several times. So these ops run OpenBLAS single-threaded (its thread count is set to 1 for the
 * duration of the op and restored afterwards) and split the work themselves in one OpenMP team:
 *   - im2col, gathers and the GEMMs producing out / dinp work on a thread's own contiguous range
 *     of output rows (image, row), so every output column is computed by one thread; except that
 *     a forward chunk of one small image (batch 1) splits its GEMM by output channels instead;
 *   - the dw GEMM is split over its R columns: each dw element is one full dot product;
 *   - col2im is split over channels of dinp;
 *   - the filter gradient of few-channel same-size convolutions (direct_dw) is split over
 *     output channels;
 *   - except the Winograd filter gradient (wino_dw): each thread sums its own tile blocks, and
 *     the per-thread sums are added in thread order;
 *   - a Winograd forward of fewer tile blocks than threads (small batches) splits each block's
 *     input transforms over channels and its GEMMs and output transforms over output channels.
 * A repeated call gives bit-identical results. With a different thread count the GEMMs are cut
 * into different pieces, which OpenBLAS rounds differently, and the Winograd filter gradient
 * groups its sums differently (relative differences ~1e-7); nothing else changes.
 * 1×1 stride-1 convolutions skip im2col: the input images are already the column matrix.
 * Same-size stride-1 convolutions
 * (3×3 pad 1) of 16+ input channels skip im2col too: K*K shifted GEMMs over a zero-padded copy
 * of the input (see "Same-size stride-1 convolution" below); with fewer input channels their
 * filter gradient is computed as plain dot products over that padded layout (direct_dw).
 */
#include "conv.h"

#include <cblas.h>
#include <omp.h>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "threads.h"

/* im2col and the gathers copy short pieces (7..49 floats for 7×7 images), where a call to
 * memset / memcpy costs more than the copy (~10% of a 7×7 convolution): GCC must not turn the
 * copy loops of this file back into such calls. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-tree-loop-distribute-patterns")
#endif

/* Chunk size: scratch of about DRL_CONV_CHUNK_FLOATS floats (2 MiB, so that the columns written
 * by im2col are still in cache when the GEMM packs them), but at least DRL_CONV_CHUNK_COLS times
 * the larger channel count in output pixels: each GEMM call re-packs its filter matrix, which
 * must stay small next to the columns it multiplies (this matters for 7×7 and 14×14 images). */
#ifndef DRL_CONV_CHUNK_FLOATS
#define DRL_CONV_CHUNK_FLOATS ((size_t)1 << 19)
#endif
#ifndef DRL_CONV_CHUNK_COLS
#define DRL_CONV_CHUNK_COLS 16
#endif

/* Shifted-GEMM path: scratch per chunk of about this many floats, and output columns per
 * block of a thread's GEMMs (the 9 tap products re-read the block's outputs from cache). */
#ifndef DRL_CONV_SHIFT_FLOATS
#define DRL_CONV_SHIFT_FLOATS ((size_t)1 << 19)
#endif
#ifndef DRL_CONV_SHIFT_COLS
#define DRL_CONV_SHIFT_COLS 512
#endif

/* Below this many multiply-adds an op runs on the calling thread only. */
#define PAR_MIN_FLOPS 200000.0
/* Below this many floats an OpenMP data loop runs on the calling thread only. */
#define PAR_MIN 16384

/* 0 when the kernel does not fit (or for a nonsensical K / stride): ops then do nothing. */
/* One output row from a GEMM result: d += s (backward accumulation), or d = s + bias. */
static inline void store_row(float *restrict d, const float *restrict s, int n, int acc, float bias) {
    if (acc) {
#pragma omp simd
        for (int i = 0; i < n; i++) d[i] += s[i];
    } else {
#pragma omp simd
        for (int i = 0; i < n; i++) d[i] = s[i] + bias;
    }
}

int drl_conv2d_out_size(int H, int K, int stride, int pad) {
    if (K < 1 || stride < 1 || pad < 0 || H + 2 * pad < K) return 0;
    return (H + 2 * pad - K) / stride + 1;
}

static int is_pointwise(int K, int stride, int pad) { return K == 1 && stride == 1 && pad == 0; }

static size_t max_sz(size_t a, size_t b) { return a > b ? a : b; }

/* Same-size stride-1 convolutions (K odd, pad (K-1)/2) taken by the shifted-GEMM path; the
 * choice depends on the shapes only. Its products reduce over C alone (not C*K*K), so a few
 * input channels (the first layer, C = 1: 0.3-0.4x of im2col) stay with im2col. Measured
 * (bench_conv, batch 64 / 256, on a noisy 2-core machine: +-15%) against im2col: mostly
 * 1.05-1.3x with 2 threads on the 3×3 layers of 32..256 channels at 7..28 pixels, 0.85-1.15x
 * with 1 thread (7×7 images lose a little: the padded grid computes 8×8 outputs per 7×7 image,
 * 1.31x the work). At batch 1, 7×7 images lose to im2col
 * (0.8-0.9x), so small images (padded grid over 1.2x the pixels) need a batch of 16. */
static int use_shifted(int B, int C, int H, int W, int K, int stride, int pad) {
    if (K < 2 || stride != 1 || 2 * pad != K - 1 || C < 16) return 0;
    return B >= 16 || 5 * (size_t)(H + pad) * (size_t)(W + pad) <= 6 * (size_t)H * W;
}

/* Floats per channel of a padded chunk of nb images (see pack_padded). */
static size_t padded_len(int nb, size_t S, int Wp, int pad) {
    return (size_t)nb * S + (size_t)pad * Wp + 2 * (size_t)pad;
}

/* Shapes and the carving of `work`, all derived from the arguments alone. */
typedef struct {
    int B, C, H, W, OC, K, stride, pad, OH, OW;
    int R;             /* C*K*K taps per output channel */
    int transposed;    /* backward dinp as a stride-1 convolution of dout */
    size_t HW, OHW;
    size_t wt_n;       /* floats of flipped filters wt (C, OC*K*K) at the start of work */
    size_t col_per;    /* floats per image of the column region */
    size_t mat_per;    /* floats per image of the (channels, pixels) matrix region */
    int Bc;            /* images per chunk */
    /* shifted-GEMM path (see "Same-size stride-1 convolution" below) */
    int shifted;       /* taken for these shapes */
    int Wp, Hs;        /* padded row pitch W + pad, rows per image H + pad */
    size_t S;          /* Hs*Wp floats per padded image plane */
    size_t taps_n;     /* K*K*OC*C floats of reordered filters (and of dw taps) */
} conv_plan;

static conv_plan plan_make(int B, int C, int H, int W, int OC, int K, int stride, int pad) {
    conv_plan p = {B, C, H, W, OC, K, stride, pad, drl_conv2d_out_size(H, K, stride, pad),
                   drl_conv2d_out_size(W, K, stride, pad), C * K * K, 0, 0, 0, 0, 0, 0, 1,
                   0, 0, 0, 0, 0};
    const size_t KK = (size_t)K * K;
    p.HW = (size_t)H * W;
    p.OHW = (size_t)(p.OH > 0 ? p.OH : 0) * (size_t)(p.OW > 0 ? p.OW : 0);
    if (use_shifted(B, C, H, W, K, stride, pad)) {
        p.shifted = 1;
        p.Wp = W + pad;
        p.Hs = H + pad;
        p.S = (size_t)p.Hs * p.Wp;
        p.taps_n = KK * OC * C;
        /* per image: padded input and dout planes, and the output / dinp grid */
        const size_t per = p.S * ((size_t)C + OC + (C > OC ? C : OC));
        size_t n = DRL_CONV_SHIFT_FLOATS / per;
        if (n < 1) n = 1;
        if (n > (size_t)B) n = (size_t)(B > 0 ? B : 1);
        if (B > 0) {
            const size_t chunks = ((size_t)B + n - 1) / n;
            n = ((size_t)B + chunks - 1) / chunks;
        }
        p.Bc = (int)n;
        return p;
    }
    /* The transposed path writes OC*K*K*H*W columns per image where col2im folds back
     * C*K*K*OH*OW: take it unless OC is much larger than C (the first layer). */
    p.transposed = stride == 1 && pad <= K - 1 && (size_t)OC * p.HW <= 2 * (size_t)C * p.OHW;
    p.col_per = (size_t)p.R * p.OHW;
    p.mat_per = (size_t)OC * p.OHW;
    if (p.transposed) {
        p.wt_n = (size_t)C * OC * KK;
        p.col_per = max_sz(p.col_per, (size_t)OC * KK * p.HW);
        p.mat_per = max_sz(p.mat_per, (size_t)C * p.HW);
    }
    const size_t per = p.col_per + p.mat_per;
    size_t n = per ? DRL_CONV_CHUNK_FLOATS / per : (size_t)B;
    const size_t cols = (size_t)DRL_CONV_CHUNK_COLS * (size_t)(C > OC ? C : OC);
    if (p.OHW && n * p.OHW < cols) n = (cols + p.OHW - 1) / p.OHW;
    if (n < 1) n = 1;
    if (n > (size_t)B) n = (size_t)(B > 0 ? B : 1);
    if (B > 0) { /* equal chunks rather than a small last one */
        const size_t chunks = ((size_t)B + n - 1) / n;
        n = ((size_t)B + chunks - 1) / chunks;
    }
    p.Bc = (int)n;
    return p;
}

/* Work (floats) = wt + Bc * (col_per + mat_per), with per image
 *   col_per = C*K*K*OH*OW  (im2col of the input; dcol in backward)
 *   mat_per = OC*OH*OW     (gathered dout; forward output before the scatter)
 * and, when backward takes the transposed path (stride 1, pad <= K-1, OC*H*W <= 2*C*OH*OW),
 *   wt = C*OC*K*K, col_per = max(col_per, OC*K*K*H*W), mat_per = max(mat_per, C*H*W)
 * (wt = 0 otherwise). Bc = min(B, max(1, 2^19 / (col_per + mat_per),
 * ceil(16*max(C, OC) / (OH*OW)))), then evened out: Bc = ceil(B / ceil(B / Bc)).
 * 1×1 stride-1 pad-0 convolutions need no scratch: 0. Shapes taken by the shifted-GEMM path
 * (use_shifted) instead need, with Wp = W + pad, S = (H + pad)*Wp, L = Bc*S + pad*Wp + 2*pad:
 *   2*K*K*OC*C (filter taps, dw taps) + L*(C + OC) (padded inp, dout) + Bc*S*max(C, OC) (grid),
 * Bc = min(B, max(1, 2^19 / (S*(C + OC + max(C, OC))))), evened out as above. Shapes that also
 * take the Winograd path (use_winograd) need at least wino_work(C -> OC) (forward) and
 * 9*OC*C + wino_work(OC -> C) (backward dinp: flipped filters, then the same path on dout) and
 * wino_dw_work(C -> OC) (backward dw), with wino_work = 36*OC*C transformed filters plus, per
 * thread slot, 36*(C + OC)*NT for V and M and wino_q_floats(NT, TW) of transform scratch (see
 * wino_plan_make), plus WINO_SLOTS more transform scratches (a team sharing a block), and
 * wino_dw_work = per thread slot 36*OC*C (dU) plus the same slot layout for blocks
 * planned with the DW budget. Shapes with a prepared form (preparable) need wino_work(C -> OC)
 * at every batch size: the prepared forward takes Winograd at any batch. */
static size_t wino_work(int B, int C, int H, int W, int OC);
static size_t wino_dw_work(int B, int C, int H, int W, int OC);
static int use_direct_dw(int C, int K, int stride, int pad);
static size_t direct_dw_floats(int B, int C, int H, int W, int OC, int K, int pad);
static int use_winograd(int B, int C, int OC, int K, int stride, int pad);
static int preparable(int C, int OC, int K, int stride, int pad);

static size_t work_needed(int B, int C, int H, int W, int OC, int K, int stride, int pad) {
    conv_plan p = plan_make(B, C, H, W, OC, K, stride, pad);
    if (p.OH <= 0 || p.OW <= 0) return 0;
    size_t n;
    if (p.shifted) {
        const size_t L = padded_len(p.Bc, p.S, p.Wp, pad);
        n = 2 * p.taps_n + L * ((size_t)C + OC) + (size_t)p.Bc * p.S * (size_t)(C > OC ? C : OC);
    } else {
        n = p.wt_n + (size_t)p.Bc * (p.col_per + p.mat_per);
    }
    if (!p.shifted && use_direct_dw(C, K, stride, pad))
        n = max_sz(n, direct_dw_floats(B, C, H, W, OC, K, pad));
    if (use_winograd(B, C, OC, K, stride, pad)) {
        n = max_sz(n, wino_work(B, C, H, W, OC));
        /* backward dinp: flipped filters (C, OC, 3, 3) + the Winograd work of OC -> C */
        n = max_sz(n, 9 * (size_t)OC * C + wino_work(B, OC, H, W, C));
        n = max_sz(n, wino_dw_work(B, C, H, W, OC)); /* backward dw */
    } else if (preparable(C, OC, K, stride, pad)) {
        n = max_sz(n, wino_work(B, C, H, W, OC)); /* forward with prepared filters */
    }
    return n;
}

/* The maximum over every batch size up to B: activations made for B images run any smaller
 * batch too (the server's batcher does), and the need is not monotone in the batch size — the
 * evened-out chunk of a partial batch can be larger than a full batch's, and small batches may
 * take the im2col path where large ones take the shifted one. */
size_t drl_conv2d_work_size(int B, int C, int H, int W, int OC, int K, int stride, int pad) {
    if (B <= 0 || is_pointwise(K, stride, pad)) return 0;
    size_t most = 0;
    for (int b = 1; b <= B; b++) {
        size_t n = work_needed(b, C, H, W, OC, K, stride, pad);
        if (n > most) most = n;
    }
    return most;
}

/* ------------------------------------------------------------------------------------------ */
/* im2col / col2im                                                                            */

/* Output columns [*lo, *hi) whose input column ow*stride - pad + kw lies inside [0, W). */
static void valid_range(int W, int OW, int kw, int stride, int pad, int *lo, int *hi) {
    int t = pad - kw, u = W - 1 + pad - kw;
    int a = t <= 0 ? 0 : (t + stride - 1) / stride;
    int b = u < 0 ? 0 : u / stride + 1;
    if (b > OW) b = OW;
    if (a > OW) a = OW;
    if (b < a) b = a;
    *lo = a;
    *hi = b;
}

/* Copy and zero-fill loops for short pieces (see the top of the file). */
static inline void fill_zero(float *d, size_t n) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) d[i] = 0.0f;
}

static inline void copy(float *restrict d, const float *restrict s, size_t n) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) d[i] = s[i];
}

/* Row (c, kh, kw) of col for output rows [oh0, oh1) of one image: dst (rows*OW) from the input
 * plane (H, W). Stride 1 with OW == W is one shifted copy of the plane plus zeroed borders. */
static void im2col_segment(float *dst, const float *plane, int H, int W, int kh, int kw,
                           int stride, int pad, int OH, int OW, int oh0, int oh1) {
    int lo, hi, ra, rb;
    valid_range(W, OW, kw, stride, pad, &lo, &hi);
    valid_range(H, OH, kh, stride, pad, &ra, &rb);
    if (ra < oh0) ra = oh0;
    if (ra > oh1) ra = oh1;
    if (rb > oh1) rb = oh1;
    if (rb < ra) rb = ra;
    fill_zero(dst, (size_t)(ra - oh0) * OW);
    fill_zero(dst + (size_t)(rb - oh0) * OW, (size_t)(oh1 - rb) * OW);
    float *d = dst + (size_t)(ra - oh0) * OW;
    if (stride == 1 && OW == W) {
        /* Elements that wrap around a row edge land in the columns zeroed below. */
        const long off = (long)(ra - pad + kh) * W + (kw - pad), L = (long)(rb - ra) * W;
        const long HW = (long)H * W;
        const long s0 = off < 0 ? -off : 0, s1 = L < HW - off ? L : HW - off;
        if (s1 > s0) copy(d + s0, plane + off + s0, (size_t)(s1 - s0));
        for (int oh = ra; oh < rb; oh++, d += OW) {
            for (int ow = 0; ow < lo; ow++) d[ow] = 0.0f;
            for (int ow = hi; ow < OW; ow++) d[ow] = 0.0f;
        }
        return;
    }
    for (int oh = ra; oh < rb; oh++, d += OW) {
        const float *s = plane + (size_t)(oh * stride - pad + kh) * W - pad + kw;
        for (int ow = 0; ow < lo; ow++) d[ow] = 0.0f;
        if (stride == 1) {
#pragma omp simd
            for (int ow = lo; ow < hi; ow++) d[ow] = s[ow];
        } else if (stride == 2) {
#pragma omp simd
            for (int ow = lo; ow < hi; ow++) d[ow] = s[2 * ow];
        } else {
            for (int ow = lo; ow < hi; ow++) d[ow] = s[ow * stride];
        }
        for (int ow = hi; ow < OW; ow++) d[ow] = 0.0f;
    }
}

/* Small planes: the padded rows a range of output rows reads fit in IM2COL_PAD_FLOATS, and every
 * tap of a channel is copied from that one zero-padded copy without bounds checks (per-tap edge
 * handling costs more than the copy on 7×7 and 14×14 images). */
#define IM2COL_PAD_FLOATS 4096

/* The K*K rows of channel plane `plane` in col (row stride N, starting at column q*OW) for output
 * rows [oh0, oh1), via a zero-padded copy P of the input rows they read. */
static void im2col_small(float *col, size_t N, const float *plane, int H, int W, int K, int stride,
                         int pad, int OW, int oh0, int oh1, float *P) {
    const int Wp = W + 2 * pad, rows = (oh1 - oh0 - 1) * stride + K;
    for (int i = 0; i < rows; i++) {
        float *d = P + (size_t)i * Wp;
        const int h = oh0 * stride - pad + i;
        if (h < 0 || h >= H) {
            fill_zero(d, (size_t)Wp);
            continue;
        }
        for (int x = 0; x < pad; x++) d[x] = d[pad + W + x] = 0.0f;
        copy(d + pad, plane + (size_t)h * W, (size_t)W);
    }
    for (int kh = 0; kh < K; kh++) {
        for (int kw = 0; kw < K; kw++, col += N) {
            float *d = col;
            for (int oh = oh0; oh < oh1; oh++, d += OW) {
                const float *s = P + (size_t)((oh - oh0) * stride + kh) * Wp + kw;
                if (stride == 1) {
                    copy(d, s, (size_t)OW);
                } else {
                    for (int ow = 0; ow < OW; ow++) d[ow] = s[ow * stride];
                }
            }
        }
    }
}

/* Columns of output rows [q0, q1) (q = image*OH + oh) of col (C*K*K, N) from inp (nb, C, H, W).
 * Row r of col is tap (c, kh, kw); column q*OW + ow is output pixel (image, oh, ow). */
static void im2col_rows(float *col, size_t N, const float *inp, int C, int H, int W, int K,
                        int stride, int pad, int OH, int OW, int q0, int q1) {
    const int KK = K * K, R = C * KK;
    float P[IM2COL_PAD_FLOATS];
    for (int q = q0; q < q1;) {
        const int b = q / OH, oh0 = q % OH;
        const int oh1 = q1 - q < OH - oh0 ? oh0 + (q1 - q) : OH;
        if ((size_t)((oh1 - oh0 - 1) * stride + K) * (size_t)(W + 2 * pad) <= IM2COL_PAD_FLOATS) {
            for (int c = 0; c < C; c++)
                im2col_small(col + (size_t)c * KK * N + (size_t)q * OW, N,
                             inp + ((size_t)b * C + c) * H * W, H, W, K, stride, pad, OW, oh0, oh1, P);
            q += oh1 - oh0;
            continue;
        }
        for (int r = 0; r < R; r++) {
            const int c = r / KK, kh = (r / K) % K, kw = r % K;
            im2col_segment(col + (size_t)r * N + (size_t)q * OW,
                           inp + ((size_t)b * C + c) * H * W, H, W, kh, kw, stride, pad, OH, OW,
                           oh0, oh1);
        }
        q += oh1 - oh0;
    }
}

/* Plane (image b, channel c) of dinp += its share of dcol (C*K*K, N). */
static void col2im_plane(float *plane, const float *dcol, size_t N, int b, int c, int H, int W,
                         int K, int stride, int pad, int OH, int OW) {
    const size_t OHW = (size_t)OH * OW;
    for (int kh = 0; kh < K; kh++) {
        for (int kw = 0; kw < K; kw++) {
            const float *src = dcol + (size_t)((c * K + kh) * K + kw) * N + (size_t)b * OHW;
            int lo, hi;
            valid_range(W, OW, kw, stride, pad, &lo, &hi);
            for (int oh = 0; oh < OH; oh++) {
                const int ih = oh * stride - pad + kh;
                if (ih < 0 || ih >= H) continue;
                float *d = plane + (size_t)ih * W - pad + kw;
                const float *s = src + (size_t)oh * OW;
                if (stride == 1) {
#pragma omp simd
                    for (int ow = lo; ow < hi; ow++) d[ow] += s[ow];
                } else {
                    for (int ow = lo; ow < hi; ow++) d[ow * stride] += s[ow];
                }
            }
        }
    }
}

/* ------------------------------------------------------------------------------------------ */
/* GEMM over a range of output rows                                                            */

/* Rows [q0, q1) (q = image*GH + gh) of dst (nb, M, GH*GW) = A (M, Rk) · col (Rk, N) + bias, or
 * += A · col when acc. One GEMM per image part straight into dst when an image has at least as
 * many pixels as A has columns (re-packing A per call is then cheap); otherwise one GEMM over
 * the whole range into tmp (M, N) followed by a scatter. */
static void gemm_rows(float *dst, const float *A, const float *col, float *tmp, size_t N,
                      const float *bias, int acc, int M, int Rk, int GH, int GW, int q0, int q1) {
    const size_t G = (size_t)GH * GW;
    if (q1 <= q0) return;
    if ((size_t)Rk <= G) {
        for (int q = q0; q < q1;) {
            const int b = q / GH, gh = q % GH;
            const int rows = (q1 - q < GH - gh) ? q1 - q : GH - gh;
            const int n = rows * GW;
            float *o = dst + (size_t)b * M * G + (size_t)gh * GW;
            if (!acc && bias) {
                for (int m = 0; m < M; m++) {
                    float *d = o + (size_t)m * G;
                    const float bv = bias[m];
#pragma omp simd
                    for (int i = 0; i < n; i++) d[i] = bv;
                }
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, n, Rk, 1.0f, A, Rk,
                        col + (size_t)q * GW, (int)N, (acc || bias) ? 1.0f : 0.0f, o, (int)G);
            q += rows;
        }
        return;
    }
    const size_t c0 = (size_t)q0 * GW;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, (q1 - q0) * GW, Rk, 1.0f, A, Rk,
                col + c0, (int)N, 0.0f, tmp + c0, (int)N);
    for (int q = q0; q < q1; q++) {
        const int b = q / GH, gh = q % GH;
        for (int m = 0; m < M; m++) {
            const float *s = tmp + (size_t)m * N + (size_t)q * GW;
            float *d = dst + ((size_t)b * M + m) * G + (size_t)gh * GW;
            store_row(d, s, GW, acc, bias ? bias[m] : 0.0f);
        }
    }
}

/* Part t of T of [0, n) in whole blocks of 8 rows (the GEMM kernel's row block) where possible. */
static void split_rows(int n, int t, int T, int *lo, int *hi) {
    const int blocks = (n + 7) / 8;
    drl_threads_split(blocks, t, T, lo, hi);
    *lo = *lo * 8 < n ? *lo * 8 : n;
    *hi = *hi * 8 < n ? *hi * 8 : n;
}

/* Output channels [m0, m1) of one image: dst (M, G) = A (M, Rk) · col (Rk, G) + bias. */
static void gemm_channels(float *dst, const float *A, const float *col, const float *bias, int Rk,
                          int G, int m0, int m1) {
    if (m1 <= m0) return;
    if (bias) {
        for (int m = m0; m < m1; m++) {
            float *d = dst + (size_t)m * G;
            const float bv = bias[m];
#pragma omp simd
            for (int i = 0; i < G; i++) d[i] = bv;
        }
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m1 - m0, G, Rk, 1.0f,
                A + (size_t)m0 * Rk, Rk, col, G, bias ? 1.0f : 0.0f, dst + (size_t)m0 * G, G);
}

/* ------------------------------------------------------------------------------------------ */
/* General convolution                                                                        */

static void conv_forward(const conv_plan *p, float *out, const float *inp, const float *w,
                         const float *b, float *work) {
    const int C = p->C, OC = p->OC, R = p->R, OH = p->OH, OW = p->OW;
    const int T = drl_threads_team((double)p->B * p->OHW * OC * R, PAR_MIN_FLOPS);
    /* One image per chunk whose rows would give each thread fewer pixels than taps (small
     * images, batch 1): split the GEMM by output channels instead, so that each thread packs
     * only its share of the filters and multiplies them with the whole image. */
    const int by_channels = T > 1 && p->Bc == 1 && p->OHW / (size_t)T < (size_t)R && OC >= 8 * T;
#pragma omp parallel num_threads(T)
    {
        const int t = omp_get_thread_num(), nt = omp_get_num_threads();
        for (int b0 = 0; b0 < p->B; b0 += p->Bc) {
            const int nb = p->B - b0 < p->Bc ? p->B - b0 : p->Bc;
            const size_t N = (size_t)nb * p->OHW;
            float *col = work + p->wt_n, *tmp = col + (size_t)p->Bc * p->col_per;
            int q0, q1;
            drl_threads_split(nb * OH, t, nt, &q0, &q1);
            im2col_rows(col, N, inp + (size_t)b0 * C * p->HW, C, p->H, p->W, p->K, p->stride,
                        p->pad, OH, OW, q0, q1);
            if (by_channels) {
#pragma omp barrier
                int m0, m1;
                split_rows(OC, t, nt, &m0, &m1);
                gemm_channels(out + (size_t)b0 * OC * p->OHW, w, col, b, R, (int)p->OHW, m0, m1);
            } else {
                gemm_rows(out + (size_t)b0 * OC * p->OHW, w, col, tmp, N, b, 0, OC, R, OH, OW, q0,
                          q1);
            }
#pragma omp barrier
        }
    }
}

/* dinp planes (b, c), c in [c0, c1), of a chunk += col2im(dcol rows of those channels), with
 * dcol = w^T · dmat computed a block of images at a time into col, folded back while in cache. */
static void dinp_col2im(const conv_plan *p, float *dinp, float *col, const float *dmat, size_t N,
                        const float *w, int nb, int c0, int c1) {
    const int K = p->K, KK = K * K, R = p->R;
    const size_t OHW = p->OHW;
    if (c1 <= c0) return;
    int blk = (int)(((size_t)R + OHW - 1) / OHW);
    if (blk < 1) blk = 1;
    for (int b = 0; b < nb; b += blk) {
        const int n = nb - b < blk ? nb - b : blk;
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (c1 - c0) * KK, n * (int)OHW, p->OC,
                    1.0f, w + (size_t)c0 * KK, R, dmat + (size_t)b * OHW, (int)N, 0.0f,
                    col + (size_t)c0 * KK * N + (size_t)b * OHW, (int)N);
        for (int i = b; i < b + n; i++)
            for (int c = c0; c < c1; c++)
                col2im_plane(dinp + ((size_t)i * p->C + c) * p->HW, col, N, i, c, p->H, p->W, K,
                             p->stride, p->pad, p->OH, p->OW);
    }
}

/* wt (C, OC*K*K): wt[c][(oc*K + kh)*K + kw] = w[oc][c][K-1-kh][K-1-kw], channels [c0, c1). */
static void flip_filters(float *wt, const float *w, int C, int OC, int K, int c0, int c1) {
    const int KK = K * K;
    for (int c = c0; c < c1; c++)
        for (int oc = 0; oc < OC; oc++)
            for (int k = 0; k < KK; k++)
                wt[((size_t)c * OC + oc) * KK + k] = w[((size_t)oc * C + c) * KK + (KK - 1 - k)];
}

static void conv_backward(const conv_plan *p, float *dinp, float *dw, const float *dout,
                          const float *inp, const float *w, float *work) {
    const int C = p->C, OC = p->OC, R = p->R, K = p->K, OH = p->OH, OW = p->OW;
    const size_t OHW = p->OHW;
    const int T = drl_threads_team(2.0 * p->B * OHW * OC * R, PAR_MIN_FLOPS);
    float *wt = work, *col = work + p->wt_n, *mat = col + (size_t)p->Bc * p->col_per;
#pragma omp parallel num_threads(T)
    {
        const int t = omp_get_thread_num(), nt = omp_get_num_threads();
        int q0, q1, r0, r1, c0, c1;
        drl_threads_split(R, t, nt, &r0, &r1);
        drl_threads_split(C, t, nt, &c0, &c1);
        if (dinp && p->transposed) {
            flip_filters(wt, w, C, OC, K, c0, c1);
#pragma omp barrier
        }
        for (int b0 = 0; b0 < p->B; b0 += p->Bc) {
            const int nb = p->B - b0 < p->Bc ? p->B - b0 : p->Bc;
            const size_t N = (size_t)nb * OHW;
            const float *g = dout + (size_t)b0 * OC * OHW;
            /* dmat (OC, N) and col (R, N) for this thread's output rows */
            drl_threads_split(nb * OH, t, nt, &q0, &q1);
            for (int oc = 0; oc < OC; oc++) {
                for (int q = q0; q < q1; q++) {
                    const float *s = g + ((size_t)(q / OH) * OC + oc) * OHW + (size_t)(q % OH) * OW;
                    float *d = mat + (size_t)oc * N + (size_t)q * OW;
#pragma omp simd
                    for (int i = 0; i < OW; i++) d[i] = s[i];
                }
            }
            if (dw)
                im2col_rows(col, N, inp + (size_t)b0 * C * p->HW, C, p->H, p->W, K, p->stride,
                            p->pad, OH, OW, q0, q1);
#pragma omp barrier
            if (dw && r1 > r0)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, OC, r1 - r0, (int)N, 1.0f, mat,
                            (int)N, col + (size_t)r0 * N, (int)N, 1.0f, dw + r0, R);
            if (dinp) {
#pragma omp barrier
                float *di = dinp + (size_t)b0 * C * p->HW;
                if (p->transposed) {
                    const size_t N2 = (size_t)nb * p->HW;
                    drl_threads_split(nb * p->H, t, nt, &q0, &q1);
                    im2col_rows(col, N2, g, OC, OH, OW, K, 1, K - 1 - p->pad, p->H, p->W, q0, q1);
                    gemm_rows(di, wt, col, mat, N2, NULL, 1, C, OC * K * K, p->H, p->W, q0, q1);
                } else {
                    dinp_col2im(p, di, col, mat, N, w, nb, c0, c1);
                }
            }
#pragma omp barrier
        }
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Same-size stride-1 convolution (K odd, pad = (K-1)/2) as K*K shifted GEMMs                 */
/*
 * A chunk of nb images is copied once into a padded layout X (C, L): each image is a plane of
 * Hs = H + pad rows of Wp = W + pad floats, pixel (h, w) at (pad + h)*Wp + pad + w; the first
 * pad rows and the first pad floats of every row are zeros, shared as the bottom / right
 * padding of the previous row / image; pad zero rows and 2*pad zeros end the chunk. Output
 * pixel (b, oh, ow) sits at grid column j = b*S + oh*Wp + ow (S = Hs*Wp), and tap (kh, kw)
 * reads X at j + kh*Wp + kw, so over any range of columns tap (kh, kw) is the matrix
 * X + kh*Wp + kw with leading dimension L, and
 *   out grid (OC, cols) = sum over taps of w_tap (OC, C) · X shifted    (K*K GEMMs, no im2col)
 * Columns with ow >= W or oh >= H are garbage and are dropped when the grid is copied out.
 * Backward packs dout into the same layout (Gp), whose padding zeros also cover the garbage
 * columns:  dw_tap (OC, C) += Gp · (X shifted)^T,  and dinp is the same forward product with
 * the flipped, transposed taps over Gp. Threads split the grid rows (out, dinp) or channels
 * (packing, dw); each output element is written by one thread.
 */

/* X rows [c0, c1) (ld L) from channels of nb images of src (nb, Cs, H, W). */
static void pack_padded(float *X, size_t L, const float *src, int nb, int Cs, int H, int W,
                        int pad, int c0, int c1) {
    const int Wp = W + pad;
    const size_t HW = (size_t)H * W;
    for (int c = c0; c < c1; c++) {
        float *d = X + (size_t)c * L;
        for (int b = 0; b < nb; b++) {
            const float *s = src + ((size_t)b * Cs + c) * HW;
            fill_zero(d, (size_t)pad * Wp);
            d += (size_t)pad * Wp;
            for (int h = 0; h < H; h++, d += Wp, s += W) {
                for (int i = 0; i < pad; i++) d[i] = 0.0f;
                copy(d + pad, s, (size_t)W);
            }
        }
        fill_zero(d, (size_t)pad * Wp + 2 * (size_t)pad);
    }
}

/* Columns [j0, j0 + n) of dst (M, ldd) = sum over taps t of A_t · (X + off_t), A_t the M rows
 * from m0 of tap t of taps (KK, OC, C): (OC, C) when !trans; transposed (C, OC), tap KK-1-t,
 * when trans (the flipped filters of dinp). */
static void shifted_gemms(float *dst, int ldd, const float *taps, int trans, int M, int Kd,
                          int m0, const float *X, size_t L, const conv_plan *p, size_t j0, int n) {
    const int K = p->K, KK = K * K;
    const size_t tap_n = (size_t)p->OC * p->C;
    for (int t = 0; t < KK; t++) {
        const size_t off = (size_t)(t / K) * p->Wp + (size_t)(t % K);
        const float *B = X + off + j0;
        if (!trans)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, n, Kd, 1.0f,
                        taps + t * tap_n + (size_t)m0 * Kd, Kd, B, (int)L, t ? 1.0f : 0.0f,
                        dst + j0, ldd);
        else
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, M, n, Kd, 1.0f,
                        taps + (KK - 1 - t) * tap_n + m0, p->C, B, (int)L,
                        t ? 1.0f : 0.0f, dst + j0, ldd);
    }
}

/* taps (KK, OC, C) from w (OC, C, K, K), output channels [o0, o1). */
static void reorder_taps(float *taps, const float *w, int OC, int C, int KK, int o0, int o1) {
    for (int t = 0; t < KK; t++)
        for (int oc = o0; oc < o1; oc++)
            for (int c = 0; c < C; c++)
                taps[((size_t)t * OC + oc) * C + c] = w[((size_t)oc * C + c) * KK + t];
}

/* Grid rows [q0, q1) (q = image*Hs + row) of grid (M, ldg) into dst (nb, M, H, W), channels
 * [m0, m1): dst = grid + bias, or dst += grid when acc. */
static void unpack_rows(float *dst, const float *grid, size_t ldg, const float *bias, int acc,
                        int M, int m0, int m1, const conv_plan *p, int q0, int q1) {
    const int H = p->H, W = p->W;
    for (int q = q0; q < q1; q++) {
        const int b = q / p->Hs, h = q % p->Hs;
        if (h >= H) continue;
        for (int m = m0; m < m1; m++) {
            const float *s = grid + (size_t)m * ldg + (size_t)q * p->Wp;
            float *d = dst + ((size_t)b * M + m) * p->HW + (size_t)h * W;
            store_row(d, s, W, acc, bias ? bias[m] : 0.0f);
        }
    }
}

/* Grid rows [q0, q1): the K*K products in blocks of rows, each copied out while in cache. */
static void shifted_rows(float *dst, float *grid, size_t ldg, const float *taps, int trans, int M,
                         int Kd, const float *X, size_t L, const float *bias, int acc,
                         const conv_plan *p, int q0, int q1) {
    int rb = DRL_CONV_SHIFT_COLS / p->Wp;
    if (rb < 1) rb = 1;
    for (int q = q0; q < q1; q += rb) {
        const int qe = q1 - q < rb ? q1 : q + rb;
        shifted_gemms(grid, (int)ldg, taps, trans, M, Kd, 0, X, L, p, (size_t)q * p->Wp,
                      (qe - q) * p->Wp);
        unpack_rows(dst, grid, ldg, bias, acc, M, 0, M, p, q, qe);
    }
}

static void shifted_forward(const conv_plan *p, float *out, const float *inp, const float *w,
                            const float *bias, float *work) {
    const int C = p->C, OC = p->OC, KK = p->K * p->K;
    float *taps = work, *X = work + 2 * p->taps_n;
    float *grid = X + padded_len(p->Bc, p->S, p->Wp, p->pad) * ((size_t)C + OC);
    const size_t ldg = (size_t)p->Bc * p->S;
    const int T = drl_threads_team((double)p->B * p->OHW * OC * p->R, PAR_MIN_FLOPS);
#pragma omp parallel num_threads(T)
    {
        const int t = omp_get_thread_num(), nt = omp_get_num_threads();
        int o0, o1, c0, c1, q0, q1;
        drl_threads_split(OC, t, nt, &o0, &o1);
        drl_threads_split(C, t, nt, &c0, &c1);
        reorder_taps(taps, w, OC, C, KK, o0, o1);
        for (int b0 = 0; b0 < p->B; b0 += p->Bc) {
            const int nb = p->B - b0 < p->Bc ? p->B - b0 : p->Bc;
            const size_t L = padded_len(nb, p->S, p->Wp, p->pad);
            const int Q = (nb - 1) * p->Hs + p->H;
            float *o = out + (size_t)b0 * OC * p->HW;
            pack_padded(X, L, inp + (size_t)b0 * C * p->HW, nb, C, p->H, p->W, p->pad, c0, c1);
#pragma omp barrier
            /* one small image: split the output channels rather than its few rows */
            if (nt > 1 && Q * p->Wp / nt < p->R && OC >= 8 * nt) {
                int m0, m1;
                split_rows(OC, t, nt, &m0, &m1);
                if (m1 > m0) {
                    shifted_gemms(grid + (size_t)m0 * ldg, (int)ldg, taps, 0, m1 - m0, C, m0, X, L,
                                  p, 0, Q * p->Wp);
                    unpack_rows(o, grid, ldg, bias, 0, OC, m0, m1, p, 0, Q);
                }
            } else {
                drl_threads_split(Q, t, nt, &q0, &q1);
                shifted_rows(o, grid, ldg, taps, 0, OC, C, X, L, bias, 0, p, q0, q1);
            }
#pragma omp barrier
        }
    }
}

static void shifted_backward(const conv_plan *p, float *dinp, float *dw, const float *dout,
                             const float *inp, const float *w, float *work) {
    const int C = p->C, OC = p->OC, KK = p->K * p->K;
    float *taps = work, *dtaps = work + p->taps_n, *X = work + 2 * p->taps_n;
    const size_t Lmax = padded_len(p->Bc, p->S, p->Wp, p->pad);
    float *Gp = X + Lmax * C, *grid = Gp + Lmax * OC;
    const size_t ldg = (size_t)p->Bc * p->S, tap_n = p->taps_n / KK;
    const int T = drl_threads_team(2.0 * p->B * p->OHW * OC * p->R, PAR_MIN_FLOPS);
#pragma omp parallel num_threads(T)
    {
        const int t = omp_get_thread_num(), nt = omp_get_num_threads();
        int o0, o1, c0, c1, q0, q1;
        drl_threads_split(OC, t, nt, &o0, &o1);
        drl_threads_split(C, t, nt, &c0, &c1);
        if (dinp) reorder_taps(taps, w, OC, C, KK, o0, o1);
        for (int b0 = 0; b0 < p->B; b0 += p->Bc) {
            const int nb = p->B - b0 < p->Bc ? p->B - b0 : p->Bc;
            const size_t L = padded_len(nb, p->S, p->Wp, p->pad);
            const int Q = (nb - 1) * p->Hs + p->H;
            const size_t gofs = (size_t)p->pad * p->Wp + p->pad; /* grid column 0 in Gp */
            pack_padded(X, L, inp + (size_t)b0 * C * p->HW, nb, C, p->H, p->W, p->pad, c0, c1);
            pack_padded(Gp, L, dout + (size_t)b0 * OC * p->HW, nb, OC, p->H, p->W, p->pad, o0,
                        o1);
#pragma omp barrier
            /* dw taps, this thread's input channels: (OC, c1-c0) (+)= Gp · X_tap^T */
            for (int k = 0; k < KK && c1 > c0; k++) {
                const size_t off = (size_t)(k / p->K) * p->Wp + (size_t)(k % p->K);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, OC, c1 - c0, Q * p->Wp, 1.0f,
                            Gp + gofs, (int)L, X + (size_t)c0 * L + off, (int)L,
                            b0 ? 1.0f : 0.0f, dtaps + k * tap_n + c0, C);
            }
            if (dinp) {
                drl_threads_split(Q, t, nt, &q0, &q1);
                shifted_rows(dinp + (size_t)b0 * C * p->HW, grid, ldg, taps, 1, C, OC, Gp, L,
                             NULL, 1, p, q0, q1);
            }
#pragma omp barrier
        }
        /* dw (OC, C, K, K) += dtaps (KK, OC, C), this thread's input channels */
        for (int oc = 0; oc < OC; oc++)
            for (int c = c0; c < c1; c++)
                for (int k = 0; k < KK; k++)
                    dw[((size_t)oc * C + c) * KK + k] += dtaps[((size_t)k * OC + oc) * C + c];
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Winograd F(4×4, 3×3): 3×3 stride-1 pad-1 convolutions of 16+ channels (out, dinp, dw)      */
/*
 * Every 4×4 output tile is computed from the 6×6 input patch around it (Lavin & Gray 2016),
 * with the interpolation points 0, ±1, ±2, ∞:
 *   Y = Aᵀ [ Σ_c (G g_c Gᵀ) ⊙ (Bᵀ d_c B) ] A
 *   Bᵀ = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1]
 *   G  = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1]
 *   Aᵀ = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]
 * so for each of the 36 positions ξ of the 6×6 transformed tile one GEMM
 *   M_ξ (OC, tiles) = U_ξ (OC, C) · V_ξ (C, tiles)
 * does the channel reduction: 36·C·OC multiplies per 16 output pixels instead of 144·C·OC
 * (4× fewer; 3.06× on 7×7 and 14×14 images, whose tiles cover 8×8 and 16×16). Tiles are
 * processed in blocks of whole tile rows across images (the block size depends on the shapes
 * only); each block is done start to end by one thread with its own scratch slot, so out and
 * dinp do not depend on the thread count (dw: see wino_dw), except with fewer blocks than
 * threads, when the team shares each block (see wino_forward). The transforms are vector loops
 * over all the tiles of a block: a tile's 36 inputs are first gathered into 36 arrays at the
 * tile's index (rows of up to 32 padded pixels by AVX-512 permutes, a scalar loop otherwise),
 * and the outputs are written to 16 pixel-phase arrays, then interleaved into the rows (by
 * permutes too). Rounding: outputs within ~7e-6 of the largest output of the direct
 * convolution computed in double (im2col + GEMM: ~5e-7); the transforms multiply by up to 8.
 * Backward: the input gradient of such a convolution is the same kind of convolution of dout
 * with the flipped, transposed filters (C outputs from OC inputs), so it takes this path too
 * (accumulating into dinp). The filter gradient is the transpose of the forward products: 36
 * GEMMs dU_ξ = Σ_tiles D_ξ · V_ξᵀ reducing over the tiles, D the transformed dout tiles (see
 * wino_dw), then dw += Gᵀ dU G.
 */

#ifndef DRL_CONV_WINO_DW_FLOATS
#define DRL_CONV_WINO_DW_FLOATS ((size_t)1 << 18) /* the same for the filter gradient's blocks */
#endif
#ifndef DRL_CONV_WINO_FLOATS
#define DRL_CONV_WINO_FLOATS ((size_t)1 << 18) /* target floats of one forward block's V and M */
#endif
#define WINO_SLOTS 8 /* scratch slots: at most this many threads share the op */
#define WINO_DW_SLOTS 4 /* the filter gradient: at most this many threads (see wino_dw) */

/* Small batches keep the direct path: the per-call filter transform would not be amortised
 * (with filters prepared once, drl_conv2d_forward_prepared takes Winograd at any batch). */
static int use_winograd(int B, int C, int OC, int K, int stride, int pad) {
    return K == 3 && stride == 1 && pad == 1 && C >= 16 && OC >= 16 && B >= 16;
}

/* Tiling of a batch, from the shapes alone: TH x TW tiles per image, blocks of rb tile rows
 * (at most NT tiles), nblk blocks, one scratch slot of `slot` floats per thread (a team sharing
 * each block: slot 0's V and M, and a transform scratch per thread; see wino_forward). */
typedef struct {
    int TH, TW, rows, rb, nblk, NT;
    size_t slot, qf; /* qf: floats of one transform scratch (part of a slot) */
} wino_plan;

/* Transform scratch for a block of NT tiles: the 36 gathered input arrays (the output's and
 * dout's 16 phase arrays fit inside) and one zero-padded row of 4*TW + 2. */
static size_t wino_q_floats(int NT, int TW) { return 36 * (size_t)NT + 4 * (size_t)TW + 2; }

static wino_plan wino_plan_make(int B, int C, int H, int W, int OC, size_t budget) {
    wino_plan q;
    q.TH = (H + 3) / 4, q.TW = (W + 3) / 4, q.rows = B * q.TH;
    const size_t r = budget / (36 * (size_t)(C + OC) * (size_t)q.TW);
    q.rb = r < 1 ? 1 : (int)r;
    q.nblk = (q.rows + q.rb - 1) / q.rb;
    q.NT = (q.rb < q.rows ? q.rb : q.rows) * q.TW;
    q.qf = wino_q_floats(q.NT, q.TW);
    q.slot = 36 * (size_t)(C + OC) * (size_t)q.NT + q.qf;
    return q;
}

/* U (36, OC, C) + one (V (36, C, NT), M (36, OC, NT), transform scratch) slot per thread that
 * can run, + transform scratch per thread for batches of fewer blocks than threads. */
static size_t wino_work(int B, int C, int H, int W, int OC) {
    const wino_plan q = wino_plan_make(B, C, H, W, OC, DRL_CONV_WINO_FLOATS);
    const size_t slots = q.nblk < WINO_SLOTS ? (size_t)q.nblk : WINO_SLOTS;
    return 36 * (size_t)OC * C + slots * q.slot + WINO_SLOTS * q.qf;
}

/* The filter gradient: per thread slot (at most WINO_DW_SLOTS), dU (36, OC, C) and a slot of the
 * forward's layout (V, D in place of M, transform scratch) for blocks of the larger DW budget. */
static size_t wino_dw_work(int B, int C, int H, int W, int OC) {
    const wino_plan q = wino_plan_make(B, C, H, W, OC, DRL_CONV_WINO_DW_FLOATS);
    const size_t slots = q.nblk < WINO_DW_SLOTS ? (size_t)q.nblk : WINO_DW_SLOTS;
    return slots * (36 * (size_t)OC * C + q.slot);
}

/* U_ξ[oc][c] = (G g Gᵀ)_ξ, output channels [o0, o1). The filters of an output channel are
 * first transposed into tap arrays g[k][c], so that the transform is one vector loop over the
 * input channels writing the rows U_ξ[oc][·] (the per-call transform of a training step: a
 * loop per filter with strided writes took 8% of the step). */
static void wino_filters(float *U, const float *w, int OC, int C, int o0, int o1) {
    enum { CB = 64 };
    float g[9][CB];
    for (int oc = o0; oc < o1; oc++) {
        for (int cb = 0; cb < C; cb += CB) {
            const int nc = C - cb < CB ? C - cb : CB;
            const float *wo = w + ((size_t)oc * C + cb) * 9;
            for (int c = 0; c < nc; c++)
                for (int k = 0; k < 9; k++) g[k][c] = wo[(size_t)c * 9 + k];
            float *u = U + (size_t)oc * C + cb;
            const size_t xs = (size_t)OC * C; /* between ξ */
#pragma omp simd
            for (int c = 0; c < nc; c++) {
                float t[6][3]; /* G g: rows */
#pragma GCC unroll 3
                for (int k = 0; k < 3; k++) {
                    const float a = g[k][c], b = g[3 + k][c], d = g[6 + k][c];
                    t[0][k] = 0.25f * a;
                    t[1][k] = -(a + b + d) * (1.0f / 6.0f);
                    t[2][k] = -(a - b + d) * (1.0f / 6.0f);
                    t[3][k] = a * (1.0f / 24.0f) + b * (1.0f / 12.0f) + d * (1.0f / 6.0f);
                    t[4][k] = a * (1.0f / 24.0f) - b * (1.0f / 12.0f) + d * (1.0f / 6.0f);
                    t[5][k] = d;
                }
#pragma GCC unroll 6
                for (int i = 0; i < 6; i++) { /* (G g) Gᵀ: columns */
                    const float a = t[i][0], b = t[i][1], d = t[i][2];
                    u[(size_t)(6 * i + 0) * xs + c] = 0.25f * a;
                    u[(size_t)(6 * i + 1) * xs + c] = -(a + b + d) * (1.0f / 6.0f);
                    u[(size_t)(6 * i + 2) * xs + c] = -(a - b + d) * (1.0f / 6.0f);
                    u[(size_t)(6 * i + 3) * xs + c] =
                        a * (1.0f / 24.0f) + b * (1.0f / 12.0f) + d * (1.0f / 6.0f);
                    u[(size_t)(6 * i + 4) * xs + c] =
                        a * (1.0f / 24.0f) - b * (1.0f / 12.0f) + d * (1.0f / 6.0f);
                    u[(size_t)(6 * i + 5) * xs + c] = d;
                }
            }
        }
    }
}

/* Gathers a row for the tile transforms: dst[k*ds + tx] = r[4*tx + k] for k < nk, tx < TW, where
 * r is the row src (W floats) after `lead` zeros, zero-extended. Rows of up to 32 floats
 * (4*TW + 2 <= 32) take two masked AVX-512 loads and one permute per k; others a scalar loop
 * through `row` (4*TW + 2 floats of scratch). */
static inline void gather_phases(float *dst, size_t ds, const float *src, int W, int lead, int nk,
                                 int TW, float *row) {
    const int L = 4 * TW + 2;
#if defined(__AVX512F__)
    if (L <= 32) {
        static const int32_t IDX[6][16] = {
            {0, 4, 8, 12, 16, 20, 24, 28, 28, 28, 28, 28, 28, 28, 28, 28},
            {1, 5, 9, 13, 17, 21, 25, 29, 29, 29, 29, 29, 29, 29, 29, 29},
            {2, 6, 10, 14, 18, 22, 26, 30, 30, 30, 30, 30, 30, 30, 30, 30},
            {3, 7, 11, 15, 19, 23, 27, 31, 31, 31, 31, 31, 31, 31, 31, 31},
            {4, 8, 12, 16, 20, 24, 28, 31, 31, 31, 31, 31, 31, 31, 31, 31},
            {5, 9, 13, 17, 21, 25, 29, 31, 31, 31, 31, 31, 31, 31, 31, 31}};
        const int e = lead + W; /* lanes [lead, e) of the pair hold src */
        const __mmask16 m0 = (__mmask16)(((e >= 16 ? 0xffffu : (1u << e) - 1)) & ~((1u << lead) - 1));
        const __mmask16 m1 = (__mmask16)(e <= 16 ? 0 : (e >= 32 ? 0xffffu : (1u << (e - 16)) - 1));
        const __mmask16 mt = (__mmask16)((1u << TW) - 1);
        const __m512 lo = _mm512_maskz_loadu_ps(m0, src - lead);
        const __m512 hi = _mm512_maskz_loadu_ps(m1, src - lead + 16);
        for (int k = 0; k < nk; k++)
            _mm512_mask_storeu_ps(dst + (size_t)k * ds, mt,
                                  _mm512_permutex2var_ps(lo, _mm512_loadu_si512(IDX[k]), hi));
        return;
    }
#endif
    for (int x = 0; x < lead; x++) row[x] = 0.0f;
    copy(row + lead, src, (size_t)W);
    for (int x = lead + W; x < L; x++) row[x] = 0.0f;
    for (int k = 0; k < nk; k++)
        for (int tx = 0; tx < TW; tx++) dst[(size_t)k * ds + tx] = row[4 * tx + k];
}

/* V (36, C, n) of a block, channels [c0, c1): the input transforms of the n = (r1 - r0)*TW
 * tiles of tile rows [r0, r1) (row r = image*TH + ty) of inp (B, C, H, W). */
static void wino_block_input(float *V, const float *inp, const wino_plan *q, int C, int c0,
                              int c1, int H, int W, int r0, int r1, float *qb) {
    const int TH = q->TH, TW = q->TW;
    const size_t n = (size_t)(r1 - r0) * TW, HW = (size_t)H * W, cs = (size_t)C * n;
    float *a = qb, *row = qb + 36 * n;
    for (int c = c0; c < c1; c++) {
        for (int r = r0; r < r1; r++) {
            const float *plane = inp + ((size_t)(r / TH) * C + c) * HW;
            const int ty = r % TH;
            for (int i = 0; i < 6; i++) {
                float *ai = a + 6 * (size_t)i * n + (size_t)(r - r0) * TW;
                const int h = 4 * ty + i - 1;
                if (h < 0 || h >= H) {
                    for (int k = 0; k < 6; k++) fill_zero(ai + (size_t)k * n, (size_t)TW);
                    continue;
                }
                gather_phases(ai, n, plane + (size_t)h * W, W, 1, 6, TW, row);
            }
        }
        float *v = V + (size_t)c * n;
#pragma omp simd
        for (size_t j = 0; j < n; j++) {
            float t[6][6]; /* Bᵀ d: rows */
#pragma GCC unroll 6
            for (int k = 0; k < 6; k++) {
                const float d0 = a[(size_t)k * n + j], d1 = a[(size_t)(6 + k) * n + j],
                            d2 = a[(size_t)(12 + k) * n + j], d3 = a[(size_t)(18 + k) * n + j],
                            d4 = a[(size_t)(24 + k) * n + j], d5 = a[(size_t)(30 + k) * n + j];
                t[0][k] = 4.0f * d0 - 5.0f * d2 + d4;
                t[1][k] = d3 + d4 - 4.0f * (d1 + d2);
                t[2][k] = d4 - d3 + 4.0f * (d1 - d2);
                t[3][k] = d4 - d2 + 2.0f * (d3 - d1);
                t[4][k] = d4 - d2 + 2.0f * (d1 - d3);
                t[5][k] = 4.0f * d1 - 5.0f * d3 + d5;
            }
#pragma GCC unroll 6
            for (int i = 0; i < 6; i++) { /* (Bᵀ d) B: columns */
                const float e0 = t[i][0], e1 = t[i][1], e2 = t[i][2], e3 = t[i][3], e4 = t[i][4],
                            e5 = t[i][5];
                v[(size_t)(6 * i + 0) * cs + j] = 4.0f * e0 - 5.0f * e2 + e4;
                v[(size_t)(6 * i + 1) * cs + j] = e3 + e4 - 4.0f * (e1 + e2);
                v[(size_t)(6 * i + 2) * cs + j] = e4 - e3 + 4.0f * (e1 - e2);
                v[(size_t)(6 * i + 3) * cs + j] = e4 - e2 + 2.0f * (e3 - e1);
                v[(size_t)(6 * i + 4) * cs + j] = e4 - e2 + 2.0f * (e1 - e3);
                v[(size_t)(6 * i + 5) * cs + j] = 4.0f * e1 - 5.0f * e3 + e5;
            }
        }
    }
}

/* Output channels [o0, o1) of a block: M_ξ = U_ξ · V_ξ, then Y = Aᵀ m A + bias into out
 * (acc: added). */
static void wino_block_output(float *out, float *M, const float *U, const float *V,
                               const float *bias, const wino_plan *q, int C, int H, int W, int OC,
                               int o0, int o1, int r0, int r1, int acc, float *qb) {
    const int TH = q->TH, TW = q->TW;
    const size_t n = (size_t)(r1 - r0) * TW, HW = (size_t)H * W, ms = (size_t)OC * n;
    for (int xi = 0; xi < 36; xi++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, o1 - o0, (int)n, C, 1.0f,
                    U + ((size_t)xi * OC + o0) * C, C, V + (size_t)xi * C * n, (int)n, 0.0f,
                    M + ((size_t)xi * OC + o0) * n, (int)n);
    float *y = qb;
#if defined(__AVX512F__)
    /* Rows of up to 32 pixels (TW <= 8): the four phases interleaved by three permutes. */
    const int vec = TW <= 8;
    const __mmask16 mt = (__mmask16)((1u << (TW < 16 ? TW : 16)) - 1);
    const __mmask16 w0 = (__mmask16)(W >= 16 ? 0xffff : (1u << W) - 1);
    const __mmask16 w1 = (__mmask16)(W <= 16 ? 0 : (W >= 32 ? 0xffff : (1u << (W - 16)) - 1));
    int pi[16], qlo[16], qhi[16];
    for (int l = 0; l < 16; l++) {
        pi[l] = (l & 1) ? 16 + (l >> 1) : (l >> 1); /* pair[2tx + c] = y_c[tx], c = 0, 1 */
        const int xl = l, xh = l + 16;
        qlo[l] = (xl & 3) < 2 ? 2 * (xl >> 2) + (xl & 3) : 16 + 2 * (xl >> 2) + (xl & 3) - 2;
        qhi[l] = (xh & 3) < 2 ? 2 * (xh >> 2) + (xh & 3) : 16 + 2 * (xh >> 2) + (xh & 3) - 2;
    }
    const __m512i ipair = _mm512_loadu_si512(pi), iqlo = _mm512_loadu_si512(qlo),
                  iqhi = _mm512_loadu_si512(qhi);
#endif
    for (int oc = o0; oc < o1; oc++) {
        const float *mo = M + (size_t)oc * n;
        const float bo = bias ? bias[oc] : 0.0f;
#pragma omp simd
        for (size_t j = 0; j < n; j++) {
            float s[4][6]; /* Aᵀ m: rows */
#pragma GCC unroll 6
            for (int k = 0; k < 6; k++) {
                const float m0 = mo[(size_t)k * ms + j], m1 = mo[(size_t)(6 + k) * ms + j],
                            m2 = mo[(size_t)(12 + k) * ms + j], m3 = mo[(size_t)(18 + k) * ms + j],
                            m4 = mo[(size_t)(24 + k) * ms + j], m5 = mo[(size_t)(30 + k) * ms + j];
                s[0][k] = m0 + m1 + m2 + m3 + m4;
                s[1][k] = m1 - m2 + 2.0f * (m3 - m4);
                s[2][k] = m1 + m2 + 4.0f * (m3 + m4);
                s[3][k] = m1 - m2 + 8.0f * (m3 - m4) + m5;
            }
#pragma GCC unroll 4
            for (int r = 0; r < 4; r++) { /* (Aᵀ m) A: columns */
                const float e0 = s[r][0], e1 = s[r][1], e2 = s[r][2], e3 = s[r][3], e4 = s[r][4],
                            e5 = s[r][5];
                y[(size_t)(4 * r + 0) * n + j] = e0 + e1 + e2 + e3 + e4 + bo;
                y[(size_t)(4 * r + 1) * n + j] = e1 - e2 + 2.0f * (e3 - e4) + bo;
                y[(size_t)(4 * r + 2) * n + j] = e1 + e2 + 4.0f * (e3 + e4) + bo;
                y[(size_t)(4 * r + 3) * n + j] = e1 - e2 + 8.0f * (e3 - e4) + e5 + bo;
            }
        }
        for (int r = r0; r < r1; r++) {
            float *plane = out + ((size_t)(r / TH) * OC + oc) * HW;
            const int ty = r % TH;
            const size_t j0 = (size_t)(r - r0) * TW;
            for (int rr = 0; rr < 4 && 4 * ty + rr < H; rr++) {
                float *o = plane + (size_t)(4 * ty + rr) * W;
                const float *y0 = y + (size_t)(4 * rr) * n + j0, *y1 = y0 + n, *y2 = y1 + n,
                            *y3 = y2 + n;
#if defined(__AVX512F__)
                if (vec) {
                    const __m512 p01 = _mm512_permutex2var_ps(_mm512_maskz_loadu_ps(mt, y0), ipair,
                                                              _mm512_maskz_loadu_ps(mt, y1));
                    const __m512 p23 = _mm512_permutex2var_ps(_mm512_maskz_loadu_ps(mt, y2), ipair,
                                                              _mm512_maskz_loadu_ps(mt, y3));
                    __m512 lo = _mm512_permutex2var_ps(p01, iqlo, p23);
                    __m512 hi = _mm512_permutex2var_ps(p01, iqhi, p23);
                    if (acc) {
                        lo = _mm512_add_ps(lo, _mm512_maskz_loadu_ps(w0, o));
                        hi = _mm512_add_ps(hi, _mm512_maskz_loadu_ps(w1, o + 16));
                    }
                    _mm512_mask_storeu_ps(o, w0, lo);
                    _mm512_mask_storeu_ps(o + 16, w1, hi);
                    continue;
                }
#endif
                if ((W & 3) == 0) {
                    if (acc) {
                        for (int tx = 0; tx < TW; tx++) {
                            o[4 * tx] += y0[tx];
                            o[4 * tx + 1] += y1[tx];
                            o[4 * tx + 2] += y2[tx];
                            o[4 * tx + 3] += y3[tx];
                        }
                    } else {
                        for (int tx = 0; tx < TW; tx++) {
                            o[4 * tx] = y0[tx];
                            o[4 * tx + 1] = y1[tx];
                            o[4 * tx + 2] = y2[tx];
                            o[4 * tx + 3] = y3[tx];
                        }
                    }
                } else {
                    const float *yc[4] = {y0, y1, y2, y3};
                    if (acc)
                        for (int x = 0; x < W; x++) o[x] += yc[x & 3][x >> 2];
                    else
                        for (int x = 0; x < W; x++) o[x] = yc[x & 3][x >> 2];
                }
            }
        }
    }
}

/* out (B, OC, H, W) = (acc ? out + : ) conv3x3(inp (B, C, H, W), w (OC, C, 3, 3)) + bias, with
 * the filters transformed here into work, or given already transformed in Upre (36, OC, C).
 * With at least as many tile blocks as threads each block is one thread's; with fewer (small
 * batches) the team does the blocks one after another, splitting each block's input transforms
 * over channels and its products and output transforms over output channels. */
static void wino_forward(float *out, const float *inp, const float *w, const float *Upre,
                         const float *bias, float *work, int B, int C, int H, int W, int OC,
                         int acc) {
    const wino_plan q = wino_plan_make(B, C, H, W, OC, DRL_CONV_WINO_FLOATS);
    const int rb = q.rb, rows = q.rows, nblk = q.nblk, NT = q.NT;
    const size_t slot = q.slot, nslots = nblk < WINO_SLOTS ? (size_t)nblk : WINO_SLOTS;
    float *U = work, *slots = work + 36 * (size_t)OC * C;
    const float *Uf = Upre ? Upre : U;
    int T = drl_threads_team(9.0 * B * (size_t)H * W * OC * C, PAR_MIN_FLOPS);
    if (T > WINO_SLOTS) T = WINO_SLOTS;
    if (nblk < T) { /* sharing a block: at least 16 channels of each side per thread */
        const int mc = C < OC ? C : OC, cap = mc / 16 > nblk ? mc / 16 : nblk;
        if (T > cap) T = cap;
    }
    const int shared = nblk < T;
#pragma omp parallel num_threads(T)
    {
        const int t = omp_get_thread_num(), nt = omp_get_num_threads();
        int o0, o1;
        drl_threads_split(OC, t, nt, &o0, &o1);
        if (!Upre) {
            wino_filters(U, w, OC, C, o0, o1);
#pragma omp barrier
        }
        if (!shared) {
            float *V = slots + (size_t)t * slot, *M = V + 36 * (size_t)C * NT;
            float *qb = M + 36 * (size_t)OC * NT;
            for (int blk = t; blk < nblk; blk += nt) {
                const int r0 = blk * rb, r1 = r0 + rb < rows ? r0 + rb : rows;
                wino_block_input(V, inp, &q, C, 0, C, H, W, r0, r1, qb);
                wino_block_output(out, M, Uf, V, bias, &q, C, H, W, OC, 0, OC, r0, r1, acc, qb);
            }
        } else {
            float *V = slots, *M = V + 36 * (size_t)C * NT;
            float *qb = slots + nslots * slot + (size_t)t * q.qf;
            int c0, c1;
            drl_threads_split(C, t, nt, &c0, &c1);
            for (int blk = 0; blk < nblk; blk++) {
                const int r0 = blk * rb, r1 = r0 + rb < rows ? r0 + rb : rows;
                wino_block_input(V, inp, &q, C, c0, c1, H, W, r0, r1, qb);
#pragma omp barrier
                wino_block_output(out, M, Uf, V, bias, &q, C, H, W, OC, o0, o1, r0, r1, acc, qb);
#pragma omp barrier
            }
        }
    }
}

/* The filter gradient, the transpose of the forward: with δ the 4×4 tile of dout of a tile
 * (zero outside the image), D = A δ Aᵀ (6×6), and V = Bᵀ d B as in the forward,
 *   dU_ξ (OC, C) = Σ_tiles D_ξ (OC, tiles) · V_ξ (C, tiles)ᵀ,   dw += Gᵀ dU G,
 * 36 GEMMs reducing over the tiles instead of one reducing over 9× as many pixel-tap pairs.
 * D (36, OC, n) of a block: dout rows are split into their four column phases (AVX-512: two
 * masked loads and four permutes per row, gather_phases) into e[r][c][j] = δ(4ty + r, 4tx + c), then one vector
 * loop over the block's n tiles. qb: wino_q_floats (16·n + 4·TW + 2 floats used). */
static void wino_block_dout(float *D, const float *dout, const wino_plan *q, int OC, int H,
                             int W, int r0, int r1, float *qb) {
    const int TH = q->TH, TW = q->TW;
    const size_t n = (size_t)(r1 - r0) * TW, HW = (size_t)H * W, ds = (size_t)OC * n;
    float *e = qb, *row = qb + 16 * n;
    for (int oc = 0; oc < OC; oc++) {
        for (int r = r0; r < r1; r++) {
            const float *plane = dout + ((size_t)(r / TH) * OC + oc) * HW;
            const int ty = r % TH;
            for (int rr = 0; rr < 4; rr++) {
                float *er = e + 4 * (size_t)rr * n + (size_t)(r - r0) * TW;
                const int h = 4 * ty + rr;
                if (h >= H) {
                    for (int c = 0; c < 4; c++) fill_zero(er + (size_t)c * n, (size_t)TW);
                    continue;
                }
                gather_phases(er, n, plane + (size_t)h * W, W, 0, 4, TW, row);
            }
        }
        float *d = D + (size_t)oc * n;
#pragma omp simd
        for (size_t j = 0; j < n; j++) {
            float t[6][4]; /* A δ: rows */
#pragma GCC unroll 4
            for (int c = 0; c < 4; c++) {
                const float g0 = e[(size_t)c * n + j], g1 = e[(size_t)(4 + c) * n + j],
                            g2 = e[(size_t)(8 + c) * n + j], g3 = e[(size_t)(12 + c) * n + j];
                t[0][c] = g0;
                t[1][c] = (g0 + g2) + (g1 + g3);
                t[2][c] = (g0 + g2) - (g1 + g3);
                t[3][c] = (g0 + 4.0f * g2) + 2.0f * (g1 + 4.0f * g3);
                t[4][c] = (g0 + 4.0f * g2) - 2.0f * (g1 + 4.0f * g3);
                t[5][c] = g3;
            }
#pragma GCC unroll 6
            for (int i = 0; i < 6; i++) { /* (A δ) Aᵀ: columns */
                const float g0 = t[i][0], g1 = t[i][1], g2 = t[i][2], g3 = t[i][3];
                d[(size_t)(6 * i + 0) * ds + j] = g0;
                d[(size_t)(6 * i + 1) * ds + j] = (g0 + g2) + (g1 + g3);
                d[(size_t)(6 * i + 2) * ds + j] = (g0 + g2) - (g1 + g3);
                d[(size_t)(6 * i + 3) * ds + j] = (g0 + 4.0f * g2) + 2.0f * (g1 + 4.0f * g3);
                d[(size_t)(6 * i + 4) * ds + j] = (g0 + 4.0f * g2) - 2.0f * (g1 + 4.0f * g3);
                d[(size_t)(6 * i + 5) * ds + j] = g3;
            }
        }
    }
}

/* dw (OC, C, 3, 3) += the filter gradient. Each thread sums the products of its own tile
 * blocks (blocks t, t + T, ...) into its own dU slot; the slots are then added in thread order,
 * and dw += Gᵀ dU G for this thread's output channels. */
static void wino_dw(float *dw, const float *dout, const float *inp, float *work, int B, int C,
                    int H, int W, int OC) {
    const wino_plan q = wino_plan_make(B, C, H, W, OC, DRL_CONV_WINO_DW_FLOATS);
    const int rb = q.rb, rows = q.rows, nblk = q.nblk, NT = q.NT;
    const size_t un = 36 * (size_t)OC * C, slot = un + q.slot;
    int T = drl_threads_team(9.0 * B * (size_t)H * W * OC * C, PAR_MIN_FLOPS);
    if (T > WINO_DW_SLOTS) T = WINO_DW_SLOTS;
    if (T > nblk) T = nblk;
#pragma omp parallel num_threads(T)
    {
        const int t = omp_get_thread_num(), nt = omp_get_num_threads();
        float *dU = work + (size_t)t * slot, *V = dU + un, *D = V + 36 * (size_t)C * NT;
        float *qb = D + 36 * (size_t)OC * NT;
        for (int blk = t; blk < nblk; blk += nt) {
            const int r0 = blk * rb, r1 = r0 + rb < rows ? r0 + rb : rows;
            const int n = (r1 - r0) * q.TW;
            wino_block_input(V, inp, &q, C, 0, C, H, W, r0, r1, qb);
            wino_block_dout(D, dout, &q, OC, H, W, r0, r1, qb);
            for (int xi = 0; xi < 36; xi++)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, OC, C, n, 1.0f,
                            D + (size_t)xi * OC * n, n, V + (size_t)xi * C * n, n,
                            blk == t ? 0.0f : 1.0f, dU + (size_t)xi * OC * C, C);
        }
#pragma omp barrier
        int o0, o1;
        drl_threads_split(OC, t, nt, &o0, &o1);
        for (int oc = o0; oc < o1; oc++) {
            for (int c = 0; c < C; c++) {
                float u[36], s[3][6];
                for (int xi = 0; xi < 36; xi++) {
                    const size_t e = ((size_t)xi * OC + oc) * C + c;
                    float a = 0.0f;
                    for (int k = 0; k < nt; k++) a += work[(size_t)k * slot + e];
                    u[xi] = a;
                }
                for (int k = 0; k < 6; k++) { /* Gᵀ dU: rows */
                    const float u0 = u[k], u1 = u[6 + k], u2 = u[12 + k], u3 = u[18 + k],
                                u4 = u[24 + k], u5 = u[30 + k];
                    s[0][k] = 0.25f * u0 - (u1 + u2) * (1.0f / 6.0f) + (u3 + u4) * (1.0f / 24.0f);
                    s[1][k] = (u2 - u1) * (1.0f / 6.0f) + (u3 - u4) * (1.0f / 12.0f);
                    s[2][k] = (u3 + u4 - u1 - u2) * (1.0f / 6.0f) + u5;
                }
                float *g = dw + ((size_t)oc * C + c) * 9;
                for (int i = 0; i < 3; i++) { /* (Gᵀ dU) G: columns */
                    const float *v = s[i];
                    g[3 * i + 0] += 0.25f * v[0] - (v[1] + v[2]) * (1.0f / 6.0f) +
                                    (v[3] + v[4]) * (1.0f / 24.0f);
                    g[3 * i + 1] += (v[2] - v[1]) * (1.0f / 6.0f) + (v[3] - v[4]) * (1.0f / 12.0f);
                    g[3 * i + 2] += (v[3] + v[4] - v[1] - v[2]) * (1.0f / 6.0f) + v[5];
                }
            }
        }
    }
}

/* ------------------------------------------------------------------------------------------ */
/* 1×1 stride-1 convolution: the input image (C, HW) is already the column matrix.           */

static void conv1x1_forward(float *out, const float *inp, const float *w, const float *bias, int B,
                            int C, int HW, int OC) {
    const int T = drl_threads_team((double)B * HW * OC * C, PAR_MIN_FLOPS);
#pragma omp parallel num_threads(T)
    {
        int q0, q1;
        drl_threads_split(B * HW, omp_get_thread_num(), omp_get_num_threads(), &q0, &q1);
        for (int q = q0; q < q1;) {
            const int b = q / HW, p = q % HW, n = (q1 - q < HW - p) ? q1 - q : HW - p;
            float *o = out + (size_t)b * OC * HW + p;
            if (bias) {
                for (int oc = 0; oc < OC; oc++)
                    for (int i = 0; i < n; i++) o[(size_t)oc * HW + i] = bias[oc];
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, OC, n, C, 1.0f, w, C,
                        inp + (size_t)b * C * HW + p, HW, bias ? 1.0f : 0.0f, o, HW);
            q += n;
        }
    }
}

static void conv1x1_backward(float *dinp, float *dw, const float *dout, const float *inp,
                             const float *w, int B, int C, int HW, int OC) {
    const int T = drl_threads_team(2.0 * B * HW * OC * C, PAR_MIN_FLOPS);
#pragma omp parallel num_threads(T)
    {
        const int t = omp_get_thread_num(), nt = omp_get_num_threads();
        int c0, c1, q0, q1;
        drl_threads_split(C, t, nt, &c0, &c1);
        /* dw[:, c0:c1] (OC, C) += sum_b dout_b (OC, HW) · inp_b[c0:c1]^T (HW, C) */
        for (int b = 0; b < B && c1 > c0; b++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, OC, c1 - c0, HW, 1.0f,
                        dout + (size_t)b * OC * HW, HW, inp + ((size_t)b * C + c0) * HW, HW, 1.0f,
                        dw + c0, C);
        /* dinp_b[:, p0:p1] (C, HW) += w^T (C, OC) · dout_b[:, p0:p1] (OC, HW) */
        drl_threads_split(B * HW, t, nt, &q0, &q1);
        for (int q = q0; dinp && q < q1;) {
            const int b = q / HW, p = q % HW, n = (q1 - q < HW - p) ? q1 - q : HW - p;
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, C, n, OC, 1.0f, w, C,
                        dout + (size_t)b * OC * HW + p, HW, 1.0f, dinp + (size_t)b * C * HW + p,
                        HW);
            q += n;
        }
    }
}

/* db (OC) += sum over images and pixels of dout (B, OC, HW); one thread per channel. */
static void bias_grad(float *db, const float *dout, int B, int OC, size_t HW) {
#pragma omp parallel for schedule(static) if ((size_t)B * OC * HW >= PAR_MIN)
    for (int oc = 0; oc < OC; oc++) {
        double s = 0.0;
        for (int b = 0; b < B; b++) {
            const float *g = dout + ((size_t)b * OC + oc) * HW;
            float t = 0.0f;
#pragma omp simd reduction(+ : t)
            for (size_t p = 0; p < HW; p++) t += g[p];
            s += t;
        }
        db[oc] += (float)s;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Filter gradient of same-size stride-1 convolutions of few input channels (the first layer)  */
/*
 * With C < 16 (1 for an image's first layer) the GEMM of the im2col path is dw (OC, C*K*K) +=
 * dmat (OC, pixels) · col^T: a K*K*C-column result reducing over all the pixels of the batch,
 * which OpenBLAS runs at ~9 GFLOP/s. Instead, input and dout are packed as for the shifted-GEMM
 * path (pack_padded: chunks of images on a zero-padded grid of pitch Wp = W + pad) and each of
 * the K*K*C*OC sums is one vector dot product per chunk between the dout grid and the input grid
 * shifted by the tap — the products shifted_backward hands to OpenBLAS, as plain loops.
 */
static int use_direct_dw(int C, int K, int stride, int pad) {
    return C < 16 && K % 2 == 1 && stride == 1 && 2 * pad == K - 1;
}

/* Images per chunk: their padded input and dout planes in about 2^17 floats. */
static int direct_dw_chunk(int B, int C, int H, int W, int OC, int pad) {
    const size_t S = (size_t)(H + pad) * (W + pad), n = ((size_t)1 << 17) / (S * ((size_t)C + OC));
    return n < 1 ? 1 : n > (size_t)B ? B : (int)n;
}

/* Padded input and dout of one chunk, and the sums (OC, C, K*K): each thread owns the rows of
 * its output channels. */
static size_t direct_dw_floats(int B, int C, int H, int W, int OC, int K, int pad) {
    const int nb = direct_dw_chunk(B, C, H, W, OC, pad);
    const size_t L = padded_len(nb, (size_t)(H + pad) * (W + pad), W + pad, pad);
    return L * ((size_t)C + OC) + (size_t)OC * C * K * K;
}

static void direct_dw(float *dw, const float *dout, const float *inp, float *work, int B, int C,
                      int H, int W, int OC, int K, int pad) {
    const int Wp = W + pad, Hs = H + pad, KK = K * K, Bc = direct_dw_chunk(B, C, H, W, OC, pad);
    const size_t HW = (size_t)H * W, S = (size_t)Hs * Wp, Lmax = padded_len(Bc, S, Wp, pad);
    const size_t gofs = (size_t)pad * Wp + pad; /* grid position 0 in the padded dout */
    float *X = work, *Gp = X + Lmax * C, *sums = Gp + Lmax * OC;
    const int T = drl_threads_team(2.0 * B * HW * OC * C * KK, PAR_MIN_FLOPS);
#pragma omp parallel num_threads(T)
    {
        const int t = omp_get_thread_num(), nt = omp_get_num_threads();
        int o0, o1, c0, c1;
        drl_threads_split(OC, t, nt, &o0, &o1);
        drl_threads_split(C, t, nt, &c0, &c1);
        float *acc = sums + (size_t)o0 * C * KK; /* this thread's rows (o1 - o0, C, KK) */
        fill_zero(acc, (size_t)(o1 - o0) * C * KK);
        for (int b0 = 0; b0 < B; b0 += Bc) {
            const int nb = B - b0 < Bc ? B - b0 : Bc;
            const size_t L = padded_len(nb, S, Wp, pad);
            const int n = ((nb - 1) * Hs + H) * Wp; /* grid positions of the chunk */
            pack_padded(X, L, inp + (size_t)b0 * C * HW, nb, C, H, W, pad, c0, c1);
            pack_padded(Gp, L, dout + (size_t)b0 * OC * HW, nb, OC, H, W, pad, o0, o1);
#pragma omp barrier
            int oc = o0;
            /* 3×3: two output channels per pass, 18 independent sums sharing the input loads
             * (one channel per pass is bound by its ten loads per nine FMAs) */
            for (; K == 3 && oc + 1 < o1; oc += 2) {
                const float *G = Gp + (size_t)oc * L + gofs, *H2 = G + L;
                for (int c = 0; c < C; c++) {
                    float *a = acc + ((size_t)(oc - o0) * C + c) * KK, *b = a + (size_t)C * KK;
                    const float *x = X + (size_t)c * L, *x1 = x + Wp, *x2 = x + 2 * Wp;
                    float s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0, s8 = 0;
                    float u0 = 0, u1 = 0, u2 = 0, u3 = 0, u4 = 0, u5 = 0, u6 = 0, u7 = 0, u8 = 0;
#pragma omp simd reduction(+ : s0, s1, s2, s3, s4, s5, s6, s7, s8, u0, u1, u2, u3, u4, u5, u6, u7, u8)
                    for (int q = 0; q < n; q++) {
                        const float g = G[q], h = H2[q];
                        const float y0 = x[q], y1 = x[q + 1], y2 = x[q + 2], y3 = x1[q],
                                    y4 = x1[q + 1], y5 = x1[q + 2], y6 = x2[q], y7 = x2[q + 1],
                                    y8 = x2[q + 2];
                        s0 += g * y0, s1 += g * y1, s2 += g * y2, s3 += g * y3, s4 += g * y4;
                        s5 += g * y5, s6 += g * y6, s7 += g * y7, s8 += g * y8;
                        u0 += h * y0, u1 += h * y1, u2 += h * y2, u3 += h * y3, u4 += h * y4;
                        u5 += h * y5, u6 += h * y6, u7 += h * y7, u8 += h * y8;
                    }
                    a[0] += s0, a[1] += s1, a[2] += s2, a[3] += s3, a[4] += s4;
                    a[5] += s5, a[6] += s6, a[7] += s7, a[8] += s8;
                    b[0] += u0, b[1] += u1, b[2] += u2, b[3] += u3, b[4] += u4;
                    b[5] += u5, b[6] += u6, b[7] += u7, b[8] += u8;
                }
            }
            for (; oc < o1; oc++) {
                const float *G = Gp + (size_t)oc * L + gofs;
                for (int c = 0; c < C; c++) {
                    float *a = acc + ((size_t)(oc - o0) * C + c) * KK;
                    const float *x = X + (size_t)c * L;
                    if (K == 3) { /* nine independent sums in one pass (not one latency chain) */
                        float s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
                        float s8 = 0;
                        const float *x1 = x + Wp, *x2 = x + 2 * Wp;
#pragma omp simd reduction(+ : s0, s1, s2, s3, s4, s5, s6, s7, s8)
                        for (int q = 0; q < n; q++) {
                            const float g = G[q];
                            s0 += g * x[q], s1 += g * x[q + 1], s2 += g * x[q + 2];
                            s3 += g * x1[q], s4 += g * x1[q + 1], s5 += g * x1[q + 2];
                            s6 += g * x2[q], s7 += g * x2[q + 1], s8 += g * x2[q + 2];
                        }
                        a[0] += s0, a[1] += s1, a[2] += s2, a[3] += s3, a[4] += s4;
                        a[5] += s5, a[6] += s6, a[7] += s7, a[8] += s8;
                        continue;
                    }
                    for (int k = 0; k < KK; k++) {
                        const float *xk = x + (size_t)(k / K) * Wp + k % K;
                        float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
                        for (int q = 0; q < n; q++) sum += G[q] * xk[q];
                        a[k] += sum;
                    }
                }
            }
#pragma omp barrier
        }
        for (int oc = o0; oc < o1; oc++)
            for (size_t i = 0; i < (size_t)C * KK; i++)
                dw[(size_t)oc * C * KK + i] += acc[(size_t)(oc - o0) * C * KK + i];
    }
}

/* ------------------------------------------------------------------------------------------ */

/* Shapes whose filters have a prepared (Winograd-transformed) form: use_winograd at any batch. */
static int preparable(int C, int OC, int K, int stride, int pad) {
    return use_winograd(16, C, OC, K, stride, pad);
}

size_t drl_conv2d_prepared_size(int C, int OC, int K, int stride, int pad) {
    return preparable(C, OC, K, stride, pad) ? 36 * (size_t)OC * C : 0;
}

void drl_conv2d_prepare(float *pw, const float *w, int C, int OC, int K, int stride, int pad) {
    if (preparable(C, OC, K, stride, pad)) wino_filters(pw, w, OC, C, 0, OC);
}

void drl_conv2d_forward(float *out, const float *inp, const float *w, const float *b, float *work,
                        int B, int C, int H, int W, int OC, int K, int stride, int pad) {
    drl_conv2d_forward_prepared(out, inp, w, NULL, b, work, B, C, H, W, OC, K, stride, pad);
}

void drl_conv2d_forward_prepared(float *out, const float *inp, const float *w, const float *pw,
                                 const float *b, float *work, int B, int C, int H, int W, int OC,
                                 int K, int stride, int pad) {
    const conv_plan p = plan_make(B, C, H, W, OC, K, stride, pad);
    if (B <= 0 || p.OH <= 0 || p.OW <= 0 || OC <= 0) return;
    if (C <= 0) { /* no inputs: the bias alone */
        for (size_t i = 0; i < (size_t)B * OC * p.OHW; i++) out[i] = b ? b[(i / p.OHW) % OC] : 0.0f;
        return;
    }
    const int nt = drl_threads_blas_serial_begin();
    if (is_pointwise(K, stride, pad))
        conv1x1_forward(out, inp, w, b, B, C, (int)p.OHW, OC);
    else if (pw && preparable(C, OC, K, stride, pad))
        wino_forward(out, inp, NULL, pw, b, work, B, C, H, W, OC, 0);
    else if (use_winograd(B, C, OC, K, stride, pad))
        wino_forward(out, inp, w, NULL, b, work, B, C, H, W, OC, 0);
    else if (p.shifted)
        shifted_forward(&p, out, inp, w, b, work);
    else
        conv_forward(&p, out, inp, w, b, work);
    drl_threads_blas_serial_end(nt);
}

void drl_conv2d_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                         const float *w, float *work, int B, int C, int H, int W, int OC, int K,
                         int stride, int pad) {
    const conv_plan p = plan_make(B, C, H, W, OC, K, stride, pad);
    if (B <= 0 || p.OH <= 0 || p.OW <= 0 || OC <= 0) return;
    if (db) bias_grad(db, dout, B, OC, p.OHW);
    if (C <= 0) return;
    const int nt = drl_threads_blas_serial_begin();
    if (is_pointwise(K, stride, pad)) {
        conv1x1_backward(dinp, dw, dout, inp, w, B, C, (int)p.OHW, OC);
    } else if (use_winograd(B, C, OC, K, stride, pad)) {
        /* dw by the transposed Winograd products; dinp by the forward path on dout (see above) */
        if (dw) wino_dw(dw, dout, inp, work, B, C, H, W, OC);
        if (dinp) {
            flip_filters(work, w, C, OC, K, 0, C);
            wino_forward(dinp, dout, work, NULL, NULL, work + 9 * (size_t)OC * C, B, OC, H, W, C, 1);
        }
    } else if (p.shifted) {
        shifted_backward(&p, dinp, dw, dout, inp, w, work);
    } else if (use_direct_dw(C, K, stride, pad)) {
        if (dw) direct_dw(dw, dout, inp, work, B, C, H, W, OC, K, pad);
        if (dinp) conv_backward(&p, dinp, NULL, dout, inp, w, work);
    } else {
        conv_backward(&p, dinp, dw, dout, inp, w, work);
    }
    drl_threads_blas_serial_end(nt);
}

/* ------------------------------------------------------------------------------------------ */
/* Nearest-neighbour ×2 upsampling                                                            */

void drl_upsample2x_forward(float *out, const float *inp, int B, int C, int H, int W) {
    const int W2 = 2 * W;
#pragma omp parallel for schedule(static) if ((size_t)B * C * H * W >= PAR_MIN)
    for (long pl = 0; pl < (long)B * C; pl++) {
        const float *s = inp + (size_t)pl * H * W;
        float *d = out + (size_t)pl * 4 * H * W;
        for (int h = 0; h < H; h++) {
            float *r0 = d + (size_t)(2 * h) * W2, *r1 = r0 + W2;
            for (int x = 0; x < W; x++) r0[2 * x] = r0[2 * x + 1] = s[(size_t)h * W + x];
            copy(r1, r0, (size_t)W2);
        }
    }
}

void drl_upsample2x_backward(float *dinp, const float *dout, int B, int C, int H, int W) {
    const int W2 = 2 * W;
#pragma omp parallel for schedule(static) if ((size_t)B * C * H * W >= PAR_MIN)
    for (long pl = 0; pl < (long)B * C; pl++) {
        float *d = dinp + (size_t)pl * H * W;
        const float *s = dout + (size_t)pl * 4 * H * W;
        for (int h = 0; h < H; h++) {
            const float *r0 = s + (size_t)(2 * h) * W2, *r1 = r0 + W2;
            for (int x = 0; x < W; x++)
                d[(size_t)h * W + x] += (r0[2 * x] + r0[2 * x + 1]) + (r1[2 * x] + r1[2 * x + 1]);
        }
    }
}
