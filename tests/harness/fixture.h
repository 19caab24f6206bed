/* fixture.h — runs NumPy-generated op fixtures.
 *
 * A reference script tests/ref/gen_<family>.py writes into a folder:
 *   cases.txt   one case per line:  <id> <op> <nin> <rtol> <atol> [key=value ...]
 *   <id>.in<k>.npy   input k         <id>.out.npy   the expected result
 * Keys the runner itself understands:
 *   view<k>=T|step2|rev  input k is passed as a strided view of the stored
 *                        array: all axes reversed (transpose), every other
 *                        element of the last axis, or the last axis reversed.
 *                        The script computed the expected output from the
 *                        same view.
 *   dtype<k>=bfloat16    input k is stored as uint16 bits of bfloat16
 *   out_dtype=bfloat16   the expected output likewise
 * Other keys are the op's parameters, read by the family's op table with
 * fx_int / fx_ints / fx_double / fx_str.
 * Comparison: dtypes must match exactly; bool and integers exactly;
 * floats |got - want| <= atol + rtol * |want|, NaN matching NaN, inf by sign.
 */
#ifndef MLXC_TEST_FIXTURE_H
#define MLXC_TEST_FIXTURE_H

#include <stdbool.h>

#include "check.h"

#define FX_MAX_PARAMS 16
typedef struct fx_case {
  char id[128];
  char op[64];
  int nin;
  double rtol, atol;
  int nparams;
  char keys[FX_MAX_PARAMS][32];
  char vals[FX_MAX_PARAMS][256];
} fx_case;

/* An op under test: builds the result from the inputs (borrowed). */
typedef mx_array (*fx_fn)(const fx_case *c, mx_array *in, int nin);
typedef struct fx_op {
  const char *name;
  fx_fn fn;
} fx_op;

bool fx_has(const fx_case *c, const char *key);
int64_t fx_int(const fx_case *c, const char *key, int64_t dflt);
double fx_double(const fx_case *c, const char *key, double dflt);
const char *fx_str(const fx_case *c, const char *key, const char *dflt);
/* Comma-separated ints ("0,-1"); returns how many (0 if the key is absent,
 * -1 if its value is "none"). */
int fx_ints(const fx_case *c, const char *key, int64_t *out, int max);
/* dtype by MLX name ("float32"); dflt if absent. */
mx_dtype fx_dtype(const fx_case *c, const char *key, mx_dtype dflt);

/* Runs every case in dir/cases.txt whose op is in `ops` (a case whose op is
 * missing from the table fails). Reports through check.h; also checks that
 * active memory returns to where it started. Returns the number of cases. */
int fx_run_dir(const char *dir, const fx_op *ops, int nops);

/* Compares an array with an expected one under the rules above; on mismatch
 * writes a reason into why. */
bool fx_compare(mx_array got, mx_array want, double rtol, double atol, char *why, size_t cap);

#endif
