/* utf8.h — UTF-8 validation shared by the file readers and text code. */
#ifndef MLXC_UTF8_H
#define MLXC_UTF8_H
#include <stddef.h>
/* 1 if s[0..n) is valid UTF-8 (RFC 3629: no overlong forms, no surrogates,
 * nothing past U+10FFFF), else 0. */
int utf8_is_valid(const char *s, size_t n);
#endif
