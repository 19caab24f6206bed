#include "mlxc/version.h"
const char *mx_version(void) { return MLXC_VERSION_STRING; }
