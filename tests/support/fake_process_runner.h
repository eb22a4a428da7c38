// A scripted ProcessRunner for unit tests: records every spec and answers from rules matched
// on argv (first matching rule wins; a rule may run a side effect, e.g. write a CRIU log).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "agent/runtime/process_runner.h"

namespace migrate::testing {

class FakeProcessRunner : public runtime::ProcessRunner {
 public:
  using Action = std::function<Result<runtime::ProcessResult>(const runtime::ProcessSpec&)>;

  // Answers specs whose argv contains every word of `words` (in any position).
  void On(std::vector<std::string> words, Action action);
  // Shorthand: exit code + stdout/stderr.
  void OnExit(std::vector<std::string> words, int exit_code, std::string stdout_text = "",
              std::string stderr_text = "");

  Result<runtime::ProcessResult> Run(const runtime::ProcessSpec& spec) override;

  const std::vector<runtime::ProcessSpec>& calls() const { return calls_; }
  // Calls whose argv contains `word`.
  std::vector<runtime::ProcessSpec> CallsWith(const std::string& word) const;

  static runtime::ProcessResult Exit(int code, std::string out = "", std::string err = "");

 private:
  struct Rule {
    std::vector<std::string> words;
    Action action;
  };
  std::vector<Rule> rules_;
  std::vector<runtime::ProcessSpec> calls_;
};

}  // namespace migrate::testing
