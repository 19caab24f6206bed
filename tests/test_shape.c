/* test_shape.c — the shape family against NumPy fixtures (gen_shape.py),
 * plus zero-copy checks, large threaded copies checked element by element,
 * and every error path. */
#include <stdlib.h>

#include "check.h"
#include "core/core.h"
#include "fixture.h"

/* ------------------------------------------------------------ fixture ops */

/* Axis lists: "null" -> NULL (all / default), "none" -> an empty list. */
static const int *get_axes(const fx_case *c, const char *key, int *buf, int *n) {
  if (strcmp(fx_str(c, key, "null"), "null") == 0) {
    *n = 0;
    return NULL;
  }
  int64_t v[MX_MAX_NDIM];
  int k = fx_ints(c, key, v, MX_MAX_NDIM);
  if (k < 0) k = 0;
  for (int i = 0; i < k; i++) buf[i] = (int)v[i];
  *n = k;
  return buf;
}
static int get_list(const fx_case *c, const char *key, int64_t *v, int max) {
  int k = fx_ints(c, key, v, max);
  return k < 0 ? 0 : k;
}
static int get_axis(const fx_case *c, const char *key) {
  if (strcmp(fx_str(c, key, ""), "none") == 0) return MX_AXIS_NONE;
  return (int)fx_int(c, key, 0);
}

static mx_array op_flatten(const fx_case *c, mx_array *in, int nin) {
  (void)nin;
  return mx_flatten(in[0], (int)fx_int(c, "start", 0), (int)fx_int(c, "end", -1));
}
static mx_array op_unflatten(const fx_case *c, mx_array *in, int nin) {
  (void)nin;
  int64_t sh[MX_MAX_NDIM];
  int n = get_list(c, "shape", sh, MX_MAX_NDIM);
  return mx_unflatten(in[0], (int)fx_int(c, "axis", 0), sh, n);
}
static mx_array op_squeeze(const fx_case *c, mx_array *in, int nin) {
  (void)nin;
  int buf[MX_MAX_NDIM], n;
  const int *ax = get_axes(c, "axes", buf, &n);
  return mx_squeeze(in[0], ax, n);
}
static mx_array op_expand_dims(const fx_case *c, mx_array *in, int nin) {
  (void)nin;
  int buf[MX_MAX_NDIM], n;
  const int *ax = get_axes(c, "axes", buf, &n);
  return mx_expand_dims(in[0], ax, n);
}
static mx_array op_swapaxes(const fx_case *c, mx_array *in, int nin) {
  (void)nin;
  return mx_swapaxes(in[0], (int)fx_int(c, "a1", 0), (int)fx_int(c, "a2", 0));
}
static mx_array op_moveaxis(const fx_case *c, mx_array *in, int nin) {
  (void)nin;
  return mx_moveaxis(in[0], (int)fx_int(c, "src", 0), (int)fx_int(c, "dst", 0));
}
static mx_array op_atleast_1d(const fx_case *c, mx_array *in, int nin) {
  (void)c, (void)nin;
  return mx_atleast_1d(in[0]);
}
static mx_array op_atleast_2d(const fx_case *c, mx_array *in, int nin) {
  (void)c, (void)nin;
  return mx_atleast_2d(in[0]);
}
static mx_array op_atleast_3d(const fx_case *c, mx_array *in, int nin) {
  (void)c, (void)nin;
  return mx_atleast_3d(in[0]);
}

/* Multi-output ops: the case's "out" key picks the output to compare. */
static mx_array pick(mx_status st, mx_array *outs, size_t n, int64_t k) {
  if (st < 0) return NULL;
  mx_array r = NULL;
  for (size_t i = 0; i < n; i++) {
    if ((int64_t)i == k) r = outs[i];
    else mx_array_free(outs[i]);
  }
  return r;
}
static mx_array op_broadcast_arrays(const fx_case *c, mx_array *in, int nin) {
  mx_array outs[8];
  return pick(mx_broadcast_arrays(in, (size_t)nin, outs), outs, (size_t)nin, fx_int(c, "out", 0));
}
static mx_array op_meshgrid(const fx_case *c, mx_array *in, int nin) {
  mx_array outs[8];
  mx_status st = mx_meshgrid(in, (size_t)nin, fx_int(c, "sparse", 0) != 0,
                             fx_str(c, "indexing", "xy"), outs);
  return pick(st, outs, (size_t)nin, fx_int(c, "out", 0));
}
static mx_array op_split_sections(const fx_case *c, mx_array *in, int nin) {
  (void)nin;
  int64_t num = fx_int(c, "num", 1);
  mx_array outs[64];
  if (num > 64) return NULL;
  mx_status st = mx_split_sections(in[0], num, get_axis(c, "axis"), outs);
  return pick(st, outs, (size_t)num, fx_int(c, "out", 0));
}
static mx_array op_split_indices(const fx_case *c, mx_array *in, int nin) {
  (void)nin;
  int64_t idx[32];
  int n = get_list(c, "indices", idx, 32);
  mx_array outs[33];
  mx_status st = mx_split_indices(in[0], idx, (size_t)n, get_axis(c, "axis"), outs);
  return pick(st, outs, (size_t)n + 1, fx_int(c, "out", 0));
}
static mx_array op_concatenate(const fx_case *c, mx_array *in, int nin) {
  return mx_concatenate(in, (size_t)nin, get_axis(c, "axis"));
}
static mx_array op_stack(const fx_case *c, mx_array *in, int nin) {
  return mx_stack(in, (size_t)nin, get_axis(c, "axis"));
}
static mx_array op_tile(const fx_case *c, mx_array *in, int nin) {
  (void)nin;
  int64_t reps[MX_MAX_NDIM];
  int n = get_list(c, "reps", reps, MX_MAX_NDIM);
  return mx_tile(in[0], reps, n);
}
static mx_array op_repeat(const fx_case *c, mx_array *in, int nin) {
  (void)nin;
  return mx_repeat(in[0], fx_int(c, "repeats", 1), get_axis(c, "axis"));
}
static mx_array op_pad(const fx_case *c, mx_array *in, int nin) {
  int64_t w[2 * MX_MAX_NDIM];
  get_list(c, "widths", w, 2 * MX_MAX_NDIM);
  mx_pad_mode mode = strcmp(fx_str(c, "mode", "constant"), "edge") == 0 ? MX_PAD_EDGE : MX_PAD_CONSTANT;
  return mx_pad(in[0], w, nin > 1 ? in[1] : NULL, mode);
}
static mx_array op_roll(const fx_case *c, mx_array *in, int nin) {
  (void)nin;
  int64_t sh[MX_MAX_NDIM];
  int ns = get_list(c, "shift", sh, MX_MAX_NDIM);
  int buf[MX_MAX_NDIM], na;
  const int *ax = get_axes(c, "axes", buf, &na);
  return mx_roll(in[0], sh, ns, ax, na);
}
static mx_array op_diag(const fx_case *c, mx_array *in, int nin) {
  (void)nin;
  return mx_diag(in[0], fx_int(c, "k", 0));
}
static mx_array op_diagonal(const fx_case *c, mx_array *in, int nin) {
  (void)nin;
  return mx_diagonal(in[0], fx_int(c, "offset", 0), (int)fx_int(c, "a1", 0), (int)fx_int(c, "a2", 1));
}
static mx_array op_trace(const fx_case *c, mx_array *in, int nin) {
  (void)nin;
  return mx_trace(in[0], fx_int(c, "offset", 0), (int)fx_int(c, "a1", 0), (int)fx_int(c, "a2", 1),
                  fx_dtype(c, "dtype", mx_array_dtype(in[0])));
}

static const fx_op ops[] = {
    {"flatten", op_flatten},         {"unflatten", op_unflatten},
    {"squeeze", op_squeeze},         {"expand_dims", op_expand_dims},
    {"swapaxes", op_swapaxes},       {"moveaxis", op_moveaxis},
    {"atleast_1d", op_atleast_1d},   {"atleast_2d", op_atleast_2d},
    {"atleast_3d", op_atleast_3d},   {"broadcast_arrays", op_broadcast_arrays},
    {"meshgrid", op_meshgrid},       {"split_sections", op_split_sections},
    {"split_indices", op_split_indices}, {"concatenate", op_concatenate},
    {"stack", op_stack},             {"tile", op_tile},
    {"repeat", op_repeat},           {"pad", op_pad},
    {"roll", op_roll},               {"diag", op_diag},
    {"diagonal", op_diagonal},       {"trace", op_trace},
};

/* ------------------------------------------------------------ helpers */

static mx_array iota_f32(const int64_t *shape, int nd) {
  int64_t n = 1;
  for (int i = 0; i < nd; i++) n *= shape[i];
  float *v = malloc((size_t)(n ? n : 1) * sizeof *v);
  for (int64_t i = 0; i < n; i++) v[i] = (float)i;
  mx_array a = mx_array_from_data(v, shape, nd, MX_FLOAT32);
  free(v);
  return a;
}

/* True when r, once evaluated, shares x's buffer (a view, no copy). */
static bool is_view_of(mx_array r, mx_array x) {
  if (!r || mx_eval1(r) < 0 || mx_eval1(x) < 0) return false;
  return r->buf == x->buf;
}

/* ------------------------------------------------------------ views */

static void test_views(void) {
  size_t mem0 = mx_memory_active();
  int64_t sh[3] = {4, 1, 6};
  mx_array x = iota_f32(sh, 3);
  mx_eval1(x);
  mx_array t = mx_transpose(x, NULL, 0); /* (6,1,4), strided */
  mx_array r;

  r = mx_squeeze(t, NULL, 0);
  CHECK(is_view_of(r, x) && mx_array_ndim(r) == 2);
  mx_array_free(r);
  r = mx_expand_dims(t, (const int[]){0, -1}, 2);
  CHECK(is_view_of(r, x) && mx_array_ndim(r) == 5);
  mx_array_free(r);
  r = mx_flatten(x, 0, -1);
  CHECK(is_view_of(r, x) && mx_array_dim(r, 0) == 24);
  mx_array_free(r);
  r = mx_swapaxes(x, 0, 2);
  CHECK(is_view_of(r, x));
  mx_array_free(r);
  r = mx_moveaxis(t, 0, -1);
  CHECK(is_view_of(r, x));
  mx_array_free(r);
  r = mx_atleast_3d(t);
  CHECK(r == t); /* already 3-d: the same array */
  mx_array_free(r);

  /* split: every part is a view at the right offset. */
  mx_array parts[3];
  CHECK(mx_split_sections(x, 3, -1, parts) == MX_OK);
  for (int k = 0; k < 3; k++) {
    CHECK(is_view_of(parts[k], x));
    const float *p = mx_array_data(parts[k]);
    CHECK(p && p[0] == (float)(2 * k) && p[1] == (float)(2 * k + 1) && p[2] == (float)(6 + 2 * k));
    mx_array_free(parts[k]);
  }
  /* Splitting the strided view is still a view. */
  mx_array tp[2];
  CHECK(mx_split_indices(t, (const int64_t[]){2}, 1, 0, tp) == MX_OK);
  CHECK(is_view_of(tp[0], x) && is_view_of(tp[1], x));
  CHECK(mx_array_dim(tp[0], 0) == 2 && mx_array_dim(tp[1], 0) == 4);
  mx_array_free(tp[0]);
  mx_array_free(tp[1]);

  /* diagonal of a 3-d array is a strided view; trace sums it. */
  int64_t sq[3] = {2, 5, 5};
  mx_array m = iota_f32(sq, 3);
  r = mx_diagonal(m, 1, 1, 2);
  CHECK(is_view_of(r, m));
  CHECK(mx_array_ndim(r) == 2 && mx_array_dim(r, 0) == 2 && mx_array_dim(r, 1) == 4);
  const float *d = mx_array_data(r);
  CHECK(d && d[0] == 1.0f && d[1] == 7.0f && d[4] == 26.0f);
  mx_array_free(r);
  r = mx_trace(m, 0, 1, 2, MX_FLOAT32);
  const float *tr = mx_array_data(r);
  CHECK(tr && tr[0] == 0 + 6 + 12 + 18 + 24 && tr[1] == 25 * 5 + 60);
  mx_array_free(r);
  /* trace of an int8 array sums in int32 (MLX's sum dtype). */
  mx_array m8 = mx_astype(m, MX_INT8);
  r = mx_trace(m8, 0, 1, 2, MX_INT8);
  CHECK(r && mx_array_dtype(r) == MX_INT32);
  mx_array_free(r);
  r = mx_trace(m8, 0, 1, 2, MX_UINT16);
  CHECK(r && mx_array_dtype(r) == MX_UINT32);
  mx_array_free(r);
  r = mx_trace(m8, 0, 1, 2, MX_BOOL);
  CHECK(r && mx_array_dtype(r) == MX_INT32);
  const int32_t *ci = mx_array_data(r);
  CHECK(ci && ci[0] == 4 && ci[1] == 5); /* m[0]'s diagonal holds one zero */
  mx_array_free(r);
  mx_array_free(m8);
  mx_array_free(m);

  /* No-op forms hand back the input itself. */
  r = mx_concatenate(&x, 1, 0);
  CHECK(r == x);
  mx_array_free(r);
  r = mx_repeat(x, 1, 0);
  CHECK(r == x);
  mx_array_free(r);
  r = mx_pad(x, (const int64_t[]){0, 0, 0, 0, 0, 0}, NULL, MX_PAD_CONSTANT);
  CHECK(r == x);
  mx_array_free(r);
  r = mx_roll(x, (const int64_t[]){6}, 1, (const int[]){2}, 1);
  CHECK(r == x);
  mx_array_free(r);

  mx_array_free(t);
  mx_array_free(x);
  CHECK(mx_memory_active() == mem0);
}

/* ------------------------------------------------------------ large inputs */

static void test_large(void) {
  size_t mem0 = mx_memory_active();
  /* concatenate on axis 0: two blocks > 512 KiB (chunked memcpy), one
   * transposed input (strided path), then on axis 1 (many rows). */
  int64_t sa[2] = {400, 500}, sb[2] = {300, 500}, sc[2] = {500, 200};
  mx_array a = iota_f32(sa, 2), b = iota_f32(sb, 2), cc = iota_f32(sc, 2);
  mx_array ct = mx_transpose(cc, NULL, 0); /* (200, 500) */
  mx_array in3[3] = {a, b, ct};
  mx_array r = mx_concatenate(in3, 3, 0);
  const float *p = mx_array_data(r);
  int bad = 0;
  for (int64_t i = 0; p && i < 900; i++)
    for (int64_t j = 0; j < 500; j++) {
      float want = i < 400 ? (float)(i * 500 + j)
                   : i < 700 ? (float)((i - 400) * 500 + j)
                             : (float)(j * 200 + (i - 700));
      if (p[i * 500 + j] != want) bad++;
    }
  CHECK(p && bad == 0);
  mx_array_free(r);
  mx_array bt = mx_transpose(b, NULL, 0), at = mx_transpose(a, NULL, 0); /* (500,300) (500,400) */
  mx_array in2[3] = {at, bt, cc};
  r = mx_concatenate(in2, 3, 1);
  p = mx_array_data(r);
  bad = 0;
  for (int64_t i = 0; p && i < 500; i++)
    for (int64_t j = 0; j < 900; j++) {
      float want = j < 400 ? (float)(j * 500 + i)
                   : j < 700 ? (float)((j - 400) * 500 + i)
                             : (float)(i * 200 + (j - 700));
      if (p[i * 900 + j] != want) bad++;
    }
  CHECK(p && bad == 0);
  mx_array_free(r);

  /* pad (constant and edge) of a strided 500x400 view. */
  mx_array val = mx_array_from_float(-1.0f);
  r = mx_pad(at, (const int64_t[]){3, 5, 7, 2}, val, MX_PAD_CONSTANT);
  mx_array e = mx_pad(at, (const int64_t[]){3, 5, 7, 2}, NULL, MX_PAD_EDGE);
  const float *pc = mx_array_data(r), *pe = mx_array_data(e);
  int badc = 0, bade = 0;
  for (int64_t i = 0; pc && pe && i < 508; i++)
    for (int64_t j = 0; j < 409; j++) {
      int64_t si = i - 3, sj = j - 7;
      bool in = si >= 0 && si < 500 && sj >= 0 && sj < 400;
      float wc = in ? (float)(sj * 500 + si) : -1.0f;
      si = si < 0 ? 0 : si > 499 ? 499 : si;
      sj = sj < 0 ? 0 : sj > 399 ? 399 : sj;
      float we = (float)(sj * 500 + si);
      if (pc[i * 409 + j] != wc) badc++;
      if (pe[i * 409 + j] != we) bade++;
    }
  CHECK(pc && badc == 0);
  CHECK(pe && bade == 0);
  mx_array_free(r);
  mx_array_free(e);
  mx_array_free(val);

  /* roll on both axes of the strided view. */
  r = mx_roll(at, (const int64_t[]){-123, 1001}, 2, (const int[]){0, 1}, 2);
  p = mx_array_data(r);
  bad = 0;
  for (int64_t i = 0; p && i < 500; i++)
    for (int64_t j = 0; j < 400; j++) {
      int64_t si = ((i + 123) % 500 + 500) % 500, sj = ((j - 1001) % 400 + 400) % 400;
      if (p[i * 400 + j] != (float)(sj * 500 + si)) bad++;
    }
  CHECK(p && bad == 0);
  mx_array_free(r);

  /* repeat and tile of a large array (broadcast + reshape copy). */
  r = mx_repeat(a, 3, 1);
  mx_array tl = mx_tile(a, (const int64_t[]){2, 1}, 2);
  p = mx_array_data(r);
  const float *pt = mx_array_data(tl);
  bad = 0;
  for (int64_t i = 0; p && pt && i < 400; i++)
    for (int64_t j = 0; j < 1500; j++)
      if (p[i * 1500 + j] != (float)(i * 500 + j / 3)) bad++;
  for (int64_t i = 0; p && pt && i < 800; i++)
    for (int64_t j = 0; j < 500; j++)
      if (pt[i * 500 + j] != (float)((i % 400) * 500 + j)) bad++;
  CHECK(p && pt && bad == 0);
  mx_array_free(r);
  mx_array_free(tl);

  mx_array_free(at);
  mx_array_free(bt);
  mx_array_free(ct);
  mx_array_free(a);
  mx_array_free(b);
  mx_array_free(cc);
  CHECK(mx_memory_active() == mem0);
}

/* Broadcast inputs (stride 0) through every copying kernel. */
static void test_broadcast_inputs(void) {
  size_t mem0 = mx_memory_active();
  int64_t s3[1] = {3}, s43[2] = {4, 3};
  mx_array v = iota_f32(s3, 1);              /* [0 1 2] */
  mx_array x = mx_broadcast_to(v, s43, 2);   /* rows of [0 1 2], row stride 0 */
  mx_array xt = mx_transpose(x, NULL, 0);    /* (3,4): column stride 0 */
  mx_array r = mx_concatenate((mx_array[]){x, xt}, 2, MX_AXIS_NONE);
  const float *p = mx_array_data(r);
  bool ok = p && mx_array_size(r) == 24;
  for (int i = 0; ok && i < 12; i++) ok = p[i] == (float)(i % 3) && p[12 + i] == (float)(i / 4);
  CHECK(ok);
  mx_array_free(r);
  r = mx_pad(xt, (const int64_t[]){1, 0, 0, 2}, NULL, MX_PAD_EDGE); /* (4,6) */
  p = mx_array_data(r);
  ok = p && mx_array_dim(r, 0) == 4 && mx_array_dim(r, 1) == 6;
  for (int i = 0; ok && i < 4; i++)
    for (int j = 0; ok && j < 6; j++) ok = p[i * 6 + j] == (float)(i == 0 ? 0 : i - 1);
  CHECK(ok);
  mx_array_free(r);
  r = mx_roll(x, (const int64_t[]){1, 1}, 2, (const int[]){0, 1}, 2);
  p = mx_array_data(r);
  ok = p != NULL;
  for (int i = 0; ok && i < 12; i++) ok = p[i] == (float)((i % 3 + 2) % 3);
  CHECK(ok);
  mx_array_free(r);
  int64_t s333[3] = {2, 3, 3};
  mx_array cube = mx_broadcast_to(v, s333, 3); /* [b, i, j] = j */
  r = mx_trace(cube, 0, 1, 2, MX_INT32);
  const int32_t *pi = mx_array_data(r);
  CHECK(pi && mx_array_dtype(r) == MX_INT32 && pi[0] == 3 && pi[1] == 3);
  mx_array_free(r);
  r = mx_diag(v, -1);
  p = mx_array_data(r);
  CHECK(p && mx_array_dim(r, 0) == 4 && p[4] == 0 && p[9] == 1 && p[14] == 2 && p[0] == 0);
  mx_array_free(r);
  mx_array parts[2];
  CHECK(mx_split_indices(x, (const int64_t[]){1}, 1, 1, parts) == MX_OK);
  p = mx_array_data(parts[1]);
  CHECK(p && mx_array_dim(parts[1], 1) == 2 && p[0] == 1 && p[1] == 2 && p[6] == 1);
  mx_array_free(parts[0]);
  mx_array_free(parts[1]);
  mx_array_free(cube);
  mx_array_free(xt);
  mx_array_free(x);
  mx_array_free(v);
  CHECK(mx_memory_active() == mem0);
}

/* Ranks at the limit: tile/repeat must not need more than MX_MAX_NDIM dims. */
static void test_max_rank(void) {
  int64_t sh[MX_MAX_NDIM], reps[MX_MAX_NDIM];
  for (int i = 0; i < MX_MAX_NDIM; i++) sh[i] = 1, reps[i] = 2;
  sh[MX_MAX_NDIM - 1] = 3;
  mx_array x = iota_f32(sh, MX_MAX_NDIM);
  mx_array r = mx_tile(x, reps, MX_MAX_NDIM);
  CHECK(r && mx_array_size(r) == 3 << MX_MAX_NDIM);
  const float *p = mx_array_data(r);
  CHECK(p && p[0] == 0 && p[1] == 1 && p[2] == 2 && p[3] == 0 && p[(3 << MX_MAX_NDIM) - 1] == 2);
  mx_array_free(r);
  r = mx_repeat(x, 2, -1);
  p = mx_array_data(r);
  CHECK(p && mx_array_dim(r, -1) == 6 && p[0] == 0 && p[1] == 0 && p[2] == 1 && p[5] == 2);
  mx_array_free(r);
  r = mx_repeat(x, 3, 4);
  CHECK(r && mx_array_dim(r, 4) == 3 && mx_array_size(r) == 9);
  mx_array_free(r);
  mx_array_free(x);
}

/* ------------------------------------------------------------ errors */

static void test_errors(void) {
  size_t mem0 = mx_memory_active();
  int64_t s23[2] = {2, 3}, s24[2] = {2, 4}, s3[1] = {3};
  mx_array a = iota_f32(s23, 2), b = iota_f32(s24, 2), v = iota_f32(s3, 1);
  mx_array z = mx_array_from_float(1.0f);
  mx_array outs[8] = {0};

  /* NULL inputs propagate, keeping the first error. */
  CHECK_ERR(mx_flatten(NULL, 0, -1), MX_ERR_NULL_INPUT, "flatten");
  CHECK_ERR(mx_pad(NULL, NULL, NULL, MX_PAD_CONSTANT), MX_ERR_NULL_INPUT, "pad");
  CHECK_ERR(mx_concatenate((mx_array[]){a, NULL}, 2, 0), MX_ERR_NULL_INPUT, "concatenate: input 1");
  CHECK(mx_split_sections(NULL, 2, 0, outs) == MX_ERR_NULL_INPUT);
  CHECK(mx_broadcast_arrays((mx_array[]){a, NULL}, 2, outs) == MX_ERR_NULL_INPUT);
  mx_clear_error();

  CHECK_ERR(mx_flatten(a, 1, 0), MX_ERR_INVALID_ARG, "flatten: start_axis 1 comes after end_axis 0");
  CHECK_ERR(mx_flatten(a, 5, 7), MX_ERR_INVALID_ARG, "flatten");
  CHECK_ERR(mx_flatten(a, -9, -7), MX_ERR_INVALID_ARG, "flatten");

  CHECK_ERR(mx_unflatten(a, 1, NULL, 0), MX_ERR_INVALID_ARG, "cannot be empty");
  CHECK_ERR(mx_unflatten(a, 2, (const int64_t[]){3}, 1), MX_ERR_INVALID_ARG, "unflatten: axis 2");
  CHECK_ERR(mx_unflatten(a, 1, (const int64_t[]){2, 2}, 2), MX_ERR_SHAPE, "cannot unflatten axis 1 of size 3 into shape (2,2)");
  CHECK_ERR(mx_unflatten(a, 1, (const int64_t[]){-1, -1}, 2), MX_ERR_INVALID_ARG, "only infer one");
  CHECK_ERR(mx_unflatten(a, 1, (const int64_t[]){2, -1}, 2), MX_ERR_SHAPE, "cannot unflatten");
  CHECK_ERR(mx_unflatten(a, 1, (const int64_t[]){-3, -1}, 2), MX_ERR_SHAPE, "negative dimension");

  CHECK_ERR(mx_squeeze(a, (const int[]){0}, 1), MX_ERR_SHAPE, "squeeze: cannot squeeze axis 0 of size 2");
  CHECK_ERR(mx_squeeze(a, (const int[]){2}, 1), MX_ERR_INVALID_ARG, "squeeze: axis 2 is out of range");
  mx_array a1 = mx_reshape(a, (const int64_t[]){1, 2, 3}, 3);
  CHECK_ERR(mx_squeeze(a1, (const int[]){0, -3}, 2), MX_ERR_INVALID_ARG, "given twice");
  CHECK_ERR(mx_expand_dims(a, (const int[]){0, 0}, 2), MX_ERR_INVALID_ARG, "expand_dims: axis 0 given twice");
  CHECK_ERR(mx_expand_dims(a, (const int[]){3}, 1), MX_ERR_INVALID_ARG, "expand_dims: axis 3 is out of range");
  CHECK_ERR(mx_expand_dims(a, NULL, 2), MX_ERR_INVALID_ARG, "expand_dims");
  int many[MX_MAX_NDIM];
  for (int i = 0; i < MX_MAX_NDIM; i++) many[i] = i;
  CHECK_ERR(mx_expand_dims(a, many, MX_MAX_NDIM - 1), MX_ERR_SHAPE, "expand_dims: the result would have 17");

  CHECK_ERR(mx_swapaxes(a, 0, 2), MX_ERR_INVALID_ARG, "swapaxes: axis 2 is out of range");
  CHECK_ERR(mx_moveaxis(a, -3, 0), MX_ERR_INVALID_ARG, "moveaxis: axis -3 is out of range");

  CHECK(mx_broadcast_arrays((mx_array[]){a, b}, 2, outs) == MX_ERR_SHAPE);
  CHECK(strstr(mx_last_error(), "broadcast_arrays: shapes (2,3) and (2,4) cannot be broadcast") != NULL);
  CHECK(outs[0] == NULL); /* nothing written on failure */
  CHECK(mx_broadcast_arrays(NULL, 0, outs) == MX_OK);
  mx_clear_error();

  CHECK_ERR(mx_concatenate(NULL, 0, 0), MX_ERR_INVALID_ARG, "concatenate: no arrays");
  CHECK_ERR(mx_concatenate((mx_array[]){a, b}, 2, 0), MX_ERR_SHAPE,
            "concatenate: arrays 0 and 1 differ in dim 1 (3 vs 4)");
  CHECK_ERR(mx_concatenate((mx_array[]){a, a, v}, 3, 0), MX_ERR_SHAPE,
            "concatenate: array 2 has 1 dimensions but array 0 has 2");
  CHECK_ERR(mx_concatenate((mx_array[]){a, b}, 2, 2), MX_ERR_INVALID_ARG, "concatenate: axis 2 is out of range");
  CHECK_ERR(mx_concatenate((mx_array[]){z, z}, 2, 0), MX_ERR_INVALID_ARG, "concatenate: axis 0 is out of range for an array of 0");

  CHECK_ERR(mx_stack(NULL, 0, 0), MX_ERR_INVALID_ARG, "stack: no arrays");
  CHECK_ERR(mx_stack((mx_array[]){a, b}, 2, 0), MX_ERR_SHAPE,
            "stack: all arrays must have the same shape, but array 1 is (2,4) and array 0 is (2,3)");
  CHECK_ERR(mx_stack((mx_array[]){a, a}, 2, 3), MX_ERR_INVALID_ARG, "stack: axis 3 is out of range");

  CHECK(mx_split_sections(a, 2, 1, outs) == MX_ERR_SHAPE &&
        strstr(mx_last_error(), "split_sections: axis 1 of size 3 cannot be split into 2 equal sections"));
  CHECK(mx_split_sections(a, 0, 1, outs) == MX_ERR_INVALID_ARG &&
        strstr(mx_last_error(), "number of sections must be positive, got 0"));
  CHECK(mx_split_sections(a, 1, 2, outs) == MX_ERR_INVALID_ARG &&
        strstr(mx_last_error(), "split_sections: axis 2 is out of range"));
  CHECK(mx_split_sections(z, 1, 0, outs) == MX_ERR_INVALID_ARG);
  CHECK(mx_split_indices(a, NULL, 2, 0, outs) == MX_ERR_INVALID_ARG &&
        strstr(mx_last_error(), "split_indices: NULL index list"));
  CHECK(mx_split_indices(a, (const int64_t[]){1}, 1, -3, outs) == MX_ERR_INVALID_ARG);
  CHECK(outs[0] == NULL);
  mx_clear_error();

  CHECK_ERR(mx_tile(a, (const int64_t[]){2, -1}, 2), MX_ERR_INVALID_ARG, "tile: negative repetition count -1");
  CHECK_ERR(mx_tile(a, NULL, 2), MX_ERR_INVALID_ARG, "tile: bad repetition list");
  CHECK_ERR(mx_tile(a, (const int64_t[]){INT64_MAX / 2, 3}, 2), MX_ERR_SHAPE, "tile: the result shape");
  CHECK_ERR(mx_tile(a, (const int64_t[]){INT64_MAX / 2 + 1, 1}, 2), MX_ERR_SHAPE, "tile: the result's dimension 0 overflows");
  CHECK_ERR(mx_repeat(a, INT64_MAX / 4, 0), MX_ERR_SHAPE, "repeat: the result");
  CHECK_ERR(mx_repeat(a, -1, 0), MX_ERR_INVALID_ARG, "repeat: the number of repeats cannot be negative (got -1)");
  CHECK_ERR(mx_repeat(a, 2, 2), MX_ERR_INVALID_ARG, "repeat: axis 2 is out of range");
  CHECK_ERR(mx_repeat(z, 2, 0), MX_ERR_INVALID_ARG, "repeat: axis 0 is out of range for an array of 0");
  CHECK_ERR(mx_repeat(a, INT64_MAX / 2, 1), MX_ERR_SHAPE, "repeat: axis 1 of size 3 repeated");

  CHECK_ERR(mx_pad(a, (const int64_t[]){1, -1, 0, 0}, NULL, MX_PAD_CONSTANT), MX_ERR_INVALID_ARG,
            "pad: invalid high padding size (-1) for axis 0");
  CHECK_ERR(mx_pad(a, (const int64_t[]){0, 0, -2, 0}, NULL, MX_PAD_EDGE), MX_ERR_INVALID_ARG,
            "pad: invalid low padding size (-2) for axis 1");
  CHECK_ERR(mx_pad(a, (const int64_t[]){1, 1, 1, 1}, v, MX_PAD_CONSTANT), MX_ERR_SHAPE,
            "pad: the constant value must be a scalar, got shape (3)");
  CHECK_ERR(mx_pad(a, NULL, NULL, MX_PAD_CONSTANT), MX_ERR_INVALID_ARG, "pad: pad_width is NULL");
  CHECK_ERR(mx_pad(a, (const int64_t[]){1, 1, 1, 1}, NULL, (mx_pad_mode)7), MX_ERR_INVALID_ARG, "pad: invalid mode 7");
  CHECK_ERR(mx_pad(a, (const int64_t[]){INT64_MAX, 1, 0, 0}, NULL, MX_PAD_CONSTANT), MX_ERR_SHAPE, "pad: padded axis 0 overflows");
  mx_array emp = mx_zeros((const int64_t[]){3, 0}, 2, MX_FLOAT32);
  if (emp) {
    CHECK_ERR(mx_pad(emp, (const int64_t[]){0, 0, 1, 0}, NULL, MX_PAD_EDGE), MX_ERR_SHAPE,
              "pad: cannot pad empty axis 1 using mode 'edge'");
    mx_array ok = mx_pad(emp, (const int64_t[]){1, 1, 0, 0}, NULL, MX_PAD_EDGE); /* empty stays empty */
    CHECK(ok && mx_array_dim(ok, 0) == 5 && mx_array_size(ok) == 0 && mx_eval1(ok) == MX_OK);
    mx_array_free(ok);
    mx_array_free(emp);
  }

  CHECK_ERR(mx_roll(a, NULL, 0, NULL, 0), MX_ERR_INVALID_ARG, "roll: at least one shift value is required");
  CHECK_ERR(mx_roll(a, (const int64_t[]){1, 2}, 2, (const int[]){0, 1, 0}, 3), MX_ERR_INVALID_ARG,
            "roll: at least one shift value per axis is required, 2 provided for 3 axes");
  CHECK_ERR(mx_roll(a, (const int64_t[]){1}, 1, (const int[]){2}, 1), MX_ERR_INVALID_ARG, "roll: axis 2 is out of range");
  CHECK_ERR(mx_roll(a, (const int64_t[]){INT64_MAX, 1}, 2, NULL, 0), MX_ERR_INVALID_ARG, "roll: the total shift overflows");

  CHECK(mx_meshgrid((mx_array[]){v, v}, 2, false, "yx", outs) == MX_ERR_INVALID_ARG &&
        strstr(mx_last_error(), "meshgrid: invalid indexing 'yx'"));
  mx_clear_error();
  CHECK(mx_meshgrid((mx_array[]){v, NULL}, 2, false, "ij", outs) == MX_ERR_NULL_INPUT);
  CHECK(outs[0] == NULL);
  mx_clear_error();

  CHECK_ERR(mx_diag(z, 0), MX_ERR_SHAPE, "diag: array must be 1-d or 2-d, got an array with 0 dimensions");
  CHECK_ERR(mx_diag(a1, 0), MX_ERR_SHAPE, "diag: array must be 1-d or 2-d");
  CHECK_ERR(mx_diag(v, INT64_MAX), MX_ERR_SHAPE, "diag: offset");
  CHECK_ERR(mx_diagonal(v, 0, 0, 1), MX_ERR_SHAPE, "diagonal: array must have at least two dimensions, but got 1");
  CHECK_ERR(mx_diagonal(a, 0, 1, -1), MX_ERR_INVALID_ARG, "diagonal: axis1 and axis2 cannot be the same axis");
  CHECK_ERR(mx_diagonal(a, 0, 0, 2), MX_ERR_INVALID_ARG, "diagonal: axis 2 is out of range");
  CHECK_ERR(mx_trace(v, 0, 0, 1, MX_FLOAT32), MX_ERR_SHAPE, "trace: array must have at least two dimensions");
  CHECK_ERR(mx_trace(a, 0, 0, 0, MX_FLOAT32), MX_ERR_INVALID_ARG, "trace: axis1 and axis2 cannot be the same");
  CHECK_ERR(mx_trace(a, 0, 0, 5, MX_FLOAT32), MX_ERR_INVALID_ARG, "trace: axis 5 is out of range");
  CHECK_ERR(mx_trace(a, 0, 0, 1, (mx_dtype)42), MX_ERR_DTYPE, "trace: invalid dtype 42");
  /* Extreme offsets give an empty diagonal, not an overflow. */
  mx_array dg = mx_diagonal(a, INT64_MIN, 0, 1);
  CHECK(dg && mx_array_size(dg) == 0 && mx_eval1(dg) == MX_OK);
  mx_array_free(dg);
  dg = mx_trace(a, INT64_MAX, 0, 1, MX_FLOAT32);
  float tv = -1;
  CHECK(dg && mx_array_item_float32(dg, &tv) == MX_OK && tv == 0.0f);
  mx_array_free(dg);

  mx_array_free(a1);
  mx_array_free(a);
  mx_array_free(b);
  mx_array_free(v);
  mx_array_free(z);
  mx_clear_error();
  CHECK(mx_memory_active() == mem0);
}

int main(int argc, char **argv) {
  size_t mem0 = mx_memory_active();
  if (argc > 1) {
    int n = fx_run_dir(argv[1], ops, (int)(sizeof ops / sizeof *ops));
    CHECK_MSG(n > 300, "fixture cases ran");
  } else {
    CHECK_MSG(0, "usage: test_shape FIXTURE_DIR");
  }
  test_views();
  test_large();
  test_broadcast_inputs();
  test_max_rank();
  test_errors();
  CHECK(mx_memory_active() == mem0);
  return check_summary();
}
