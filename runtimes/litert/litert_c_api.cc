#include "litert_c_api.h"

#include <dlfcn.h>

namespace rep_deploy::litert {

std::string Api::resolve(void* handle) {
#define REP_DEPLOY_LITERT_RESOLVE(name, ret, params)                          \
  name = reinterpret_cast<ret(*) params>(::dlsym(handle, #name));             \
  if (!name) return #name;
  REP_DEPLOY_LITERT_FUNCTIONS(REP_DEPLOY_LITERT_RESOLVE)
#undef REP_DEPLOY_LITERT_RESOLVE
  return "";
}

}  // namespace rep_deploy::litert
