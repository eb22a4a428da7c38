// Linked into every fuzz target: protobuf's and migrate's logs stay quiet (an input with
// invalid UTF-8 in a string field would log a line per execution, slowing the fuzzer).
#include <google/protobuf/stubs/logging.h>

#include "transfer/base/log.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);
  migrate::SetLogThreshold(migrate::LogLevel::kError);
  return 0;
}
