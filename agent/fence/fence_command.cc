#include "agent/fence/fence_command.h"

#include <array>
#include <charconv>
#include <utility>

namespace migrate::fence {
namespace {

enum class Argument { kNone, kNumber, kReason };

struct VerbSpec {
  Verb verb;
  std::string_view name;
  Argument argument;
};

constexpr std::array<VerbSpec, 9> kVerbs = {{
    {Verb::kLeaseUntil, "LEASE-UNTIL", Argument::kNumber},
    {Verb::kHoldUntil, "HOLD-UNTIL", Argument::kNumber},
    {Verb::kRunning, "RUNNING", Argument::kNumber},
    {Verb::kKill, "KILL", Argument::kReason},
    {Verb::kDisarm, "DISARM", Argument::kNone},
    {Verb::kCommit, "COMMIT", Argument::kNone},
    {Verb::kResume, "RESUME", Argument::kReason},
    {Verb::kRelease, "RELEASE", Argument::kNone},
    {Verb::kStatus, "STATUS", Argument::kNone},
}};

Result<int64_t> ParseNumber(std::string_view verb, std::string_view text) {
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value < 0) {
    return Status::InvalidArgument(std::string(verb) + " needs a non-negative integer, not \"" +
                                   std::string(text) + "\"");
  }
  return value;
}

Result<FenceCommand> ParseArgument(const VerbSpec& spec, std::string_view rest) {
  FenceCommand command;
  command.verb = spec.verb;
  switch (spec.argument) {
    case Argument::kNone:
      if (!rest.empty())
        return Status::InvalidArgument(std::string(spec.name) + " takes no argument");
      return command;
    case Argument::kNumber: {
      MIGRATE_ASSIGN_OR_RETURN(command.number, ParseNumber(spec.name, rest));
      return command;
    }
    case Argument::kReason:
      if (rest.empty()) return Status::InvalidArgument(std::string(spec.name) + " needs a reason");
      command.reason = std::string(rest);
      return command;
  }
  return Status::Internal("unknown argument kind");
}

}  // namespace

std::string_view VerbName(Verb verb) {
  for (const VerbSpec& spec : kVerbs) {
    if (spec.verb == verb) return spec.name;
  }
  return "?";
}

std::string DeadlineCommand(Verb verb, std::chrono::steady_clock::time_point until) {
  const auto ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(until.time_since_epoch()).count();
  return std::string(VerbName(verb)) + " " + std::to_string(ns);
}

Result<FenceCommand> ParseFenceCommand(std::string_view line) {
  size_t space = line.find(' ');
  std::string_view name = line.substr(0, space);
  std::string_view rest =
      space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
  for (const VerbSpec& spec : kVerbs) {
    if (spec.name == name) return ParseArgument(spec, rest);
  }
  return Status::InvalidArgument("unknown command \"" + std::string(name.substr(0, 64)) + "\"");
}

}  // namespace migrate::fence
