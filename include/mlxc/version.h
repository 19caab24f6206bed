/* mlxc/version.h — library version. */
#ifndef MLXC_VERSION_H
#define MLXC_VERSION_H

#define MLXC_VERSION_MAJOR 0
#define MLXC_VERSION_MINOR 1
#define MLXC_VERSION_PATCH 0
#define MLXC_VERSION_STRING "0.1.0"

#ifdef __cplusplus
extern "C" {
#endif
/* The version of the library actually linked (may differ from the header). */
const char *mx_version(void);
#ifdef __cplusplus
}
#endif
#endif
