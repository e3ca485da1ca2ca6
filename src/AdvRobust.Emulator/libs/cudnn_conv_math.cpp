// Convolution arithmetic of the cuDNN stand-in (see cudnn_conv_math.h). Shape letters: x N×C×H×W, w K×(C/G)×R×S,
// y N×K×P×Q, G groups of Cg = C/G input and Kg = K/G output channels. Cross-correlation reads filter tap (r, s);
// convolution mode reads (R−1−r, S−1−s). Out-of-image taps (padding) contribute zero.
#include <algorithm>
#include <atomic>
#include <vector>

#include "cudnn_conv_math.h"

namespace cudnn_emu {
namespace {

std::atomic<unsigned> g_scatter_calls{0};

inline float rd(float v, bool tf32) { return tf32 ? emu::round_tf32(v) : v; }

inline void blend(float* out, double value, float alpha, float beta) {
    *out = beta == 0.0f ? (float)(alpha * value) : (float)(alpha * value + (double)beta * *out);
}

// Filter element (k, c, tap r, tap s), flipped for CUDNN_CONVOLUTION.
inline long long woff(const ConvArgs& a, int k, int c, int r, int s) {
    const Geometry& g = *a.g;
    return g.flip ? a.wd->offset(k, c, g.r - 1 - r, g.s - 1 - s) : a.wd->offset(k, c, r, s);
}

// Fills col[t·P·Q + p·Q + q] (t = (c·R + r)·S + s over the group's channels) from image n, group gi.
void im2col(const ConvArgs& a, const float* x, int n, int gi, float* col) {
    const Geometry& g = *a.g;
    const int pq = g.p * g.q;
    for (int c = 0; c < g.cg; c++)
        for (int r = 0; r < g.r; r++)
            for (int s = 0; s < g.s; s++) {
                float* row = col + (size_t)((c * g.r + r) * g.s + s) * pq;
                for (int p = 0; p < g.p; p++) {
                    int ih = p * g.u - g.pad_h + r * g.dil_h;
                    for (int q = 0; q < g.q; q++) {
                        int iw = q * g.v - g.pad_w + s * g.dil_w;
                        bool inside = ih >= 0 && ih < g.h && iw >= 0 && iw < g.w;
                        row[p * g.q + q] = inside ? rd(x[a.xd->offset(n, gi * g.cg + c, ih, iw)], a.tf32) : 0.0f;
                    }
                }
            }
}

}  // namespace

size_t precomp_workspace(const Geometry& g) { return (size_t)g.cg * g.r * g.s * 4 * sizeof(int32_t); }

size_t column_workspace(const Geometry& g) { return (size_t)g.cg * g.r * g.s * g.p * g.q * sizeof(float); }

void forward_direct(const ConvArgs& a, const float* x, const float* w, float* y) {
    const Geometry& g = *a.g;
    for (int n = 0; n < g.n; n++)
        for (int k = 0; k < g.k; k++) {
            const int c0 = (k / g.kg) * g.cg;
            for (int p = 0; p < g.p; p++)
                for (int q = 0; q < g.q; q++) {
                    double acc = 0.0;
                    for (int c = 0; c < g.cg; c++)
                        for (int r = 0; r < g.r; r++) {
                            int ih = p * g.u - g.pad_h + r * g.dil_h;
                            if (ih < 0 || ih >= g.h) continue;
                            for (int s = 0; s < g.s; s++) {
                                int iw = q * g.v - g.pad_w + s * g.dil_w;
                                if (iw < 0 || iw >= g.w) continue;
                                acc += (double)rd(x[a.xd->offset(n, c0 + c, ih, iw)], a.tf32) *
                                       rd(w[woff(a, k, c, r, s)], a.tf32);
                            }
                        }
                    blend(&y[a.yd->offset(n, k, p, q)], acc, a.alpha, a.beta);
                }
        }
}

void forward_precomp(const ConvArgs& a, const float* x, const float* w, float* y) {
    const Geometry& g = *a.g;
    // Tap table: input channel, row step, column step, and the filter element's offset inside its output channel.
    auto* taps = static_cast<int32_t*>(a.workspace);
    const int ntaps = g.cg * g.r * g.s;
    for (int c = 0, t = 0; c < g.cg; c++)
        for (int r = 0; r < g.r; r++)
            for (int s = 0; s < g.s; s++, t++) {
                taps[4 * t] = c;
                taps[4 * t + 1] = r * g.dil_h;
                taps[4 * t + 2] = s * g.dil_w;
                taps[4 * t + 3] = (int32_t)woff(a, 0, c, r, s);  // offset(k, ·) = offset(k, 0, 0, 0) + this
            }
    emu::mark_written(taps, precomp_workspace(g));
    for (int n = 0; n < g.n; n++)
        for (int k = 0; k < g.k; k++) {
            const int c0 = (k / g.kg) * g.cg;
            const long long wk = a.wd->offset(k, 0, 0, 0);
            for (int p = 0; p < g.p; p++)
                for (int q = 0; q < g.q; q++) {
                    double acc = 0.0;
                    const int h0 = p * g.u - g.pad_h, w0 = q * g.v - g.pad_w;
                    for (int t = 0; t < ntaps; t++) {
                        int ih = h0 + taps[4 * t + 1], iw = w0 + taps[4 * t + 2];
                        if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) continue;
                        acc += (double)rd(x[a.xd->offset(n, c0 + taps[4 * t], ih, iw)], a.tf32) *
                               rd(w[wk + taps[4 * t + 3]], a.tf32);
                    }
                    blend(&y[a.yd->offset(n, k, p, q)], acc, a.alpha, a.beta);
                }
        }
}

void forward_gemm(const ConvArgs& a, const float* x, const float* w, float* y) {
    const Geometry& g = *a.g;
    auto* col = static_cast<float*>(a.workspace);
    const int pq = g.p * g.q;
    std::vector<double> acc((size_t)pq);
    for (int n = 0; n < g.n; n++)
        for (int gi = 0; gi < g.groups; gi++) {
            im2col(a, x, n, gi, col);
            emu::mark_written(col, column_workspace(g));
            for (int k = gi * g.kg; k < (gi + 1) * g.kg; k++) {
                std::fill(acc.begin(), acc.end(), 0.0);
                for (int c = 0; c < g.cg; c++)
                    for (int r = 0; r < g.r; r++)
                        for (int s = 0; s < g.s; s++) {
                            const double wv = rd(w[woff(a, k, c, r, s)], a.tf32);
                            const float* row = col + (size_t)((c * g.r + r) * g.s + s) * pq;
                            for (int i = 0; i < pq; i++) acc[i] += wv * row[i];
                        }
                for (int i = 0; i < pq; i++) blend(&y[a.yd->offset(n, k, i / g.q, i % g.q)], acc[i], a.alpha, a.beta);
            }
        }
}

void backward_data_scatter(const ConvArgs& a, const float* w, const float* dy, float* dx) {
    const Geometry& g = *a.g;
    std::vector<float> acc((size_t)g.n * g.c * g.h * g.w, 0.0f);
    const unsigned rotate = g_scatter_calls.fetch_add(1);
    for (int n = 0; n < g.n; n++)
        for (int kk = 0; kk < g.k; kk++) {
            const int k = (int)((kk + rotate) % (unsigned)g.k), c0 = (k / g.kg) * g.cg;
            for (int p = 0; p < g.p; p++)
                for (int q = 0; q < g.q; q++) {
                    const float d = rd(dy[a.yd->offset(n, k, p, q)], a.tf32);
                    for (int c = 0; c < g.cg; c++)
                        for (int r = 0; r < g.r; r++) {
                            int ih = p * g.u - g.pad_h + r * g.dil_h;
                            if (ih < 0 || ih >= g.h) continue;
                            for (int s = 0; s < g.s; s++) {
                                int iw = q * g.v - g.pad_w + s * g.dil_w;
                                if (iw < 0 || iw >= g.w) continue;
                                acc[(((size_t)n * g.c + c0 + c) * g.h + ih) * g.w + iw] +=
                                    rd(w[woff(a, k, c, r, s)], a.tf32) * d;
                            }
                        }
                }
        }
    for (int n = 0; n < g.n; n++)
        for (int c = 0; c < g.c; c++)
            for (int h = 0; h < g.h; h++)
                for (int x = 0; x < g.w; x++)
                    blend(&dx[a.xd->offset(n, c, h, x)], acc[(((size_t)n * g.c + c) * g.h + h) * g.w + x], a.alpha,
                          a.beta);
}

void backward_data_columns(const ConvArgs& a, const float* w, const float* dy, float* dx) {
    const Geometry& g = *a.g;
    auto* col = static_cast<float*>(a.workspace);
    const int pq = g.p * g.q;
    std::vector<double> image((size_t)g.cg * g.h * g.w), row((size_t)pq);
    for (int n = 0; n < g.n; n++)
        for (int gi = 0; gi < g.groups; gi++) {
            // col[t][pq] = Σ_k W(k, t) · dy(n, k, pq) over the group's output channels.
            for (int c = 0; c < g.cg; c++)
                for (int r = 0; r < g.r; r++)
                    for (int s = 0; s < g.s; s++) {
                        std::fill(row.begin(), row.end(), 0.0);
                        for (int k = gi * g.kg; k < (gi + 1) * g.kg; k++) {
                            const double wv = rd(w[woff(a, k, c, r, s)], a.tf32);
                            for (int i = 0; i < pq; i++)
                                row[i] += wv * rd(dy[a.yd->offset(n, k, i / g.q, i % g.q)], a.tf32);
                        }
                        float* out = col + (size_t)((c * g.r + r) * g.s + s) * pq;
                        for (int i = 0; i < pq; i++) out[i] = (float)row[i];
                    }
            emu::mark_written(col, column_workspace(g));
            // Fold the columns back onto the image (col2im), in a fixed order.
            std::fill(image.begin(), image.end(), 0.0);
            for (int c = 0; c < g.cg; c++)
                for (int r = 0; r < g.r; r++)
                    for (int s = 0; s < g.s; s++) {
                        const float* in = col + (size_t)((c * g.r + r) * g.s + s) * pq;
                        for (int p = 0; p < g.p; p++) {
                            int ih = p * g.u - g.pad_h + r * g.dil_h;
                            if (ih < 0 || ih >= g.h) continue;
                            for (int q = 0; q < g.q; q++) {
                                int iw = q * g.v - g.pad_w + s * g.dil_w;
                                if (iw >= 0 && iw < g.w) image[((size_t)c * g.h + ih) * g.w + iw] += in[p * g.q + q];
                            }
                        }
                    }
            for (int c = 0; c < g.cg; c++)
                for (int h = 0; h < g.h; h++)
                    for (int x = 0; x < g.w; x++)
                        blend(&dx[a.xd->offset(n, gi * g.cg + c, h, x)], image[((size_t)c * g.h + h) * g.w + x],
                              a.alpha, a.beta);
        }
}

void backward_filter_scatter(const ConvArgs& a, const float* x, const float* dy, float* dw) {
    const Geometry& g = *a.g;
    std::vector<float> acc((size_t)g.k * g.cg * g.r * g.s, 0.0f);
    const unsigned rotate = g_scatter_calls.fetch_add(1);
    for (int nn = 0; nn < g.n; nn++) {
        const int n = (int)((nn + rotate) % (unsigned)g.n);
        for (int k = 0; k < g.k; k++) {
            const int c0 = (k / g.kg) * g.cg;
            for (int p = 0; p < g.p; p++)
                for (int q = 0; q < g.q; q++) {
                    const float d = rd(dy[a.yd->offset(n, k, p, q)], a.tf32);
                    for (int c = 0; c < g.cg; c++)
                        for (int r = 0; r < g.r; r++) {
                            int ih = p * g.u - g.pad_h + r * g.dil_h;
                            if (ih < 0 || ih >= g.h) continue;
                            for (int s = 0; s < g.s; s++) {
                                int iw = q * g.v - g.pad_w + s * g.dil_w;
                                if (iw < 0 || iw >= g.w) continue;
                                acc[(((size_t)k * g.cg + c) * g.r + r) * g.s + s] +=
                                    rd(x[a.xd->offset(n, c0 + c, ih, iw)], a.tf32) * d;
                            }
                        }
                }
        }
    }
    for (int k = 0; k < g.k; k++)
        for (int c = 0; c < g.cg; c++)
            for (int r = 0; r < g.r; r++)
                for (int s = 0; s < g.s; s++)
                    blend(&dw[woff(a, k, c, r, s)], acc[(((size_t)k * g.cg + c) * g.r + r) * g.s + s], a.alpha, a.beta);
}

void backward_filter_columns(const ConvArgs& a, const float* x, const float* dy, float* dw) {
    const Geometry& g = *a.g;
    auto* col = static_cast<float*>(a.workspace);
    const int pq = g.p * g.q, taps = g.cg * g.r * g.s;
    std::vector<double> acc((size_t)g.k * taps, 0.0);
    for (int n = 0; n < g.n; n++)
        for (int gi = 0; gi < g.groups; gi++) {
            im2col(a, x, n, gi, col);
            emu::mark_written(col, column_workspace(g));
            for (int k = gi * g.kg; k < (gi + 1) * g.kg; k++)
                for (int i = 0; i < pq; i++) {
                    const double d = rd(dy[a.yd->offset(n, k, i / g.q, i % g.q)], a.tf32);
                    double* out = &acc[(size_t)k * taps];
                    for (int t = 0; t < taps; t++) out[t] += d * col[(size_t)t * pq + i];
                }
        }
    for (int k = 0; k < g.k; k++)
        for (int c = 0; c < g.cg; c++)
            for (int r = 0; r < g.r; r++)
                for (int s = 0; s < g.s; s++)
                    blend(&dw[woff(a, k, c, r, s)], acc[(size_t)k * taps + (c * g.r + r) * g.s + s], a.alpha, a.beta);
}

}  // namespace cudnn_emu
