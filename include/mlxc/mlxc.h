/* mlxc/mlxc.h — everything: include this one header. */
#ifndef MLXC_MLXC_H
#define MLXC_MLXC_H

#include "version.h"
#include "error.h"
#include "dtype.h"
#include "device.h"
#include "memory.h"
#include "array.h"
#include "ops.h"
#include "fast.h"
#include "random.h"
#include "io.h"
#include "gguf.h"
#include "safetensors.h"
#include "chat_template.h"
#include "quantized.h"
#include "lm.h"
#include "tokenizer.h"

#endif
