#include "agent/runtime/process_runner.h"

namespace migrate::runtime {
namespace {

bool NeedsQuoting(const std::string& arg) {
  if (arg.empty()) return true;
  for (char c : arg) {
    bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '_' || c == '.' || c == '/' || c == '=' || c == ':' || c == ',' ||
                 c == '+' || c == '@';
    if (!plain) return true;
  }
  return false;
}

// The last `max` bytes of `text`, trimmed, on one line.
std::string Tail(const std::string& text, size_t max) {
  std::string t = text.size() > max ? "..." + text.substr(text.size() - max) : text;
  while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
  for (char& c : t) {
    if (c == '\n') c = ' ';
  }
  return t;
}

}  // namespace

std::string ProcessResult::Describe() const {
  if (timed_out) return "timed out after " + std::to_string(duration.count()) + " ms";
  if (term_signal != 0) return "killed by signal " + std::to_string(term_signal);
  return "exit status " + std::to_string(exit_code);
}

std::string FormatCommand(const std::vector<std::string>& argv) {
  std::string out;
  for (const std::string& arg : argv) {
    if (!out.empty()) out += ' ';
    if (!NeedsQuoting(arg)) {
      out += arg;
      continue;
    }
    out += '\'';
    for (char c : arg) {
      if (c == '\'') {
        out += "'\\''";
      } else {
        out += c;
      }
    }
    out += '\'';
  }
  return out;
}

Result<ProcessResult> RunChecked(ProcessRunner& runner, const ProcessSpec& spec) {
  Result<ProcessResult> result = runner.Run(spec);
  if (!result.ok()) return result.status().WithContext(FormatCommand(spec.argv));
  if (result->Succeeded()) return result;
  std::string message = FormatCommand(spec.argv) + ": " + result->Describe();
  std::string output = !result->stderr_text.empty() ? result->stderr_text : result->stdout_text;
  if (!output.empty()) message += ": " + Tail(output, 600);
  if (result->timed_out) return Status::DeadlineExceeded(message);
  return Status(StatusCode::kFailedPrecondition, message);
}

}  // namespace migrate::runtime
