/* fast_rope_kv.c — front end of one decode step's rope(q), rope(k) and
 * KV-cache writes as one node (src/backend/cpu/fast_fused.h), an internal
 * mlxc op used by src/lm/cache.c. The node's output is the cache's "joint"
 * buffer (keys, values, then the rotated q); the caller takes views of it. */
#include <string.h>

#include "../backend/cpu/fast_fused.h"
#include "ops_common.h"

static const mx_primitive prim_rope_kv = {"fast_rope_kv", cpu_fast_rope_kv, NULL};

static bool float_dtype(mx_dtype t) {
  return t == MX_FLOAT32 || t == MX_FLOAT16 || t == MX_BFLOAT16;
}

static bool dims_are(mx_array a, int64_t d0, int64_t d1, int64_t d2, int64_t d3) {
  return a->ndim == 4 && a->shape[0] == d0 && a->shape[1] == d1 && a->shape[2] == d2 &&
         a->shape[3] == d3;
}

/* Every element a (d0, d1, 1, D) view with strides st at offset off reaches
 * lies inside base. */
static bool view_inside(mx_array base, int64_t off, const int64_t *st, int64_t d0, int64_t d1,
                        int64_t D) {
  const int64_t shape[4] = {d0, d1, 1, D};
  int64_t lo = off, hi = off;
  for (int i = 0; i < 4; i++) {
    int64_t reach;
    if (__builtin_mul_overflow(st[i], shape[i] - 1, &reach)) return false;
    if (reach > 0 ? __builtin_add_overflow(hi, reach, &hi) : __builtin_add_overflow(lo, reach, &lo))
      return false;
  }
  return lo >= 0 && hi < base->size;
}

mx_array fast_rope_kv(const fast_rope_kv_in *s, const fast_rope_params *rope, int64_t B,
                      int64_t H, int64_t Hq, int64_t D, int64_t cap, int64_t pos) {
  mx_array base = s->base;
  if (base) {
    CHECK_INPUT("rope_kv", base);
  } else {
    CHECK_INPUT("rope_kv", s->q);
    CHECK_INPUT("rope_kv", s->k);
    CHECK_INPUT("rope_kv", s->v);
  }
  if (s->J) CHECK_INPUT("rope_kv", s->J);
  mx_dtype t = base ? base->dtype : s->q->dtype;
  if (B <= 0 || H <= 0 || Hq <= 0 || D <= 0 || pos < 0 || cap <= pos) {
    set_error(MX_ERR_INVALID_ARG, "rope_kv: position %lld does not fit capacity %lld "
              "(B %lld, heads %lld/%lld, D %lld)", (long long)pos, (long long)cap, (long long)B,
              (long long)H, (long long)Hq, (long long)D);
    return NULL;
  }
  if (!float_dtype(t) ||
      (!base && (s->k->dtype != t || s->v->dtype != t))) {
    set_error(MX_ERR_DTYPE, "rope_kv: q, k, v must share one float dtype (%s)", mx_dtype_name(t));
    return NULL;
  }
  if (base) {
    const int64_t heads[3] = {Hq, H, H};
    for (int i = 0; i < 3; i++)
      if (!view_inside(base, s->off[i], s->strides[i], B, heads[i], D)) {
        set_error(MX_ERR_INVALID_ARG, "rope_kv: operand %d reaches outside its base array", i);
        return NULL;
      }
  } else if (!dims_are(s->q, B, Hq, 1, D) || !dims_are(s->k, B, H, 1, D) ||
             !dims_are(s->v, B, H, 1, D)) {
    char s1[SHAPE_STR_CAP], s2[SHAPE_STR_CAP], s3[SHAPE_STR_CAP];
    set_error(MX_ERR_SHAPE, "rope_kv: q %s, k %s, v %s do not fit one decode step of the cache",
              fmt_shape(s1, sizeof s1, s->q->shape, s->q->ndim),
              fmt_shape(s2, sizeof s2, s->k->shape, s->k->ndim),
              fmt_shape(s3, sizeof s3, s->v->shape, s->v->ndim));
    return NULL;
  }
  /* 2 B H cap D + B Hq D elements, without overflow. */
  int64_t kv, qn, n;
  if (__builtin_mul_overflow(B * H, cap, &kv) || __builtin_mul_overflow(kv, 2 * D, &kv) ||
      __builtin_mul_overflow(B * Hq, D, &qn) || __builtin_add_overflow(kv, qn, &n)) {
    set_error(MX_ERR_OOM, "rope_kv: cache of capacity %lld is too large", (long long)cap);
    return NULL;
  }
  int kv_mode = s->J ? 2 : s->K || s->V ? 1 : 0;
  bool kv_ok = kv_mode == 0 ? pos == 0
               : kv_mode == 2 ? s->J->ndim == 1 && s->J->size == n && s->J->dtype == t && !s->K
                              : s->K && s->V && s->K->dtype == t && s->V->dtype == t &&
                                    dims_are(s->K, B, H, s->K->shape[2], D) &&
                                    dims_are(s->V, B, H, s->V->shape[2], D) &&
                                    s->K->shape[2] >= pos && s->V->shape[2] >= pos;
  if (!kv_ok) {
    set_error(MX_ERR_INVALID_ARG, "rope_kv: the old cache (K and V, or a joint buffer) does not "
              "fit position %lld, capacity %lld", (long long)pos, (long long)cap);
    return NULL;
  }
  if (!rope || rope->offset_is_array || rope->offset != pos || rope->dims <= 0 ||
      rope->dims > D || rope->dims % 2 || !rope->has_freqs != !s->freqs ||
      (s->freqs && (s->freqs->dtype != MX_FLOAT32 || s->freqs->ndim != 1 ||
                    s->freqs->shape[0] != rope->dims / 2))) {
    set_error(MX_ERR_INVALID_ARG, "rope_kv: rope parameters do not fit (dims, offset, freqs)");
    return NULL;
  }
  fast_rope_kv_params p;
  memset(&p, 0, sizeof p);
  p.rope = *rope;
  p.B = B;
  p.H = H;
  p.Hq = Hq;
  p.D = D;
  p.cap = cap;
  p.pos = pos;
  p.kv_mode = kv_mode;
  p.qkv_mode = base ? 1 : 0;
  mx_array in[7];
  int nin = 0;
  if (kv_mode == 1) {
    in[nin++] = s->K;
    in[nin++] = s->V;
  } else if (kv_mode == 2) {
    in[nin++] = s->J;
  }
  if (base) {
    in[nin++] = base;
    memcpy(p.off, s->off, sizeof p.off);
    memcpy(p.strides, s->strides, sizeof p.strides);
  } else {
    in[nin++] = s->q;
    in[nin++] = s->k;
    in[nin++] = s->v;
  }
  if (s->freqs) in[nin++] = s->freqs;
  return node_new(&prim_rope_kv, t, &n, 1, in, nin, &p, sizeof p);
}
