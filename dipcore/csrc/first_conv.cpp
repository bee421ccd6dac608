// LeNet-5's first layer for a stack of R runs: a 5x5 convolution of each run's own one-channel images
// (stride 1, no padding) followed by a 2x2 max-pool (stride 2); forward, weight gradient, and the gradient
// with respect to the images, for the JSVs' Jacobians (issue 36).
//
// oneDNN runs the stack's convolution as one grouped convolution and computes its weight gradient (the
// correlation of each image with its output gradient) 7x slower than its forward pass, and the max-pool
// and its gradient over the 28x28 output cost as much again. Here both are fused loops over blocks of 16
// output columns in GCC's portable vectors (AVX-512, AVX2 or SSE, whatever the machine has: built with
// -march=native). The layer's monotone activation commutes with the max and is applied after, by
// dipcore.stacked_layers. Same sums in another order: results differ from PyTorch's by float32 rounding
// (tests/test_kernels.py). The pure-PyTorch path stays the reference and the fallback (dipcore.kernels).
// Loads, not multiply-adds, bound these loops: each one reads an input row's five shifted vectors once for
// every output row that row meets, the sums kept in registers (fully unrolled), in the same order as one
// output row at a time (bit for bit the results of the loops before: 1.5 -> 1.0 ms forward, 1.75 -> 0.96
// ms weight gradient for ten runs' batches of 100, issue 36). The same kernel computes LeNet-5's second
// convolution where it has one channel in (dipcore.stacked_layers.inner_conv_pool).
#include <torch/extension.h>
#include <algorithm>
#include <cmath>
#include <vector>

constexpr int K = 5;   // kernel size
constexpr int V = 16;  // output columns per block (a row of Wo >= V columns is covered by ceil(Wo / V) blocks,
                       // the last one shifted left to end at the row's end)
typedef float vec __attribute__((vector_size(V * sizeof(float))));
static inline vec load(const float *p) { vec v; __builtin_memcpy(&v, p, sizeof(vec)); return v; }
static inline void store(float *p, vec v) { __builtin_memcpy(p, &v, sizeof(vec)); }

typedef int32_t ivec __attribute__((vector_size(V * sizeof(int32_t))));
// the even and the odd lanes of the 2V floats (a, b); and the reverse, two V-float halves interleaved
static inline vec evens(vec a, vec b) {
  return __builtin_shuffle(a, b, (ivec){0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30});
}
static inline vec odds(vec a, vec b) {
  return __builtin_shuffle(a, b, (ivec){1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31});
}
static inline vec interleave_lo(vec a, vec b) {
  return __builtin_shuffle(a, b, (ivec){0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23});
}
static inline vec interleave_hi(vec a, vec b) {
  return __builtin_shuffle(a, b, (ivec){8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31});
}

struct Shape {
  int64_t R, B, C, H, W, Ho, Wo, Hp, Wp;
};

static Shape shape_of(const torch::Tensor &x, int64_t C) {
  TORCH_CHECK(x.device().is_cpu() && x.scalar_type() == torch::kFloat && x.dim() == 4,
              "first_conv: images [R, B, H, W], float32, on the CPU");
  Shape s{x.size(0), x.size(1), C, x.size(2), x.size(3), x.size(2) - K + 1, x.size(3) - K + 1, 0, 0};
  TORCH_CHECK(s.Wo >= V && s.Ho % 2 == 0 && s.Wo % 2 == 0,
              "first_conv: the convolution's output must be at least ", V, " wide, with an even height and width");
  s.Hp = s.Ho / 2;
  s.Wp = s.Wo / 2;
  return s;
}

// rows i and i + 1 of one image's convolution with kernel k (bias added), into top and bot [0, Wo): each
// input row's five shifted vectors are loaded once for both (30 loads for 50 multiply-adds, against 50),
// and each output sums its taps in the same order as one row at a time would (bit for bit the same)
static inline void conv_rows2(const float *img, const float *k, float bias, int64_t i, const Shape &s,
                              float *top, float *bot) {
  for (int64_t j0 = 0; j0 < s.Wo; j0 += V) {
    const int64_t j = std::min<int64_t>(j0 + V, s.Wo) - V;
    vec up = bias - (vec){}, down = up;
#pragma GCC unroll 6
    for (int r = 0; r <= K; ++r) {  // input row i + r: tap row r of the top output, r - 1 of the bottom one
      const float *row = img + (i + r) * s.W + j;
      vec x[K];
#pragma GCC unroll 5
      for (int kj = 0; kj < K; ++kj) x[kj] = load(row + kj);
      if (r < K)
#pragma GCC unroll 5
        for (int kj = 0; kj < K; ++kj) up += k[r * K + kj] * x[kj];
      if (r > 0)
#pragma GCC unroll 5
        for (int kj = 0; kj < K; ++kj) down += k[(r - 1) * K + kj] * x[kj];
    }
    store(top + j, up);
    store(bot + j, down);
  }
}

// out[t] += sum_{i, j} g[i, j] img[i + ki, j + kj] for the 25 taps t = (ki, kj) (g's rows g_stride apart):
// one image's share of the weight gradient, summed in float32 vectors, added to out in float64. Input row
// by input row: its five shifted vectors are loaded once for the five output rows they meet (10 loads for
// 25 multiply-adds, against 26), each tap's terms still summed in the order of (i, j): bit for bit the same
static inline void correlate(const float *img, const float *g, int64_t g_stride, const Shape &s, double *out) {
  vec acc[K * K] = {};
  ivec lane;
  for (int v = 0; v < V; ++v) lane[v] = v;
  for (int64_t r = 0; r < s.Ho + K - 1; ++r) {  // input row r meets output rows i = r - ki
    for (int64_t j0 = 0; j0 < s.Wo; j0 += V) {
      const int64_t j = std::min<int64_t>(j0 + V, s.Wo) - V;
      const ivec counted = lane < static_cast<int32_t>(j0 - j);  // columns the block before already counted
      const float *row = img + r * s.W + j;
      vec x[K];
      for (int kj = 0; kj < K; ++kj) x[kj] = load(row + kj);
#pragma GCC unroll 5
      for (int ki = 0; ki < K; ++ki) {  // unrolled: the 25 accumulators stay in registers
        if (r - ki < 0 || r - ki >= s.Ho) continue;
        const vec gv = counted ? vec{} : load(g + (r - ki) * g_stride + j);
#pragma GCC unroll 5
        for (int kj = 0; kj < K; ++kj) acc[ki * K + kj] += gv * x[kj];
      }
    }
  }
  for (int t = 0; t < K * K; ++t) {
    float sum = 0.f;
    for (int v = 0; v < V; ++v) sum += acc[t][v];
    out[t] += sum;
  }
}

// One pooled channel's gradient g [Hp, Wp] spread back to the convolution's output where each window's
// maximum was (arg), zeros elsewhere: rows 2 * ip and 2 * ip + 1 of dst (rows stride apart), whose first
// ceil(Wp / V) * 2V columns are all written (past 2 * Wp: zeros).
static inline void spread(const float *g, const uint8_t *arg, int64_t Hp, int64_t Wp, float *dst, int64_t stride) {
  const vec zero = {};
  for (int64_t ip = 0; ip < Hp; ++ip)
    for (int64_t jp = 0; jp < Wp; jp += V) {  // V windows at a time
      const int64_t width = std::min<int64_t>(V, Wp - jp);
      vec gv = {};
      ivec a = {};
      __builtin_memcpy(&gv, g + ip * Wp + jp, width * sizeof(float));
      for (int64_t v = 0; v < width; ++v) a[v] = arg[ip * Wp + jp + v];
      float *up = dst + 2 * ip * stride + 2 * jp, *down = up + stride;
      store(up, interleave_lo(a == 0 ? gv : zero, a == 1 ? gv : zero));
      store(up + V, interleave_hi(a == 0 ? gv : zero, a == 1 ? gv : zero));
      store(down, interleave_lo(a == 2 ? gv : zero, a == 3 ? gv : zero));
      store(down + V, interleave_hi(a == 2 ? gv : zero, a == 3 ? gv : zero));
    }
}

// x: [R, B, H, W] (run r's batch of images; [1, B, H, W]: one batch every run sees), w: [R, C, K, K],
// b: [R, C]. Returns the pooled output
// [B, R*C, Ho/2, Wo/2] of conv(x[r, n], w[r, c]) + b[r, c] and, per pooled value, which of its window's
// four inputs (0 top left, 1 top right, 2 bottom left, 3 bottom right) was the maximum: the first in
// that order, as PyTorch's max_pool2d picks it (a NaN wins).
std::vector<torch::Tensor> forward(torch::Tensor x, torch::Tensor w, torch::Tensor b) {
  Shape s = shape_of(x, w.size(1));
  const bool shared = s.R == 1;
  s.R = w.size(0);
  TORCH_CHECK(w.dim() == 4 && (shared || x.size(0) == s.R) && w.size(2) == K && w.size(3) == K && b.numel() == s.R * s.C,
              "first_conv: weights [R, C, 5, 5] and biases [R, C]");
  auto xc = x.contiguous(), wc = w.contiguous(), bc = b.contiguous();
  auto out = torch::empty({s.B, s.R * s.C, s.Hp, s.Wp}, x.options());
  auto arg = torch::empty({s.B, s.R * s.C, s.Hp, s.Wp}, x.options().dtype(torch::kUInt8));
  const float *X = xc.data_ptr<float>(), *Wt = wc.data_ptr<float>(), *Bs = bc.data_ptr<float>();
  float *O = out.data_ptr<float>();
  uint8_t *A = arg.data_ptr<uint8_t>();
  const int64_t padded = (s.Wp + V - 1) / V * 2 * V;  // a conv row, padded to whole blocks of 2V columns
  std::vector<float> rows(2 * padded, 0.f);
  float *top = rows.data(), *bot = rows.data() + padded;
  for (int64_t n = 0; n < s.B; ++n)
    for (int64_t r = 0; r < s.R; ++r)
      for (int64_t c = 0; c < s.C; ++c) {
        const float *img = X + ((shared ? 0 : r) * s.B + n) * s.H * s.W;
        const int64_t rc = r * s.C + c, plane = (n * s.R * s.C + rc) * s.Hp * s.Wp;
        for (int64_t ip = 0; ip < s.Hp; ++ip) {
          conv_rows2(img, Wt + rc * K * K, Bs[rc], 2 * ip, s, top, bot);  // the two rows under this row of windows
          for (int64_t jp = 0; jp < s.Wp; jp += V) {  // V windows at a time: their four inputs as four vectors
            const vec in[4] = {evens(load(top + 2 * jp), load(top + 2 * jp + V)), odds(load(top + 2 * jp), load(top + 2 * jp + V)),
                               evens(load(bot + 2 * jp), load(bot + 2 * jp + V)), odds(load(bot + 2 * jp), load(bot + 2 * jp + V))};
            vec m = in[0];
            ivec a = {};
            for (int q = 1; q < 4; ++q) {
              const ivec take = (in[q] > m) | (in[q] != in[q]);  // larger, or NaN
              m = take ? in[q] : m;
              a = take ? q : a;
            }
            const int64_t width = std::min<int64_t>(V, s.Wp - jp);
            __builtin_memcpy(O + plane + ip * s.Wp + jp, &m, width * sizeof(float));
            for (int64_t v = 0; v < width; ++v) A[plane + ip * s.Wp + jp + v] = static_cast<uint8_t>(a[v]);
          }
        }
      }
  return {out, arg};
}

// The weight gradient [R, C, K, K] from the gradient g of forward's pooled output and its argmax arg:
// each image's gradient goes back to the convolution's output where its window's maximum was (zero
// elsewhere), then is correlated with the image.
torch::Tensor weight_grad(torch::Tensor x, torch::Tensor g, torch::Tensor arg) {
  const Shape s = shape_of(x, g.size(1) / x.size(0));
  TORCH_CHECK(g.dim() == 4 && g.size(0) == s.B && g.size(1) == s.R * s.C && g.size(2) == s.Hp && g.size(3) == s.Wp
              && arg.sizes() == g.sizes() && arg.scalar_type() == torch::kUInt8,
              "first_conv: the gradient and argmax of forward's output, [B, R*C, Ho/2, Wo/2]");
  auto xc = x.contiguous(), gc = g.contiguous(), ac = arg.contiguous();
  const float *X = xc.data_ptr<float>(), *G = gc.data_ptr<float>();
  const uint8_t *A = ac.data_ptr<uint8_t>();
  auto gw = torch::zeros({s.R, s.C, K, K}, torch::dtype(torch::kDouble));
  double *GW = gw.data_ptr<double>();
  const int64_t blocks = (s.Wp + V - 1) / V, stride = blocks * 2 * V;  // the spread gradient's padded rows
  std::vector<float> full(s.Ho * stride, 0.f);
  for (int64_t n = 0; n < s.B; ++n)
    for (int64_t r = 0; r < s.R; ++r)
      for (int64_t c = 0; c < s.C; ++c) {
        const int64_t rc = r * s.C + c, plane = (n * s.R * s.C + rc) * s.Hp * s.Wp;
        spread(G + plane, A + plane, s.Hp, s.Wp, full.data(), stride);
        correlate(X + (r * s.B + n) * s.H * s.W, full.data(), stride, s, GW + rc * K * K);
      }
  return gw.to(torch::kFloat);
}

// One row m of the transpose, for run r: g's row [R*C, Ho/2, Wo/2] (arg: its example's argmax, every
// channel spread back to its windows' maxima inside pad's zeros, then convolved with the filter: a full
// correlation) into o [H, W]. pad: (Ho + 2 (K - 1)) rows of stride floats, zero outside where spread writes.
static void image_grad(const float *g, const uint8_t *arg, const float *Wt, int64_t r, int64_t C, int64_t H,
                       int64_t W, float *pad, int64_t stride, float *o) {
  const int64_t Ho = H - K + 1, Wo = W - K + 1, Hp = Ho / 2, Wp = Wo / 2;
  for (int64_t c = 0; c < C; ++c) {
    const int64_t rc = r * C + c;
    spread(g + rc * Hp * Wp, arg + rc * Hp * Wp, Hp, Wp, pad + (K - 1) * stride + K - 1, stride);  // inside the zeros
    const float *k = Wt + rc * K * K;
    // out[y, x] += sum_{ki, kj} k[ki, kj] spread[y - ki, x - kj], rows y and y + 1 together: each padded
    // row's five shifted vectors loaded once for both (each output's taps summed in the same order)
    for (int64_t y = 0; y < H; y += 2) {
      const bool pair = y + 1 < H;
      for (int64_t x0 = 0; x0 < W; x0 += V) {
        const int64_t x = std::min<int64_t>(x0 + V, W) - V;
        vec up = c == 0 ? vec{} : load(o + y * W + x), down = c == 0 || !pair ? vec{} : load(o + (y + 1) * W + x);
#pragma GCC unroll 6
        for (int q = K; q >= 0; --q) {  // padded row y + q: tap row K - 1 - q of row y, K - q of row y + 1
          if (q == K && !pair) continue;  // (a last single row: past the padding)
          const float *p = pad + (y + q) * stride + x + K - 1;
          vec in[K];
#pragma GCC unroll 5
          for (int kj = 0; kj < K; ++kj) in[kj] = load(p - kj);
          if (q < K)
#pragma GCC unroll 5
            for (int kj = 0; kj < K; ++kj) up += k[(K - 1 - q) * K + kj] * in[kj];
          if (q > 0 && pair)
#pragma GCC unroll 5
            for (int kj = 0; kj < K; ++kj) down += k[(K - q) * K + kj] * in[kj];
        }
        for (int64_t row = 0; row < (pair ? 2 : 1); ++row) {
          const vec acc = row == 0 ? up : down;
          float *dst = o + (y + row) * W + x;
          if (x0 == x) {
            store(dst, acc);
          } else {  // an overlapping last block: only its new columns (the others already have this channel)
            vec prev = load(dst);
            for (int64_t v = x0 - x; v < V; ++v) prev[v] = acc[v];
            store(dst, prev);
          }
        }
      }
    }
  }
}

struct Transpose {  // the checked inputs of the transpose and its padded scratch rows
  int64_t R, C, M, H, W, Hp, Wp, stride;
  torch::Tensor g, arg, w;
};

static Transpose transpose_of(const torch::Tensor &g, const torch::Tensor &arg, const torch::Tensor &w, int64_t rep,
                              int64_t H, int64_t W, const char *name) {
  const int64_t R = w.size(0), C = w.size(1), M = g.size(0), Ho = H - K + 1, Wo = W - K + 1, Hp = Ho / 2, Wp = Wo / 2;
  TORCH_CHECK(g.scalar_type() == torch::kFloat && g.dim() == 4 && g.size(1) == R * C && g.size(2) == Hp && g.size(3) == Wp
              && rep > 0 && M % rep == 0 && arg.scalar_type() == torch::kUInt8 && arg.size(0) == M / rep
              && arg.size(1) == R * C && w.size(2) == K && w.size(3) == K && W >= V,
              "first_conv.", name, ": g [M, R*C, Ho/2, Wo/2], arg [M / rep, R*C, Ho/2, Wo/2], w [R, C, 5, 5]");
  const int64_t blocks = (Wp + V - 1) / V;
  return {R, C, M, H, W, Hp, Wp, blocks * 2 * V + 2 * (K - 1) + V, g.contiguous(), arg.contiguous(), w.contiguous()};
}

// The transpose (a Jacobian's rows, for the JSVs of Eq. 1): from g, gradients of forward's pooled output
// [M, R*C, Ho/2, Wo/2], where row m belongs to example m / rep (arg: forward's argmax for those examples,
// [M / rep, R*C, Ho/2, Wo/2]), the gradient with respect to the images, [R, M, H, W].
torch::Tensor input_grad(torch::Tensor g, torch::Tensor arg, torch::Tensor w, int64_t rep, int64_t H, int64_t W) {
  const Transpose t = transpose_of(g, arg, w, rep, H, W, "input_grad");
  const float *G = t.g.data_ptr<float>(), *Wt = t.w.data_ptr<float>();
  const uint8_t *A = t.arg.data_ptr<uint8_t>();
  auto out = torch::empty({t.R, t.M, H, W}, g.options());  // the first channel writes every element
  float *O = out.data_ptr<float>();
  std::vector<float> pad((H - K + 1 + 2 * (K - 1)) * t.stride, 0.f);  // K - 1 zeros on every side, never written
  const int64_t plane = t.R * t.C * t.Hp * t.Wp;
  for (int64_t m = 0; m < t.M; ++m)
    for (int64_t r = 0; r < t.R; ++r)
      image_grad(G + m * plane, A + (m / rep) * plane, Wt, r, t.C, H, W, pad.data(), t.stride, O + (r * t.M + m) * H * W);
  return out;
}

// The Gram matrices of the transpose's rows, example by example: [R, M / rep, rep, rep] in float64, G[a, b] the
// dot product of rows a and b of an example's Jacobian (its rows m = e rep + a, as input_grad computes them),
// summed in float64 from the float32 rows (their products exact). The Jacobian's singular values are the
// square roots of G's eigenvalues: for the JSVs, as accurate as a QR factor of the float32 rows and without
// writing the rows out (issue 36).
torch::Tensor input_gram(torch::Tensor g, torch::Tensor arg, torch::Tensor w, int64_t rep, int64_t H, int64_t W) {
  const Transpose t = transpose_of(g, arg, w, rep, H, W, "input_gram");
  const float *G = t.g.data_ptr<float>(), *Wt = t.w.data_ptr<float>();
  const uint8_t *A = t.arg.data_ptr<uint8_t>();
  const int64_t E = t.M / rep, HW = H * W, plane = t.R * t.C * t.Hp * t.Wp;
  auto out = torch::empty({t.R, E, rep, rep}, torch::dtype(torch::kDouble));
  double *O = out.data_ptr<double>();
  std::vector<float> pad((H - K + 1 + 2 * (K - 1)) * t.stride, 0.f), rows(rep * HW);
  std::vector<double> wide(rep * HW);
  typedef double dvec __attribute__((vector_size(8 * sizeof(double))));
  for (int64_t e = 0; e < E; ++e)
    for (int64_t r = 0; r < t.R; ++r) {
      for (int64_t a = 0; a < rep; ++a)
        image_grad(G + (e * rep + a) * plane, A + e * plane, Wt, r, t.C, H, W, pad.data(), t.stride, rows.data() + a * HW);
      for (int64_t i = 0; i < rep * HW; ++i) wide[i] = rows[i];
      double *gram = O + (r * E + e) * rep * rep;
      for (int64_t a = 0; a < rep; ++a)
        for (int64_t b = 0; b <= a; ++b) {
          const double *x = wide.data() + a * HW, *y = wide.data() + b * HW;
          dvec acc0 = {}, acc1 = {};
          int64_t i = 0;
          for (; i + 16 <= HW; i += 16) {
            dvec x0, y0, x1, y1;
            __builtin_memcpy(&x0, x + i, sizeof(dvec));
            __builtin_memcpy(&y0, y + i, sizeof(dvec));
            __builtin_memcpy(&x1, x + i + 8, sizeof(dvec));
            __builtin_memcpy(&y1, y + i + 8, sizeof(dvec));
            acc0 += x0 * y0;
            acc1 += x1 * y1;
          }
          double sum = 0.0;
          for (int v = 0; v < 8; ++v) sum += acc0[v] + acc1[v];
          for (; i < HW; ++i) sum += x[i] * y[i];
          gram[a * rep + b] = gram[b * rep + a] = sum;
        }
    }
  return out;
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("input_grad", &input_grad, "their gradient with respect to the images (a Jacobian's rows)");
  m.def("input_gram", &input_gram, "the Gram matrices of those rows, example by example, in float64");
  m.def("forward", &forward, "LeNet-5's first convolution and max-pool, for a stack of runs");
  m.def("weight_grad", &weight_grad, "their weight gradient");
}
