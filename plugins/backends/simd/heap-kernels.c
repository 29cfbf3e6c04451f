/*
 * The index-juggling parts of slimlab's wasm training kernels, compiled to
 * WebAssembly with SIMD (build.sh): im2col (transposed), col2im and the
 * max-pooling gradient. The module imports tfjs-backend-wasm's memory and
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
