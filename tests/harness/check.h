/* check.h — the tiny test harness: CHECK macros and a pass/fail summary.
 * Each test binary ends with `return check_summary();`, which prints
 * "N passed, N failed" and returns non-zero on any failure. */
#ifndef MLXC_TEST_CHECK_H
#define MLXC_TEST_CHECK_H

#include <stdio.h>
#include <string.h>

#include "mlxc/mlxc.h"

extern int check_passed, check_failed;

void check_report(int ok, const char *file, int line, const char *what, const char *detail);
int check_summary(void);

#define CHECK(cond) check_report(!!(cond), __FILE__, __LINE__, #cond, NULL)
#define CHECK_MSG(cond, msg) check_report(!!(cond), __FILE__, __LINE__, #cond, (msg))
/* The call must fail (NULL) with `code` and a message containing `substr`. */
#define CHECK_ERR(expr, code, substr)                                                   \
  do {                                                                                 \
    mx_clear_error();                                                                  \
    mx_array check_err_r_ = (expr);                                                    \
    int check_err_ok_ = check_err_r_ == NULL && mx_last_error_code() == (code) &&      \
                        strstr(mx_last_error(), (substr)) != NULL;                     \
    check_report(check_err_ok_, __FILE__, __LINE__, #expr " fails with " #code,         \
                 mx_last_error());                                                     \
    mx_array_free(check_err_r_);                                                       \
    mx_clear_error();                                                                  \
  } while (0)

#endif
