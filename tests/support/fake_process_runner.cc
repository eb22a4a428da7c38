#include "tests/support/fake_process_runner.h"

#include <algorithm>

namespace migrate::testing {
namespace {

bool Contains(const std::vector<std::string>& argv, const std::string& word) {
  return std::find(argv.begin(), argv.end(), word) != argv.end();
}

}  // namespace

runtime::ProcessResult FakeProcessRunner::Exit(int code, std::string out, std::string err) {
  runtime::ProcessResult r;
  r.exit_code = code;
  r.stdout_text = std::move(out);
  r.stderr_text = std::move(err);
  return r;
}

void FakeProcessRunner::On(std::vector<std::string> words, Action action) {
  rules_.push_back({std::move(words), std::move(action)});
}

void FakeProcessRunner::OnExit(std::vector<std::string> words, int exit_code,
                               std::string stdout_text, std::string stderr_text) {
  runtime::ProcessResult r = Exit(exit_code, std::move(stdout_text), std::move(stderr_text));
  On(std::move(words),
     [r](const runtime::ProcessSpec&) { return Result<runtime::ProcessResult>(r); });
}

Result<runtime::ProcessResult> FakeProcessRunner::Run(const runtime::ProcessSpec& spec) {
  calls_.push_back(spec);
  for (const Rule& rule : rules_) {
    bool match = std::all_of(rule.words.begin(), rule.words.end(),
                             [&](const std::string& w) { return Contains(spec.argv, w); });
    if (match) return rule.action(spec);
  }
  return Status::NotFound("fake runner has no rule for: " + runtime::FormatCommand(spec.argv));
}

std::vector<runtime::ProcessSpec> FakeProcessRunner::CallsWith(const std::string& word) const {
  std::vector<runtime::ProcessSpec> out;
  for (const runtime::ProcessSpec& spec : calls_) {
    if (Contains(spec.argv, word)) out.push_back(spec);
  }
  return out;
}

}  // namespace migrate::testing
