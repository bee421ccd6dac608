// One training step of a stack of R plain MLPs (MLP-7 of Tables 1, 3 and 7, pruned or not): each run's mean
// cross-entropy on its own batch and the gradients of every layer, in one call (issue 36).
//
// A pruned MLP-7 is tiny (ten or twenty units a layer) except for its first layer (1024 inputs), so on the
// pure-PyTorch path its step is mostly dispatch (autograd, fourteen batched products, the loss) and the first
// layer's skinny products (N = 10), which the CPU's BLAS runs at a quarter of its peak. Here, per run:
// * the first layer reads each example's row where the dataset holds it (no gathered copy of the batch),
//   four rows at a time against blocks of up to MAXB / 2 output units, in GCC's portable vectors
//   (-march=native), fetching the next four rows from memory as it goes; its weight gradient sums the rows
//   (read again, from the cache) against blocks of up to MAXB output units;
// * the other layers keep their activations batch-minor ([units, B]) and run in blocks (four units by two
//   vectors of the batch; two units by four inputs for the weight gradient) whose sums stay in registers, each
//   input's vectors loaded once for the block: a step of ten runs at 20 units a layer 2.1 -> 1.5 ms, the same
//   numbers bit for bit for a batch of 100 (every sum over the same terms in the same order as a unit at a time);
// * the loss is log-softmax and negative log-likelihood, averaged over the batch, as F.cross_entropy.
// Same sums in another order: results differ from the pure-PyTorch path (dipcore.stacked_layers, the reference
// and the fallback) by float32 rounding (tests/test_kernels.py). The runs are independent: spread over threads.
#include <torch/extension.h>
#include <ATen/Parallel.h>
#include <algorithm>
#include <array>
#include <utility>
#include <cmath>
#include <vector>

constexpr int V = 8;    // floats per vector
#ifdef __AVX512F__
constexpr int MAXB = 10;  // the first layer's output units per block: 20 accumulators (two per unit) of 32 registers
#else
constexpr int MAXB = 6;   // 12 accumulators of 16 registers
#endif
typedef float vec __attribute__((vector_size(V * sizeof(float))));
static inline vec load(const float *p) { vec v; __builtin_memcpy(&v, p, sizeof(vec)); return v; }
static inline void store(float *p, vec v) { __builtin_memcpy(p, &v, sizeof(vec)); }
static inline float hsum(vec v) {
  float s = 0.f;
  for (int i = 0; i < V; ++i) s += v[i];
  return s;
}

// The hidden layers, [units, B] batch-minor, in blocks of NO units by NK vectors of the batch, the sums in
// registers (each input's vectors loaded once for the block's units). Every sum runs over the same terms in
// the same order as one unit at a time: bit for bit the results of those loops.

// dst[o, k] = bias[o] + sum_i W[o, i] src[i, k] (i in order) for the NO units o0.., batch columns [k, k + NK V)
template <int NO, int NK>
static inline void hidden_block(const float *W, const float *bias, const float *__restrict src, float *__restrict dst,
                                int64_t in, int64_t B, int64_t o0, int64_t k) {
  vec acc[NO][NK];
  for (int j = 0; j < NO; ++j)
    for (int v = 0; v < NK; ++v) acc[j][v] = bias[o0 + j] - vec{};
  for (int64_t i = 0; i < in; ++i) {
    vec s[NK];
    for (int v = 0; v < NK; ++v) s[v] = load(src + i * B + k + v * V);
    for (int j = 0; j < NO; ++j)
      for (int v = 0; v < NK; ++v) acc[j][v] += W[(o0 + j) * in + i] * s[v];
  }
  for (int j = 0; j < NO; ++j)
    for (int v = 0; v < NK; ++v) store(dst + (o0 + j) * B + k + v * V, acc[j][v]);
}

// gp[i, k] = sum_o W[o, i] g[o, k] (o in order, from zero) for the NI inputs i0.., batch columns [k, k + NK V)
template <int NI, int NK>
static inline void back_block(const float *W, const float *__restrict g, float *__restrict gp, int64_t in, int64_t out,
                              int64_t B, int64_t i0, int64_t k) {
  vec acc[NI][NK] = {};
  for (int64_t o = 0; o < out; ++o) {
    vec gv[NK];
    for (int v = 0; v < NK; ++v) gv[v] = load(g + o * B + k + v * V);
    for (int j = 0; j < NI; ++j)
      for (int v = 0; v < NK; ++v) acc[j][v] += W[o * in + i0 + j] * gv[v];
  }
  for (int j = 0; j < NI; ++j)
    for (int v = 0; v < NK; ++v) store(gp + (i0 + j) * B + k + v * V, acc[j][v]);
}

// block<NU, NK>(u, k) over every unit u (of n) and whole vector of the batch: blocks of 4 units by 2 vectors,
// then the rest
template <class Block>
static inline void sweep(int64_t n, int64_t B, Block block) {
  int64_t u = 0;
  for (; u + 4 <= n; u += 4) {
    int64_t k = 0;
    for (; k + 2 * V <= B; k += 2 * V) block.template operator()<4, 2>(u, k);
    for (; k + V <= B; k += V) block.template operator()<4, 1>(u, k);
  }
  for (; u < n; ++u) {
    int64_t k = 0;
    for (; k + 2 * V <= B; k += 2 * V) block.template operator()<1, 2>(u, k);
    for (; k + V <= B; k += V) block.template operator()<1, 1>(u, k);
  }
}

// the hidden layer's forward pass, every unit and batch column
static void hidden_forward(const float *W, const float *bias, const float *__restrict src, float *__restrict dst,
                           int64_t in, int64_t out, int64_t B) {
  sweep(out, B, [&]<int NO, int NK>(int64_t o, int64_t k) { hidden_block<NO, NK>(W, bias, src, dst, in, B, o, k); });
  for (int64_t oo = 0; oo < out; ++oo)  // the batch columns past the last whole vector
    for (int64_t k = B / V * V; k < B; ++k) {
      float z = bias[oo];
      for (int64_t i = 0; i < in; ++i) z = std::fma(W[oo * in + i], src[i * B + k], z);
      dst[oo * B + k] = z;
    }
}

// the gradient with respect to the hidden layer's input, every input and batch column
static void hidden_back(const float *W, const float *__restrict g, float *__restrict gp, int64_t in, int64_t out,
                        int64_t B) {
  sweep(in, B, [&]<int NI, int NK>(int64_t i, int64_t k) { back_block<NI, NK>(W, g, gp, in, out, B, i, k); });
  for (int64_t ii = 0; ii < in; ++ii)
    for (int64_t k = B / V * V; k < B; ++k) {
      float s = 0.f;
      for (int64_t o = 0; o < out; ++o) s = std::fma(W[o * in + ii], g[o * B + k], s);
      gp[ii * B + k] = s;
    }
}

// gW[o, i] = sum_k g[o, k] src[i, k] for NO units o0.. and NI inputs i0..: per pair two vector accumulators
// (alternate vectors of the batch; a float reduction the compiler does not reorder by itself), each g and src
// vector loaded once for the block
template <int NO, int NI>
static inline void grad_block(const float *__restrict g, const float *__restrict src, float *gW, int64_t in,
                              int64_t B, int64_t o0, int64_t i0) {
  vec acc0[NO][NI] = {}, acc1[NO][NI] = {};
  int64_t k = 0;
  for (; k + 2 * V <= B; k += 2 * V) {
    vec a0[NO], a1[NO];
    for (int p = 0; p < NO; ++p) {
      a0[p] = load(g + (o0 + p) * B + k);
      a1[p] = load(g + (o0 + p) * B + k + V);
    }
    for (int q = 0; q < NI; ++q) {
      const vec b0 = load(src + (i0 + q) * B + k), b1 = load(src + (i0 + q) * B + k + V);
      for (int p = 0; p < NO; ++p) {
        acc0[p][q] += a0[p] * b0;
        acc1[p][q] += a1[p] * b1;
      }
    }
  }
  for (; k + V <= B; k += V)
    for (int p = 0; p < NO; ++p)
      for (int q = 0; q < NI; ++q) acc0[p][q] += load(g + (o0 + p) * B + k) * load(src + (i0 + q) * B + k);
  for (int p = 0; p < NO; ++p)
    for (int q = 0; q < NI; ++q) {
      float s = hsum(acc0[p][q] + acc1[p][q]);
      for (int64_t t = k; t < B; ++t) {  // each product rounded, then added: as the loop of one pair at a time
        volatile float product = g[(o0 + p) * B + t] * src[(i0 + q) * B + t];  // compiled (a batch of 100: four
        s += product;                                                            // products in one vector)
      }
      gW[(o0 + p) * in + i0 + q] = s;
    }
}

// the hidden layer's weight gradient, every unit and input (blocks of 2 units by 4 inputs, then the rest)
static void hidden_grad(const float *__restrict g, const float *__restrict src, float *gW, int64_t in, int64_t out,
                        int64_t B) {
  for (int64_t o = 0; o < out; o += 2) {
    const bool two = o + 2 <= out;
    int64_t i = 0;
    for (; i + 4 <= in; i += 4)
      two ? grad_block<2, 4>(g, src, gW, in, B, o, i) : grad_block<1, 4>(g, src, gW, in, B, o, i);
    for (; i < in; ++i)
      two ? grad_block<2, 1>(g, src, gW, in, B, o, i) : grad_block<1, 1>(g, src, gW, in, B, o, i);
  }
}

enum Act : int64_t { NONE = 0, RELU = 1, TANH = 2 };

// z[o, b] = bias[o] + W[o, :] . rows[b][:] for the NB units o0.. and the NR rows b0..: z batch-minor (z[o * B + b])
template <int NB, int NR>
static void first_block(const float *const *rows, int64_t b0, int64_t B, int64_t D, const float *W,
                        const float *bias, int64_t o0, float *z) {
  vec acc[NR][NB] = {};
  const bool ahead = o0 == 0 && b0 + 2 * NR <= B;  // the first block of units fetches the next rows' parts as it goes
  int64_t d = 0;
  for (; d + V <= D; d += V) {
    if (ahead && d % 16 == 0)
      for (int n = 0; n < NR; ++n) __builtin_prefetch(rows[b0 + NR + n] + d);
    vec xv[NR];
    for (int n = 0; n < NR; ++n) xv[n] = load(rows[b0 + n] + d);
    for (int j = 0; j < NB; ++j) {
      const vec w = load(W + (o0 + j) * D + d);
      for (int n = 0; n < NR; ++n) acc[n][j] += w * xv[n];
    }
  }
  for (int n = 0; n < NR; ++n)
    for (int j = 0; j < NB; ++j) {
      float s = hsum(acc[n][j]);
      for (int64_t t = d; t < D; ++t) s += W[(o0 + j) * D + t] * rows[b0 + n][t];
      z[(o0 + j) * B + b0 + n] = s + bias[o0 + j];
    }
}

// gW[o, :] = sum_b gz[o, b] rows[b][:] for the NB units o0..
template <int NB>
static void first_grad_block(const float *const *rows, int64_t B, int64_t D, const float *gz, int64_t o0,
                             float *gW) {
  int64_t d = 0;
  for (; d + 2 * V <= D; d += 2 * V) {
    vec acc[NB][2] = {};
    for (int64_t b = 0; b < B; ++b) {
      __builtin_prefetch(rows[b] + d + 8 * V);  // the row's part four blocks on: a hundred rows are too many
                                               // streams for the hardware's prefetcher
      const vec x0 = load(rows[b] + d), x1 = load(rows[b] + d + V);
      for (int j = 0; j < NB; ++j) {
        const float g = gz[(o0 + j) * B + b];
        acc[j][0] += g * x0;
        acc[j][1] += g * x1;
      }
    }
    for (int j = 0; j < NB; ++j) {
      store(gW + (o0 + j) * D + d, acc[j][0]);
      store(gW + (o0 + j) * D + d + V, acc[j][1]);
    }
  }
  for (; d < D; ++d)
    for (int j = 0; j < NB; ++j) {
      float s = 0.f;
      for (int64_t b = 0; b < B; ++b) s += gz[(o0 + j) * B + b] * rows[b][d];
      gW[(o0 + j) * D + d] = s;
    }
}

// the H units in blocks of at most MAXB, as even as can be: (first unit, size) of each
static std::vector<std::pair<int64_t, int>> blocks(int64_t H, int64_t most = MAXB) {
  const int64_t n = (H + most - 1) / most;
  std::vector<std::pair<int64_t, int>> out;
  for (int64_t k = 0, o = 0; k < n; ++k) {
    const int size = int(H / n + (k < H % n));
    out.emplace_back(o, size);
    o += size;
  }
  return out;
}

// the block functions for every block size 1..MAXB, so that a block's size is known when it is compiled
template <int NR, int... NB>
static constexpr auto first_blocks(std::integer_sequence<int, NB...>) {
  return std::array{&first_block<NB + 1, NR>...};
}
template <int... NB>
static constexpr auto first_grad_blocks(std::integer_sequence<int, NB...>) {
  return std::array{&first_grad_block<NB + 1>...};
}
static constexpr auto FIRST_1 = first_blocks<1>(std::make_integer_sequence<int, MAXB>{});
constexpr int MAXB4 = MAXB / 2;  // the forward's four rows: as many accumulators
static constexpr auto FIRST_4 = first_blocks<4>(std::make_integer_sequence<int, MAXB4>{});
static constexpr auto FIRST_GRAD = first_grad_blocks(std::make_integer_sequence<int, MAXB>{});

static inline void activate(int64_t act, float *a, int64_t n) {
  if (act == RELU)
    for (int64_t i = 0; i < n; ++i) a[i] = a[i] > 0.f ? a[i] : 0.f;
  else if (act == TANH)
    for (int64_t i = 0; i < n; ++i) a[i] = std::tanh(a[i]);
}

// the gradient with respect to a layer's input z from the one with respect to its output a = act(z)
static inline void activate_back(int64_t act, const float *a, float *g, int64_t n) {
  if (act == RELU)
    for (int64_t i = 0; i < n; ++i) g[i] = a[i] > 0.f ? g[i] : 0.f;
  else if (act == TANH)
    for (int64_t i = 0; i < n; ++i) g[i] *= 1.f - a[i] * a[i];
}

// Each run's mean loss on its batch (rows idx[r] of the dataset x [N, D], labels y [N]) and, with grads, the
// gradient of that loss for every layer's weight [R, out, in] and bias [R, out]: {loss [R], gW..., gb...}.
// acts[l]: the activation after layer l (NONE after the last).
std::vector<torch::Tensor> step(torch::Tensor x, torch::Tensor idx, torch::Tensor y, std::vector<torch::Tensor> weights,
                                std::vector<torch::Tensor> biases, std::vector<int64_t> acts, bool grads) {
  const int64_t L = int64_t(weights.size()), R = idx.size(0), B = idx.size(1), D = x.size(1), N = x.size(0);
  TORCH_CHECK(x.device().is_cpu() && x.scalar_type() == torch::kFloat && x.dim() == 2 && x.is_contiguous(),
              "mlp_step: the dataset as contiguous float32 rows [N, D] on the CPU");
  TORCH_CHECK(idx.scalar_type() == torch::kLong && idx.dim() == 2 && idx.is_contiguous(), "mlp_step: idx [R, B], int64");
  TORCH_CHECK(y.scalar_type() == torch::kLong && y.dim() == 1 && y.size(0) == N, "mlp_step: labels y [N], int64");
  TORCH_CHECK(L >= 1 && int64_t(biases.size()) == L && int64_t(acts.size()) == L, "mlp_step: one bias and activation per layer");
  std::vector<int64_t> width{D};
  for (int64_t l = 0; l < L; ++l) {
    const auto &w = weights[l], &b = biases[l];
    TORCH_CHECK(w.scalar_type() == torch::kFloat && w.dim() == 3 && w.is_contiguous() && w.size(0) == R &&
                    w.size(2) == width.back(),
                "mlp_step: weight ", l, " must be contiguous float32 [R, out, in] following the layer before");
    TORCH_CHECK(b.scalar_type() == torch::kFloat && b.dim() == 2 && b.is_contiguous() && b.size(0) == R &&
                    b.size(1) == w.size(1),
                "mlp_step: bias ", l, " must be contiguous float32 [R, out]");
    width.push_back(w.size(1));
  }
  const int64_t C = width.back();
  auto loss = torch::empty({R}, x.options());
  std::vector<torch::Tensor> gws, gbs;
  for (int64_t l = 0; l < L && grads; ++l) {
    gws.push_back(torch::empty_like(weights[l]));
    gbs.push_back(torch::empty_like(biases[l]));
  }
  const float *X = x.data_ptr<float>();
  const int64_t *I = idx.data_ptr<int64_t>(), *Y = y.data_ptr<int64_t>();
  for (int64_t r = 0; r < R; ++r)
    for (int64_t b = 0; b < B; ++b)
      TORCH_CHECK(I[r * B + b] >= 0 && I[r * B + b] < N, "mlp_step: an index outside the dataset");

  at::parallel_for(0, R, 1, [&](int64_t r0, int64_t r1) {
    std::vector<const float *> rows(B);
    std::vector<std::vector<float>> a(L);  // each layer's output, batch-minor: [width, B]
    for (int64_t l = 0; l < L; ++l) a[l].resize(width[l + 1] * B);
    std::vector<float> g, gprev;
    for (int64_t r = r0; r < r1; ++r) {
      for (int64_t b = 0; b < B; ++b) rows[b] = X + I[r * B + b] * D;
      // forward
      const float *W0 = weights[0].data_ptr<float>() + r * width[1] * D, *b0 = biases[0].data_ptr<float>() + r * width[1];
      const auto units = blocks(width[1]);
      const auto units4 = blocks(width[1], MAXB4);
      int64_t b = 0;
      for (int64_t n = 0; n < 4 && n < B; ++n)  // the first rows' starts (the blocks fetch the rest ahead)
        for (int64_t d = 0; d < 64; d += 16) __builtin_prefetch(rows[n] + d);
      for (; b + 4 <= B; b += 4) {
        for (auto [o0, nb] : units4) FIRST_4[nb - 1](rows.data(), b, B, D, W0, b0, o0, a[0].data());
      }
      for (; b < B; ++b)
        for (auto [o0, nb] : units) FIRST_1[nb - 1](rows.data(), b, B, D, W0, b0, o0, a[0].data());
      activate(acts[0], a[0].data(), width[1] * B);
      for (int64_t l = 1; l < L; ++l) {
        const int64_t in = width[l], out = width[l + 1];
        const float *W = weights[l].data_ptr<float>() + r * out * in, *bias = biases[l].data_ptr<float>() + r * out;
        const float *__restrict src = a[l - 1].data();
        float *__restrict dst = a[l].data();
        hidden_forward(W, bias, src, dst, in, out, B);
        activate(acts[l], dst, out * B);
      }
      // the loss, and its gradient with respect to the logits: (softmax - one-hot) / B
      const float *z = a[L - 1].data();
      g.assign(C * B, 0.f);
      double total = 0.0;
      for (int64_t k = 0; k < B; ++k) {
        float m = z[k];
        for (int64_t c = 1; c < C; ++c) m = std::max(m, z[c * B + k]);
        float s = 0.f;
        for (int64_t c = 0; c < C; ++c) s += (g[c * B + k] = std::exp(z[c * B + k] - m));
        const int64_t label = Y[I[r * B + k]];
        TORCH_CHECK(label >= 0 && label < C, "mlp_step: a label outside the network's classes");
        total += std::log(s) - (z[label * B + k] - m);
        const float scale = 1.f / (s * float(B));
        for (int64_t c = 0; c < C; ++c) g[c * B + k] *= scale;
        g[label * B + k] -= 1.f / float(B);
      }
      loss.data_ptr<float>()[r] = float(total / double(B));
      if (!grads) continue;
      // backward: g is the gradient with respect to layer l's output before its activation
      for (int64_t l = L - 1; l >= 0; --l) {
        const int64_t in = width[l], out = width[l + 1];
        float *gW = gws[l].data_ptr<float>() + r * out * in, *gb = gbs[l].data_ptr<float>() + r * out;
        for (int64_t o = 0; o < out; ++o) {
          float s = 0.f;
          for (int64_t k = 0; k < B; ++k) s += g[o * B + k];
          gb[o] = s;  // (B terms: a scalar sum is cheap here)
        }
        if (l == 0) {
          for (auto [o0, nb] : blocks(out)) FIRST_GRAD[nb - 1](rows.data(), B, D, g.data(), o0, gW);
          break;
        }
        const float *W = weights[l].data_ptr<float>() + r * out * in;
        const float *__restrict src = a[l - 1].data();
        gprev.resize(in * B);
        hidden_grad(g.data(), src, gW, in, out, B);
        hidden_back(W, g.data(), gprev.data(), in, out, B);
        activate_back(acts[l - 1], src, gprev.data(), in * B);
        std::swap(g, gprev);
      }
    }
  });
  std::vector<torch::Tensor> out{loss};
  out.insert(out.end(), gws.begin(), gws.end());
  out.insert(out.end(), gbs.begin(), gbs.end());
  return out;
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("step", &step, "each run's mean loss on its batch and every layer's gradients (a stack of plain MLPs)");
}
