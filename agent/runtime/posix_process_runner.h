// The real ProcessRunner: posix_spawn (no shell), pipes read with poll(), SIGKILL at the
// deadline. Thread-safe: holds no state.
#pragma once

#include "agent/runtime/process_runner.h"

namespace migrate::runtime {

class PosixProcessRunner final : public ProcessRunner {
 public:
  Result<ProcessResult> Run(const ProcessSpec& spec) override;
};

}  // namespace migrate::runtime
