/* dtype.c — dtype sizes, names, categories and MLX's promotion table. */
#include "core.h"

static const size_t sizes[MX_DTYPE_COUNT] = {1, 1, 2, 4, 8, 1, 2, 4, 8, 2, 4, 8, 2, 8};
static const char *const names[MX_DTYPE_COUNT] = {
    "bool",  "uint8", "uint16",  "uint32",  "uint64",   "int8",     "int16",
    "int32", "int64", "float16", "float32", "float64", "bfloat16", "complex64"};

bool mx_dtype_is_valid(mx_dtype t) { return (unsigned)t < MX_DTYPE_COUNT; }
size_t mx_dtype_size(mx_dtype t) { return mx_dtype_is_valid(t) ? sizes[t] : 0; }
const char *mx_dtype_name(mx_dtype t) { return mx_dtype_is_valid(t) ? names[t] : "invalid"; }

bool mx_dtype_is_floating(mx_dtype t) {
  return t == MX_FLOAT16 || t == MX_FLOAT32 || t == MX_FLOAT64 || t == MX_BFLOAT16;
}
bool mx_dtype_is_unsigned_integer(mx_dtype t) { return t >= MX_UINT8 && t <= MX_UINT64; }
bool mx_dtype_is_signed_integer(mx_dtype t) { return t >= MX_INT8 && t <= MX_INT64; }
bool mx_dtype_is_integer(mx_dtype t) {
  return mx_dtype_is_unsigned_integer(t) || mx_dtype_is_signed_integer(t);
}
bool mx_dtype_is_complex(mx_dtype t) { return t == MX_COMPLEX64; }
bool mx_dtype_is_inexact(mx_dtype t) { return mx_dtype_is_floating(t) || mx_dtype_is_complex(t); }

/* MLX's table (mlx/dtype.cpp), which follows JAX's lattice: mixing signed
 * and unsigned widens; uint64 with a signed int gives float32; any float
 * wins over integers; f16 with bf16 gives f32; complex64 absorbs all. */
#define B MX_BOOL
#define U8 MX_UINT8
#define U16 MX_UINT16
#define U32 MX_UINT32
#define U64 MX_UINT64
#define I8 MX_INT8
#define I16 MX_INT16
#define I32 MX_INT32
#define I64 MX_INT64
#define F16 MX_FLOAT16
#define F32 MX_FLOAT32
#define F64 MX_FLOAT64
#define BF MX_BFLOAT16
#define C64 MX_COMPLEX64
static const unsigned char promote[MX_DTYPE_COUNT][MX_DTYPE_COUNT] = {
    /*        B    U8   U16  U32  U64  I8   I16  I32  I64  F16  F32  F64  BF   C64 */
    /* B   */ {B, U8, U16, U32, U64, I8, I16, I32, I64, F16, F32, F64, BF, C64},
    /* U8  */ {U8, U8, U16, U32, U64, I16, I16, I32, I64, F16, F32, F64, BF, C64},
    /* U16 */ {U16, U16, U16, U32, U64, I32, I32, I32, I64, F16, F32, F64, BF, C64},
    /* U32 */ {U32, U32, U32, U32, U64, I64, I64, I64, I64, F16, F32, F64, BF, C64},
    /* U64 */ {U64, U64, U64, U64, U64, F32, F32, F32, F32, F16, F32, F64, BF, C64},
    /* I8  */ {I8, I16, I32, I64, F32, I8, I16, I32, I64, F16, F32, F64, BF, C64},
    /* I16 */ {I16, I16, I32, I64, F32, I16, I16, I32, I64, F16, F32, F64, BF, C64},
    /* I32 */ {I32, I32, I32, I64, F32, I32, I32, I32, I64, F16, F32, F64, BF, C64},
    /* I64 */ {I64, I64, I64, I64, F32, I64, I64, I64, I64, F16, F32, F64, BF, C64},
    /* F16 */ {F16, F16, F16, F16, F16, F16, F16, F16, F16, F16, F32, F64, F32, C64},
    /* F32 */ {F32, F32, F32, F32, F32, F32, F32, F32, F32, F32, F32, F64, F32, C64},
    /* F64 */ {F64, F64, F64, F64, F64, F64, F64, F64, F64, F64, F64, F64, F64, C64},
    /* BF  */ {BF, BF, BF, BF, BF, BF, BF, BF, BF, F32, F32, F64, BF, C64},
    /* C64 */ {C64, C64, C64, C64, C64, C64, C64, C64, C64, C64, C64, C64, C64, C64},
};

mx_dtype mx_promote_types(mx_dtype a, mx_dtype b) {
  if (!mx_dtype_is_valid(a) || !mx_dtype_is_valid(b)) return MX_DTYPE_COUNT;
  return (mx_dtype)promote[a][b];
}
