// ORT adapter for Repeat(X) -> Y (rep_deploy/ops/repeat.py): any element type, rank >= 2.
#pragma once

#include <onnxruntime_c_api.h>

namespace rep_deploy::ort {

const OrtCustomOp* repeat_op();

}  // namespace rep_deploy::ort
