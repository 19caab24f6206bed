/* einsum.c — numpy.einsum subscripts on top of matmul and a generic
 * product-sum loop (MLX semantics: mlx/einsum.cpp).
 *
 * Operands are contracted left to right, two at a time. A pair whose
 * subscripts make it a (batched) matrix product — no diagonals, no axis
 * summed within one operand, no size-1 broadcasting between them — becomes
 * transposes + reshapes + matmul (views, then BLAS); anything else, and all
 * integer/bool contractions (MLX's matmul refuses them), runs the einsum
 * loop kernel, which reads diagonals and broadcasts through strides.
 * Result dtype: the operands' promoted type; when integers are summed, MLX's
 * sum type (int32 / int64 / uint32 / uint64; bool gives int32). */
#include <stdio.h>
#include <string.h>

#include "../backend/cpu/matmul.h"
#include "ops_common.h"

static const mx_primitive prim_einsum = {"einsum", cpu_einsum, NULL};

#define EIN_MAX_TERMS 32
/* Index ids: letters 'a'..'z' -> 0..25, 'A'..'Z' -> 26..51; ellipsis dims
 * 52 + k, k counted from the right (so shorter ellipses broadcast). */
#define ID_ELL 52
#define ID_COUNT (ID_ELL + MX_MAX_NDIM)

typedef struct term {
  int n;                 /* ids in this term */
  int ids[MX_MAX_NDIM];  /* after ellipsis expansion */
  int nlet;              /* letters before expansion */
  int let[MX_MAX_NDIM + 1];
  int ell_at;            /* letter index where "..." sits, -1 if none */
  int pos;               /* position in the subscripts string */
} term;

static int letter_id(char ch) {
  if (ch >= 'a' && ch <= 'z') return ch - 'a';
  if (ch >= 'A' && ch <= 'Z') return 26 + ch - 'A';
  return -1;
}
static char id_char(int id) {
  return id < 26 ? (char)('a' + id) : id < 52 ? (char)('A' + id - 26) : '.';
}

static mx_dtype sum_type(mx_dtype t) {
  if (t == MX_BOOL) return MX_INT32;
  if (mx_dtype_is_signed_integer(t)) return mx_dtype_size(t) <= 4 ? MX_INT32 : MX_INT64;
  if (mx_dtype_is_unsigned_integer(t)) return mx_dtype_size(t) <= 4 ? MX_UINT32 : MX_UINT64;
  return t;
}

/* Parses "ij,jk->ik" into terms; explicit output into *outt (has_out). */
static mx_status parse(const char *s, term *terms, int *nterms, term *outt, bool *has_out) {
  int nt = 0;
  bool in_out = false;
  term *cur = &terms[0];
  memset(cur, 0, sizeof *cur);
  cur->ell_at = -1;
  *has_out = false;
  for (int i = 0; s[i]; i++) {
    char ch = s[i];
    if (ch == ' ') continue;
    int id = letter_id(ch);
    if (id >= 0) {
      if (cur->nlet >= MX_MAX_NDIM)
        return set_error(MX_ERR_INVALID_ARG,
                         "einsum: too many subscripts in one term at position %d in \"%s\"", i, s);
      cur->let[cur->nlet++] = id;
    } else if (ch == '.') {
      if (s[i + 1] != '.' || s[i + 2] != '.')
        return set_error(MX_ERR_INVALID_ARG,
                         "einsum: '.' at position %d in \"%s\" is not part of an ellipsis '...'",
                         i, s);
      if (cur->ell_at >= 0)
        return set_error(MX_ERR_INVALID_ARG,
                         "einsum: only one ellipsis per subscript is allowed, second one at "
                         "position %d in \"%s\"",
                         i, s);
      cur->ell_at = cur->nlet;
      i += 2;
    } else if (ch == ',') {
      if (in_out)
        return set_error(MX_ERR_INVALID_ARG,
                         "einsum: ',' at position %d in the output of \"%s\"", i, s);
      if (nt + 1 >= EIN_MAX_TERMS)
        return set_error(MX_ERR_INVALID_ARG, "einsum: more than %d operands in \"%s\"",
                         EIN_MAX_TERMS, s);
      cur = &terms[++nt];
      memset(cur, 0, sizeof *cur);
      cur->ell_at = -1;
      cur->pos = i + 1;
    } else if (ch == '-' && s[i + 1] == '>') {
      if (in_out)
        return set_error(MX_ERR_INVALID_ARG, "einsum: second '->' at position %d in \"%s\"", i, s);
      in_out = true;
      *has_out = true;
      cur = outt;
      memset(cur, 0, sizeof *cur);
      cur->ell_at = -1;
      cur->pos = i + 2;
      i++;
    } else {
      return set_error(MX_ERR_INVALID_ARG,
                       "einsum: invalid character '%c' at position %d in subscripts \"%s\" "
                       "(expected letters, ',', '...' or '->')",
                       ch, i, s);
    }
  }
  *nterms = nt + 1;
  return MX_OK;
}

/* The result of one contraction step: an array and its axis ids. */
typedef struct operand {
  mx_array a; /* owned */
  int n;
  int ids[MX_MAX_NDIM];
} operand;

/* One einsum-loop node over ops[0..nops) producing ids out_ids. */
static mx_array loop_node(operand *ops, int nops, const int *out_ids, int nout,
                          const int64_t *size, mx_dtype dt) {
  einsum_params p;
  memset(&p, 0, sizeof p);
  int map[ID_COUNT];
  for (int i = 0; i < ID_COUNT; i++) map[i] = -1;
  int nidx = 0;
  for (int i = 0; i < nout; i++) {
    map[out_ids[i]] = nidx;
    p.size[nidx++] = size[out_ids[i]];
  }
  for (int k = 0; k < nops; k++)
    for (int d = 0; d < ops[k].n; d++) {
      int id = ops[k].ids[d];
      if (map[id] < 0) {
        if (nidx >= EIN_MAX_IDX) {
          set_error(MX_ERR_INVALID_ARG, "einsum: more than %d distinct indices", EIN_MAX_IDX);
          return NULL;
        }
        map[id] = nidx;
        p.size[nidx++] = size[id];
      }
      p.op_idx[k][d] = (int8_t)map[id];
    }
  p.nops = nops;
  p.nidx = nidx;
  p.nout = nout;
  mx_dtype odt = nidx > nout ? sum_type(dt) : dt;
  int64_t sh[MX_MAX_NDIM];
  for (int i = 0; i < nout; i++) sh[i] = size[out_ids[i]];
  mx_array ins[EIN_MAX_OPS];
  bool ok = true;
  for (int k = 0; k < nops; k++) {
    p.op_ndim[k] = ops[k].n;
    ins[k] = cast_to(ops[k].a, dt);
    ok &= ins[k] != NULL;
  }
  mx_array r = ok ? node_new(&prim_einsum, odt, sh, nout, ins, nops, &p, sizeof p) : NULL;
  for (int k = 0; k < nops; k++) mx_array_free(ins[k]);
  return r;
}

static bool has(const int *ids, int n, int id) {
  for (int i = 0; i < n; i++)
    if (ids[i] == id) return true;
  return false;
}

/* Transposes o.a so its ids follow `want` (a permutation of o's ids). */
static mx_array permute_to(operand *o, const int *want, int n) {
  int perm[MX_MAX_NDIM];
  bool identity = true;
  for (int i = 0; i < n; i++) {
    for (int d = 0; d < o->n; d++)
      if (o->ids[d] == want[i]) perm[i] = d;
    identity &= perm[i] == i;
  }
  if (identity) return mx_array_retain(o->a);
  return mx_transpose(o->a, perm, n);
}

/* a, b contracted to ids res[0..nres) via matmul, or NULL with *tried false
 * when the pair is not a plain (batched) product. */
static mx_array dot_pair(operand *A, operand *B, const int *res, int nres, const int64_t *size,
                         bool *tried) {
  *tried = false;
  int batch[MX_MAX_NDIM], af[MX_MAX_NDIM], bf[MX_MAX_NDIM], con[MX_MAX_NDIM];
  int nb = 0, na = 0, nbf = 0, nc = 0;
  for (int d = 0; d < A->n; d++) {
    int id = A->ids[d];
    for (int e = d + 1; e < A->n; e++)
      if (A->ids[e] == id) return NULL; /* diagonal */
    if (A->a->shape[d] != size[id]) return NULL; /* broadcast */
    bool inb = has(B->ids, B->n, id), kept = has(res, nres, id);
    if (inb && kept) batch[nb++] = id;
    else if (inb) con[nc++] = id;
    else if (kept) af[na++] = id;
    else return NULL; /* summed within A alone */
  }
  for (int d = 0; d < B->n; d++) {
    int id = B->ids[d];
    for (int e = d + 1; e < B->n; e++)
      if (B->ids[e] == id) return NULL;
    if (B->a->shape[d] != size[id]) return NULL;
    bool ina = has(A->ids, A->n, id), kept = has(res, nres, id);
    if (!ina && kept) bf[nbf++] = id;
    else if (!ina) return NULL;
  }
  *tried = true;
  int wa[MX_MAX_NDIM], wb[MX_MAX_NDIM], n = 0;
  int64_t sa[MX_MAX_NDIM], sb[MX_MAX_NDIM], M = 1, N = 1, K = 1;
  for (int i = 0; i < nb; i++) {
    wa[i] = wb[i] = batch[i];
    sa[i] = sb[i] = size[batch[i]];
  }
  n = nb;
  for (int i = 0; i < na; i++) wa[n + i] = af[i], M *= size[af[i]];
  for (int i = 0; i < nc; i++) wa[n + na + i] = con[i], wb[n + i] = con[i], K *= size[con[i]];
  for (int i = 0; i < nbf; i++) wb[n + nc + i] = bf[i], N *= size[bf[i]];
  sa[nb] = M;
  sa[nb + 1] = K;
  sb[nb] = K;
  sb[nb + 1] = N;
  mx_array at = permute_to(A, wa, A->n), bt = permute_to(B, wb, B->n);
  mx_array a2 = at ? mx_reshape(at, sa, nb + 2) : NULL;
  mx_array b2 = bt ? mx_reshape(bt, sb, nb + 2) : NULL;
  mx_array m = (a2 && b2) ? mx_matmul(a2, b2) : NULL;
  /* m: (batch..., M, N) -> (batch..., afree..., bfree...) */
  int64_t rs[MX_MAX_NDIM];
  int rids[MX_MAX_NDIM], nr = 0;
  for (int i = 0; i < nb; i++) rids[nr] = batch[i], rs[nr++] = size[batch[i]];
  for (int i = 0; i < na; i++) rids[nr] = af[i], rs[nr++] = size[af[i]];
  for (int i = 0; i < nbf; i++) rids[nr] = bf[i], rs[nr++] = size[bf[i]];
  mx_array r = m ? mx_reshape(m, rs, nr) : NULL;
  mx_array_free(at);
  mx_array_free(bt);
  mx_array_free(a2);
  mx_array_free(b2);
  mx_array_free(m);
  if (!r) return NULL;
  operand tmp = {r, nr, {0}};
  memcpy(tmp.ids, rids, sizeof rids);
  mx_array out = permute_to(&tmp, res, nres);
  mx_array_free(r);
  return out;
}

mx_array mx_einsum(const char *subscripts, const mx_array *operands, size_t n) {
  if (!subscripts) {
    set_error(MX_ERR_INVALID_ARG, "einsum: subscripts is NULL");
    return NULL;
  }
  if (n == 0 || !operands) {
    set_error(MX_ERR_INVALID_ARG, "einsum: at least one operand is required");
    return NULL;
  }
  if (n > EIN_MAX_TERMS) {
    set_error(MX_ERR_INVALID_ARG, "einsum: %zu operands (at most %d)", n, EIN_MAX_TERMS);
    return NULL;
  }
  if (any_null("einsum", operands, (int)n)) return NULL;
  const char *s = subscripts;
  term terms[EIN_MAX_TERMS], out;
  int nt = 0;
  bool explicit_out = false;
  if (parse(s, terms, &nt, &out, &explicit_out) < 0) return NULL;
  if ((size_t)nt != n) {
    set_error(MX_ERR_INVALID_ARG,
              "einsum: subscripts \"%s\" name %d operand(s) but %zu were given", s, nt, n);
    return NULL;
  }

  /* Expand ellipses and fix every index's size. */
  int64_t size[ID_COUNT];
  for (int i = 0; i < ID_COUNT; i++) size[i] = -1;
  int max_ell = 0;
  int count[ID_COUNT] = {0};
  for (int k = 0; k < nt; k++) {
    term *t = &terms[k];
    mx_array x = operands[k];
    int ell = x->ndim - t->nlet;
    if (t->ell_at < 0 && ell != 0) {
      set_error(MX_ERR_SHAPE,
                "einsum: operand %d has %d dimensions but its subscripts (at position %d in "
                "\"%s\") name %d",
                k, x->ndim, t->pos, s, t->nlet);
      return NULL;
    }
    if (ell < 0) {
      char sh[SHAPE_STR_CAP];
      set_error(MX_ERR_SHAPE,
                "einsum: operand %d with shape %s has too few dimensions for its subscripts "
                "(at position %d in \"%s\"), which need at least %d",
                k, fmt_shape(sh, sizeof sh, x->shape, x->ndim), t->pos, s, t->nlet);
      return NULL;
    }
    if (ell > max_ell) max_ell = ell;
    t->n = 0;
    for (int j = 0; j <= t->nlet; j++) {
      if (j == t->ell_at)
        for (int e = ell - 1; e >= 0; e--) t->ids[t->n++] = ID_ELL + e;
      if (j < t->nlet) t->ids[t->n++] = t->let[j];
    }
    bool seen[ID_COUNT] = {0};
    for (int d = 0; d < t->n; d++) {
      int id = t->ids[d];
      int64_t dim = x->shape[d];
      if (id < ID_ELL) count[id]++;
      if (seen[id]) {
        for (int e = 0; e < d; e++)
          if (t->ids[e] == id && x->shape[e] != dim) {
            set_error(MX_ERR_SHAPE,
                      "einsum: repeated subscript '%c' in operand %d has sizes %lld and %lld "
                      "(\"%s\")",
                      id_char(id), k, (long long)x->shape[e], (long long)dim, s);
            return NULL;
          }
      }
      seen[id] = true;
      if (size[id] < 0 || size[id] == 1) {
        if (size[id] > 1 && dim == 1) continue;
        size[id] = dim;
      } else if (dim != size[id] && dim != 1) {
        char sh[SHAPE_STR_CAP];
        if (id < ID_ELL)
          set_error(MX_ERR_SHAPE,
                    "einsum: subscript '%c' has size %lld, but dimension %d of operand %d "
                    "(shape %s) has size %lld (\"%s\")",
                    id_char(id), (long long)size[id], d, k,
                    fmt_shape(sh, sizeof sh, x->shape, x->ndim), (long long)dim, s);
        else
          set_error(MX_ERR_SHAPE,
                    "einsum: cannot broadcast dimension %d of operand %d (shape %s) to size "
                    "%lld in the ellipsis (\"%s\")",
                    d, k, fmt_shape(sh, sizeof sh, x->shape, x->ndim), (long long)size[id], s);
        return NULL;
      }
    }
  }

  /* Output ids. */
  int oids[MX_MAX_NDIM + 52], no = 0;
  if (explicit_out) {
    for (int j = 0; j <= out.nlet; j++) {
      if (j == out.ell_at)
        for (int e = max_ell - 1; e >= 0; e--) oids[no++] = ID_ELL + e;
      if (j < out.nlet) {
        int id = out.let[j];
        if (size[id] < 0) {
          set_error(MX_ERR_INVALID_ARG,
                    "einsum: output subscript '%c' in \"%s\" does not appear in the inputs",
                    id_char(id), s);
          return NULL;
        }
        if (has(oids, no, id)) {
          set_error(MX_ERR_INVALID_ARG, "einsum: repeat subscript '%c' in the output of \"%s\"",
                    id_char(id), s);
          return NULL;
        }
        oids[no++] = id;
      }
    }
  } else {
    /* Implicit: the ellipsis first, then letters seen once, sorted as
     * ASCII (upper case before lower case), as numpy and MLX. */
    for (int e = max_ell - 1; e >= 0; e--) oids[no++] = ID_ELL + e;
    for (int id = 26; id < 52; id++)
      if (count[id] == 1) oids[no++] = id;
    for (int id = 0; id < 26; id++)
      if (count[id] == 1) oids[no++] = id;
  }
  if (no > MX_MAX_NDIM) {
    set_error(MX_ERR_SHAPE, "einsum: output of \"%s\" has %d dimensions (at most %d)", s, no,
              MX_MAX_NDIM);
    return NULL;
  }

  mx_dtype dt = operands[0]->dtype;
  for (size_t k = 1; k < n; k++) dt = mx_promote_types(dt, operands[k]->dtype);
  bool exact = !mx_dtype_is_inexact(dt);

  operand cur = {mx_array_retain(operands[0]), terms[0].n, {0}};
  memcpy(cur.ids, terms[0].ids, sizeof cur.ids);
  if (nt == 1) {
    /* A pure permutation is a view. */
    bool perm_only = cur.n == no;
    for (int d = 0; d < cur.n && perm_only; d++)
      for (int e = d + 1; e < cur.n; e++) perm_only &= cur.ids[d] != cur.ids[e];
    for (int d = 0; d < cur.n && perm_only; d++)
      perm_only &= has(oids, no, cur.ids[d]) && cur.a->shape[d] == size[cur.ids[d]];
    mx_array r = perm_only ? permute_to(&cur, oids, no) : loop_node(&cur, 1, oids, no, size, dt);
    mx_array_free(cur.a);
    return r;
  }
  for (int k = 1; k < nt; k++) {
    operand nxt = {operands[k], terms[k].n, {0}};
    memcpy(nxt.ids, terms[k].ids, sizeof nxt.ids);
    int rids[MX_MAX_NDIM + 52], nr = 0;
    if (k == nt - 1) {
      memcpy(rids, oids, sizeof(int) * (size_t)no);
      nr = no;
    } else {
      /* Keep what later operands or the output still need. */
      for (int pass = 0; pass < 2; pass++) {
        operand *o = pass ? &nxt : &cur;
        for (int d = 0; d < o->n; d++) {
          int id = o->ids[d];
          if (has(rids, nr, id)) continue;
          bool need = has(oids, no, id);
          for (int j = k + 1; j < nt && !need; j++) need = has(terms[j].ids, terms[j].n, id);
          if (need) rids[nr++] = id;
        }
      }
      if (nr > MX_MAX_NDIM) {
        mx_array_free(cur.a);
        set_error(MX_ERR_SHAPE, "einsum: an intermediate of \"%s\" has %d dimensions (at most %d)",
                  s, nr, MX_MAX_NDIM);
        return NULL;
      }
    }
    mx_array r = NULL;
    bool tried = false;
    mx_array pair_dt[2] = {cast_to(cur.a, dt), cast_to(nxt.a, dt)};
    if (!pair_dt[0] || !pair_dt[1]) {
      mx_array_free(pair_dt[0]);
      mx_array_free(pair_dt[1]);
      mx_array_free(cur.a);
      return NULL;
    }
    operand pa = cur, pb = nxt;
    pa.a = pair_dt[0];
    pb.a = pair_dt[1];
    if (!exact) r = dot_pair(&pa, &pb, rids, nr, size, &tried);
    if (!tried) {
      operand pr[2] = {pa, pb};
      r = loop_node(pr, 2, rids, nr, size, dt);
    }
    mx_array_free(pair_dt[0]);
    mx_array_free(pair_dt[1]);
    mx_array_free(cur.a);
    if (!r) return NULL;
    cur.a = r;
    cur.n = nr;
    memcpy(cur.ids, rids, sizeof(int) * (size_t)nr);
    dt = mx_promote_types(dt, r->dtype);
  }
  return cur.a;
}
