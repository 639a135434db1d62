// The part of LiteRT's TFLite C API that rep-deploy calls, declared here from the documented ABI
// (tensorflow/lite/core/c/{c_api,c_api_opaque,operator,common}.h as exported by the aarch64
// libLiteRtRuntimeCApi.so of ai-edge-litert 2.0.3; see ../../docs and the research notes). No
// LiteRT header is copied or needed: the types stay opaque, the enums are their documented integers,
// and the functions are resolved at run time with dlsym, so nothing links against LiteRT and the
// same binaries work with any library exporting these symbols.
#pragma once

#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <string>

extern "C" {
typedef struct TfLiteModel TfLiteModel;
typedef struct TfLiteInterpreter TfLiteInterpreter;
typedef struct TfLiteInterpreterOptions TfLiteInterpreterOptions;
typedef struct TfLiteTensor TfLiteTensor;
typedef struct TfLiteOperator TfLiteOperator;
typedef struct TfLiteOpaqueContext TfLiteOpaqueContext;
typedef struct TfLiteOpaqueNode TfLiteOpaqueNode;
typedef struct TfLiteOpaqueTensor TfLiteOpaqueTensor;
// common.h: `typedef struct { int size; int data[]; } TfLiteIntArray;` (data follows size; see
// int_array_data below: C++ has no flexible array member).
typedef struct TfLiteIntArray { int size; } TfLiteIntArray;
// c_api_types.h: a tensor's per-tensor affine quantization (real = scale * (q - zero_point)).
typedef struct TfLiteQuantizationParams { float scale; int32_t zero_point; } TfLiteQuantizationParams;
}

namespace rep_deploy::litert {

// TfLiteStatus (c_api_types.h): only "ok" and the generic error are produced or tested here.
constexpr int kTfLiteOk = 0;
constexpr int kTfLiteError = 1;
// TfLiteType (c_api_types.h)
constexpr int kTfLiteFloat32 = 1;
constexpr int kTfLiteInt32 = 2;
constexpr int kTfLiteBool = 6;
constexpr int kTfLiteInt8 = 9;
// TfLiteAllocationType (common.h): constant tensors of a model file are memory-mapped read-only
// (kTfLiteMmapRo); kTfLitePersistentRo holds constants a delegate or a prepare step computed.
constexpr int kTfLiteMmapRo = 1;
constexpr int kTfLitePersistentRo = 5;
// TfLiteBuiltinOperator (builtin_ops.h): kTfLiteBuiltinCustom, the code of every custom op.
constexpr int kTfLiteBuiltinCustom = 32;

inline int* int_array_data(TfLiteIntArray* a) {
  return reinterpret_cast<int*>(reinterpret_cast<char*>(a) + sizeof(int));
}

using ErrorReporter = void (*)(void* user_data, const char* format, va_list args);

// X(name, return type, parameters): every function either program resolves.
#define REP_DEPLOY_LITERT_FUNCTIONS(X)                                                                  \
  X(TfLiteVersion, const char*, (void))                                                                 \
  X(TfLiteModelCreateFromFileWithErrorReporter, TfLiteModel*, (const char*, ErrorReporter, void*))     \
  X(TfLiteModelDelete, void, (TfLiteModel*))                                                           \
  X(TfLiteInterpreterOptionsCreate, TfLiteInterpreterOptions*, (void))                                 \
  X(TfLiteInterpreterOptionsDelete, void, (TfLiteInterpreterOptions*))                                 \
  X(TfLiteInterpreterOptionsSetNumThreads, void, (TfLiteInterpreterOptions*, int32_t))                \
  X(TfLiteInterpreterOptionsSetErrorReporter, void, (TfLiteInterpreterOptions*, ErrorReporter, void*)) \
  X(TfLiteInterpreterOptionsAddOperator, void, (TfLiteInterpreterOptions*, TfLiteOperator*))           \
  X(TfLiteInterpreterCreate, TfLiteInterpreter*, (const TfLiteModel*, const TfLiteInterpreterOptions*)) \
  X(TfLiteInterpreterDelete, void, (TfLiteInterpreter*))                                               \
  X(TfLiteInterpreterGetInputTensorCount, int32_t, (const TfLiteInterpreter*))                         \
  X(TfLiteInterpreterGetInputTensor, TfLiteTensor*, (const TfLiteInterpreter*, int32_t))              \
  X(TfLiteInterpreterResizeInputTensor, int, (TfLiteInterpreter*, int32_t, const int*, int32_t))      \
  X(TfLiteInterpreterAllocateTensors, int, (TfLiteInterpreter*))                                       \
  X(TfLiteInterpreterInvoke, int, (TfLiteInterpreter*))                                                \
  X(TfLiteInterpreterGetOutputTensorCount, int32_t, (const TfLiteInterpreter*))                        \
  X(TfLiteInterpreterGetOutputTensor, const TfLiteTensor*, (const TfLiteInterpreter*, int32_t))       \
  X(TfLiteTensorType, int, (const TfLiteTensor*))                                                      \
  X(TfLiteTensorNumDims, int32_t, (const TfLiteTensor*))                                               \
  X(TfLiteTensorDim, int32_t, (const TfLiteTensor*, int32_t))                                          \
  X(TfLiteTensorByteSize, size_t, (const TfLiteTensor*))                                               \
  X(TfLiteTensorData, void*, (const TfLiteTensor*))                                                    \
  X(TfLiteTensorName, const char*, (const TfLiteTensor*))                                              \
  /* custom operators (operator.h): the 4-argument Create of 1.4.0/2.0.3 (user_data last) */           \
  X(TfLiteOperatorCreate, TfLiteOperator*, (int, const char*, int, void*))                            \
  X(TfLiteOperatorSetInit, void,                                                                       \
    (TfLiteOperator*, void* (*)(TfLiteOpaqueContext*, const char*, size_t)))                           \
  X(TfLiteOperatorSetFree, void, (TfLiteOperator*, void (*)(TfLiteOpaqueContext*, void*)))            \
  X(TfLiteOperatorSetPrepare, void, (TfLiteOperator*, int (*)(TfLiteOpaqueContext*, TfLiteOpaqueNode*))) \
  X(TfLiteOperatorSetInvoke, void, (TfLiteOperator*, int (*)(TfLiteOpaqueContext*, TfLiteOpaqueNode*)))  \
  /* kernels (c_api_opaque.h) */                                                                       \
  X(TfLiteOpaqueNodeGetUserData, void*, (const TfLiteOpaqueNode*))                                    \
  X(TfLiteOpaqueNodeNumberOfInputs, int, (const TfLiteOpaqueNode*))                                   \
  X(TfLiteOpaqueNodeNumberOfOutputs, int, (const TfLiteOpaqueNode*))                                  \
  X(TfLiteOpaqueNodeGetInput, const TfLiteOpaqueTensor*,                                               \
    (const TfLiteOpaqueContext*, const TfLiteOpaqueNode*, int))                                        \
  X(TfLiteOpaqueNodeGetOutput, TfLiteOpaqueTensor*, (TfLiteOpaqueContext*, const TfLiteOpaqueNode*, int)) \
  X(TfLiteOpaqueTensorType, int, (const TfLiteOpaqueTensor*))                                          \
  X(TfLiteOpaqueTensorNumDims, int32_t, (const TfLiteOpaqueTensor*))                                   \
  X(TfLiteOpaqueTensorDim, int32_t, (const TfLiteOpaqueTensor*, int32_t))                              \
  X(TfLiteOpaqueTensorData, void*, (const TfLiteOpaqueTensor*))                                        \
  X(TfLiteOpaqueTensorByteSize, size_t, (const TfLiteOpaqueTensor*))                                   \
  X(TfLiteOpaqueTensorName, const char*, (const TfLiteOpaqueTensor*))                                  \
  X(TfLiteOpaqueTensorGetAllocationType, int, (const TfLiteOpaqueTensor*))                             \
  X(TfLiteOpaqueTensorGetQuantizationParams, TfLiteQuantizationParams, (const TfLiteOpaqueTensor*))     \
  X(TfLiteOpaqueContextResizeTensor, int, (TfLiteOpaqueContext*, TfLiteOpaqueTensor*, TfLiteIntArray*)) \
  X(TfLiteOpaqueContextReportError, void, (TfLiteOpaqueContext*, const char*, ...))                    \
  X(TfLiteIntArrayCreate, TfLiteIntArray*, (int))

// The resolved functions, one member per name (e.g. api.TfLiteVersion()).
struct Api {
#define REP_DEPLOY_LITERT_MEMBER(name, ret, params) ret(*name) params = nullptr;
  REP_DEPLOY_LITERT_FUNCTIONS(REP_DEPLOY_LITERT_MEMBER)
#undef REP_DEPLOY_LITERT_MEMBER

  // Fills every member from `handle` (a dlopen handle of libLiteRtRuntimeCApi.so). Returns "" or the
  // first missing symbol's name; dlsym, not the link, so a wrong library fails with a name, not a crash.
  std::string resolve(void* handle);
};

}  // namespace rep_deploy::litert
