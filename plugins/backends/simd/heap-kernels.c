/*
 * The index-juggling parts of slimlab's wasm training kernels, compiled to
 * WebAssembly with SIMD (build.sh): im2col (transposed), col2im, the
 * max-pooling gradient, and the per-channel loops of fast-grads.ts and of
 * the depthwise gradients (batch-norm sums, the clip/ReLU6 mask). The module imports tfjs-backend-wasm's memory and
 * works on its tensors in place; every pointer is a byte offset into that
 * memory. Nothing here allocates or keeps state, and no function needs a
 * stack frame (build.sh checks that the module never touches a stack
 * pointer), so the module cannot write outside the buffers it is given.
 * The TypeScript versions in ../heap-kernels.ts define the semantics; the
 * wasm tests compare both against the cpu backend.
 */
#include <wasm_simd128.h>

#define EXPORT(name) __attribute__((export_name(name)))

static inline int imin(int a, int b) { return a < b ? a : b; }
static inline int imax(int a, int b) { return a > b ? a : b; }

/*
 * colsT[(a·fw + b)·C + ch][(img·outH + i)·outW + j] = xt[ch][img][i·sh + a·dh − pt][j·sw + b·dw − pl],
 * zero outside the image. xt is x transposed to [C, N, H, W].
 */
EXPORT("im2col_t")
void im2col_t(const float *restrict xt, float *restrict cols, int n, int h, int w, int c, int outH, int outW,
              int fh, int fw, int sh, int sw, int dh, int dw, int pt, int pl) {
  float *to = cols;
  for (int a = 0; a < fh; a++) {
    for (int b = 0; b < fw; b++) {
      const int off = b * dw - pl;
      const int j0 = imin(outW, off >= 0 ? 0 : (-off + sw - 1) / sw);
      const int lim = w - 1 - off;
      const int j1 = imax(j0, lim < 0 ? 0 : imin(outW, lim / sw + 1));
      for (int ch = 0; ch < c; ch++) {
        for (int img = 0; img < n; img++) {
          const float *plane = xt + (long)(ch * n + img) * h * w;
          for (int i = 0; i < outH; i++, to += outW) {
            const int ih = i * sh + a * dh - pt;
            if (ih < 0 || ih >= h) {
              for (int j = 0; j < outW; j++) to[j] = 0.0f;
              continue;
            }
            const float *row = plane + ih * w + off;
            for (int j = 0; j < j0; j++) to[j] = 0.0f;
            if (sw == 1) {
              for (int j = j0; j < j1; j++) to[j] = row[j];
            } else {
              for (int j = j0; j < j1; j++) to[j] = row[j * sw];
            }
            for (int j = j1; j < outW; j++) to[j] = 0.0f;
          }
        }
      }
    }
  }
}

/* dx[img][ih][iw][ch] = Σ cols[(img·outH + i)·outW + j][(a·fw + b)·C + ch] over the windows that read it. */
EXPORT("col2im")
void col2im(const float *restrict cols, float *restrict dx, int n, int h, int w, int c, int outH, int outW,
            int fh, int fw, int sh, int sw, int dh, int dw, int pt, int pl) {
  const long size = (long)n * h * w * c;
  for (long e = 0; e < size; e++) dx[e] = 0.0f;
  const int run = fw * c;
  const float *from = cols;
  for (int img = 0; img < n; img++) {
    for (int i = 0; i < outH; i++) {
      for (int j = 0; j < outW; j++) {
        const int iw0 = j * sw - pl;
        const int whole = dw == 1 && iw0 >= 0 && iw0 + fw <= w;
        for (int a = 0; a < fh; a++, from += run) {
          const int ih = i * sh + a * dh - pt;
          if (ih < 0 || ih >= h) continue;
          float *line = dx + ((long)(img * h + ih) * w) * c;
          if (whole) {
            float *to = line + iw0 * c;
            for (int e = 0; e < run; e++) to[e] += from[e];
            continue;
          }
          for (int b = 0; b < fw; b++) {
            const int iw = iw0 + b * dw;
            if (iw < 0 || iw >= w) continue;
            float *to = line + iw * c;
            for (int ch = 0; ch < c; ch++) to[ch] += from[b * c + ch];
          }
        }
      }
    }
  }
}

/*
 * Max-pooling gradient: each window's dy goes to its first maximum in
 * row-major order (strictly greater than everything before it, from −∞:
 * padding and NaN never win), four channels at a time.
 */
EXPORT("max_pool_grad")
void max_pool_grad(const float *restrict x, const float *restrict dy, float *restrict dx, int n, int h, int w, int c,
                   int outH, int outW, int fh, int fw, int sh, int sw, int pt, int pl) {
  const long size = (long)n * h * w * c;
  for (long e = 0; e < size; e++) dx[e] = 0.0f;
  const float *g = dy;
  for (int img = 0; img < n; img++) {
    for (int i = 0; i < outH; i++) {
      const int a0 = imax(0, pt - i * sh), a1 = imin(fh, h + pt - i * sh);
      for (int j = 0; j < outW; j++, g += c) {
        const int b0 = imax(0, pl - j * sw), b1 = imin(fw, w + pl - j * sw);
        int ch = 0;
        for (; ch + 4 <= c; ch += 4) {
          v128_t best = wasm_f32x4_splat(-__builtin_inff());
          v128_t where = wasm_i32x4_splat(-1);
          for (int a = a0; a < a1; a++) {
            for (int b = b0; b < b1; b++) {
              const int at = ((img * h + i * sh + a - pt) * w + j * sw + b - pl) * c + ch;
              const v128_t v = wasm_v128_load(x + at);
              const v128_t wins = wasm_f32x4_gt(v, best);
              best = wasm_v128_bitselect(v, best, wins);
              where = wasm_v128_bitselect(wasm_i32x4_add(wasm_i32x4_splat(at), wasm_i32x4_make(0, 1, 2, 3)), where, wins);
            }
          }
          int idx[4] = {wasm_i32x4_extract_lane(where, 0), wasm_i32x4_extract_lane(where, 1), wasm_i32x4_extract_lane(where, 2), wasm_i32x4_extract_lane(where, 3)};
          for (int k = 0; k < 4; k++) if (idx[k] >= 0) dx[idx[k]] += g[ch + k];
        }
        for (; ch < c; ch++) {
          float best = -__builtin_inff();
          int where = -1;
          for (int a = a0; a < a1; a++) {
            for (int b = b0; b < b1; b++) {
              const int at = ((img * h + i * sh + a - pt) * w + j * sw + b - pl) * c + ch;
              if (x[at] > best) {
                best = x[at];
                where = at;
              }
            }
          }
          if (where >= 0) dx[where] += g[ch];
        }
      }
    }
  }
}

/*
 * Batch-norm gradient sums over the rows of [rows, c] tensors (all axes but
 * the channel): sd[ch] = Σ dy, sdx[ch] = Σ dy·(x − mean[ch]), in float32,
 * four channels at a time.
 */
EXPORT("channel_sums")
void channel_sums(const float *restrict dy, const float *restrict x, const float *restrict mean, float *restrict sd,
                  float *restrict sdx, int rows, int c) {
  for (int ch = 0; ch < c; ch++) sd[ch] = sdx[ch] = 0.0f;
  for (int r = 0; r < rows; r++) {
    const float *g = dy + (long)r * c, *v = x + (long)r * c;
    int ch = 0;
    for (; ch + 4 <= c; ch += 4) {
      const v128_t gv = wasm_v128_load(g + ch);
      const v128_t d = wasm_f32x4_sub(wasm_v128_load(v + ch), wasm_v128_load(mean + ch));
      wasm_v128_store(sd + ch, wasm_f32x4_add(wasm_v128_load(sd + ch), gv));
      wasm_v128_store(sdx + ch, wasm_f32x4_add(wasm_v128_load(sdx + ch), wasm_f32x4_mul(gv, d)));
    }
    for (; ch < c; ch++) {
      sd[ch] += g[ch];
      sdx[ch] += g[ch] * (v[ch] - mean[ch]);
    }
  }
}

/*
 * out = dy where lo ≤ x ≤ hi (lo < x ≤ hi when openLow), 0 elsewhere and
 * where x is NaN (every comparison with NaN is false): the gradient of
 * clipping and of ReLU6.
 */
EXPORT("mask_grad")
void mask_grad(const float *restrict dy, const float *restrict x, float *restrict out, int size, float lo, float hi,
               int openLow) {
  const v128_t vlo = wasm_f32x4_splat(lo), vhi = wasm_f32x4_splat(hi), zero = wasm_f32x4_splat(0.0f);
  int e = 0;
  for (; e + 4 <= size; e += 4) {
    const v128_t v = wasm_v128_load(x + e);
    const v128_t low = openLow ? wasm_f32x4_gt(v, vlo) : wasm_f32x4_ge(v, vlo);
    const v128_t in = wasm_v128_and(low, wasm_f32x4_le(v, vhi));
    wasm_v128_store(out + e, wasm_v128_bitselect(wasm_v128_load(dy + e), zero, in));
  }
  for (; e < size; e++) out[e] = ((openLow ? x[e] > lo : x[e] >= lo) && x[e] <= hi) ? dy[e] : 0.0f;
}

/*
 * Depthwise convolution gradients for a channel multiplier of 1 (NHWC,
 * filter [fh, fw, C, 1]), four channels at a time:
 *   dw[a][b][ch] = Σ_{img,i,j} x[img][i·sh + a·dh − pt][j·sw + b·dw − pl][ch] · dy[img][i][j][ch]
 *   dx[img][ih][iw][ch] = Σ over the windows (i, j, a, b) that read it of dy[img][i][j][ch] · f[a][b][ch]
 */
EXPORT("depthwise_filter_grad")
void depthwise_filter_grad(const float *restrict x, const float *restrict dy, float *restrict dw, int n, int h, int w,
                           int c, int outH, int outW, int fh, int fw, int sh, int sw, int dh, int dwl, int pt, int pl) {
  for (int e = 0; e < fh * fw * c; e++) dw[e] = 0.0f;
  for (int a = 0; a < fh; a++) {
    for (int b = 0; b < fw; b++) {
      float *acc = dw + (a * fw + b) * c;
      for (int img = 0; img < n; img++) {
        for (int i = 0; i < outH; i++) {
          const int ih = i * sh + a * dh - pt;
          if (ih < 0 || ih >= h) continue;
          for (int j = 0; j < outW; j++) {
            const int iw = j * sw + b * dwl - pl;
            if (iw < 0 || iw >= w) continue;
            const float *xv = x + ((long)(img * h + ih) * w + iw) * c;
            const float *g = dy + ((long)(img * outH + i) * outW + j) * c;
            int ch = 0;
            for (; ch + 4 <= c; ch += 4)
              wasm_v128_store(acc + ch, wasm_f32x4_add(wasm_v128_load(acc + ch), wasm_f32x4_mul(wasm_v128_load(xv + ch), wasm_v128_load(g + ch))));
            for (; ch < c; ch++) acc[ch] += xv[ch] * g[ch];
          }
        }
      }
    }
  }
}

EXPORT("depthwise_input_grad")
void depthwise_input_grad(const float *restrict dy, const float *restrict f, float *restrict dx, int n, int h, int w,
                          int c, int outH, int outW, int fh, int fw, int sh, int sw, int dh, int dwl, int pt, int pl) {
  const long size = (long)n * h * w * c;
  for (long e = 0; e < size; e++) dx[e] = 0.0f;
  for (int img = 0; img < n; img++) {
    for (int i = 0; i < outH; i++) {
      for (int j = 0; j < outW; j++) {
        const float *g = dy + ((long)(img * outH + i) * outW + j) * c;
        for (int a = 0; a < fh; a++) {
          const int ih = i * sh + a * dh - pt;
          if (ih < 0 || ih >= h) continue;
          for (int b = 0; b < fw; b++) {
            const int iw = j * sw + b * dwl - pl;
            if (iw < 0 || iw >= w) continue;
            float *to = dx + ((long)(img * h + ih) * w + iw) * c;
            const float *fv = f + (a * fw + b) * c;
            int ch = 0;
            for (; ch + 4 <= c; ch += 4)
              wasm_v128_store(to + ch, wasm_f32x4_add(wasm_v128_load(to + ch), wasm_f32x4_mul(wasm_v128_load(g + ch), wasm_v128_load(fv + ch))));
            for (; ch < c; ch++) to[ch] += g[ch] * fv[ch];
          }
        }
      }
    }
  }
}

/* column_sums over channels [ch0, ch0 + 4·n) of every row, n = 1, 2 or 4 vectors: the sums stay in registers for the whole pass. */
static inline void column_sums_block(const float *restrict x, float *restrict out, int rows, int c, float scale, int ch0, int n) {
  v128_t acc[4];
  for (int i = 0; i < n; i++) acc[i] = wasm_f32x4_splat(0.0f);
  for (int r = 0; r < rows; r++) {
    const float *v = x + (long)r * c + ch0;
    for (int i = 0; i < n; i++) acc[i] = wasm_f32x4_add(acc[i], wasm_v128_load(v + 4 * i));
  }
  const v128_t k = wasm_f32x4_splat(scale);
  for (int i = 0; i < n; i++) wasm_v128_store(out + ch0 + 4 * i, wasm_f32x4_mul(acc[i], k));
}

/*
 * out[ch] = scale · Σ_r x[r][ch] over the rows of a [rows, c] tensor, in
 * passes over blocks of 16, 8 and 4 channels, then the rest one by one:
 * Sum and Mean over every axis but the last (a bias gradient, batch-norm
 * statistics) without transposing the tensor first.
 */
EXPORT("column_sums")
void column_sums(const float *restrict x, float *restrict out, int rows, int c, float scale) {
  int ch = 0;
  for (; ch + 16 <= c; ch += 16) column_sums_block(x, out, rows, c, scale, ch, 4);
  if (ch + 8 <= c) column_sums_block(x, out, rows, c, scale, ch, 2), ch += 8;
  if (ch + 4 <= c) column_sums_block(x, out, rows, c, scale, ch, 1), ch += 4;
  for (int k = ch; k < c; k++) {
    float acc = 0.0f;
    for (int r = 0; r < rows; r++) acc += x[(long)r * c + k];
    out[k] = acc * scale;
  }
}

/* (v − m) · k + o for four channels: the batch-norm formula of batch_norm below. */
#define BN4(v, m, k, o) wasm_f32x4_add(wasm_f32x4_mul(wasm_f32x4_sub((v), (m)), (k)), (o))

/*
 * batch_norm over channels [ch0, ch0 + 4·n) of every row, n = 1, 2 or 4
 * vectors (a constant once inlined): the parameters stay in registers for the
 * whole pass, so a row costs loads, arithmetic and stores only.
 */
static inline void batch_norm_block(const float *restrict x, const float *restrict p, float *restrict out, int rows, int c, int ch0, int n) {
  const float *mean = p + ch0, *a = p + c + ch0, *offset = p + 2 * c + ch0;
  v128_t m[4], k[4], o[4];
  for (int i = 0; i < n; i++) m[i] = wasm_v128_load(mean + 4 * i), k[i] = wasm_v128_load(a + 4 * i), o[i] = wasm_v128_load(offset + 4 * i);
  for (int r = 0; r < rows; r++) {
    const long e = (long)r * c + ch0;
    for (int i = 0; i < n; i++) wasm_v128_store(out + e + 4 * i, BN4(wasm_v128_load(x + e + 4 * i), m[i], k[i], o[i]));
  }
}

/*
 * Batch normalisation of a [rows, c] tensor with per-channel parameters
 * packed as p = [mean | a | offset] (3·c floats, a = scale / √(variance + ε)):
 *   out[r][ch] = (x[r][ch] − mean[ch]) · a[ch] + offset[ch],
 * in passes over blocks of 16, 8 and 4 channels, then the rest one by one.
 * wasm's own kernel takes a square root and a division per element.
 */
EXPORT("batch_norm")
void batch_norm(const float *restrict x, const float *restrict p, float *restrict out, int rows, int c) {
  int ch = 0;
  for (; ch + 16 <= c; ch += 16) batch_norm_block(x, p, out, rows, c, ch, 4);
  if (ch + 8 <= c) batch_norm_block(x, p, out, rows, c, ch, 2), ch += 8;
  if (ch + 4 <= c) batch_norm_block(x, p, out, rows, c, ch, 1), ch += 4;
  if (ch == c) return;
  const float *mean = p, *a = p + c, *offset = p + 2 * c;
  for (int r = 0; r < rows; r++)
    for (int k = ch; k < c; k++) out[(long)r * c + k] = (x[(long)r * c + k] - mean[k]) * a[k] + offset[k];
}

/* channel_add over channels [ch0, ch0 + 4·n) of every row, n = 1, 2 or 4 vectors, the bias held in registers. */
static inline void channel_add_block(const float *restrict x, const float *restrict b, float *restrict out, int rows, int c, int ch0, int n) {
  v128_t v[4];
  for (int i = 0; i < n; i++) v[i] = wasm_v128_load(b + ch0 + 4 * i);
  for (int r = 0; r < rows; r++) {
    const long e = (long)r * c + ch0;
    for (int i = 0; i < n; i++) wasm_v128_store(out + e + 4 * i, wasm_f32x4_add(wasm_v128_load(x + e + 4 * i), v[i]));
  }
}

/*
 * out[r][ch] = x[r][ch] + b[ch] for a [rows, c] tensor and one value per
 * channel (a layer's bias, added as [1, 1, 1, c]), in passes over blocks of
 * 16, 8 and 4 channels as batch_norm. wasm's Add takes its generic
 * broadcasting path for this, several times slower than a plain elementwise add.
 */
EXPORT("channel_add")
void channel_add(const float *restrict x, const float *restrict b, float *restrict out, int rows, int c) {
  int ch = 0;
  for (; ch + 16 <= c; ch += 16) channel_add_block(x, b, out, rows, c, ch, 4);
  if (ch + 8 <= c) channel_add_block(x, b, out, rows, c, ch, 2), ch += 8;
  if (ch + 4 <= c) channel_add_block(x, b, out, rows, c, ch, 1), ch += 4;
  for (int r = 0; ch < c && r < rows; r++)
    for (int k = ch; k < c; k++) out[(long)r * c + k] = x[(long)r * c + k] + b[k];
}
