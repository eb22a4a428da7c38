// Minimal structured logging to stderr: "<time> <LEVEL> [migration=<id>] message".
// Every line that belongs to a migration carries its id.
#pragma once

#include <sstream>
#include <string>
#include <string_view>

namespace migrate {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// Parses "debug|info|warn|error"; false on anything else.
bool ParseLogLevel(std::string_view text, LogLevel* level);

// The process's threshold; set once at start-up from flags or config.
void SetLogThreshold(LogLevel level);
bool LogEnabled(LogLevel level);

// Writes one line atomically (thread-safe). `migration_id` may be empty.
void LogLine(LogLevel level, std::string_view migration_id, std::string_view message);

// Stream helper: MIGRATE_LOG(kInfo, id) << "checkpoint done in " << ms << " ms";
class LogMessage {
 public:
  LogMessage(LogLevel level, std::string_view migration_id)
      : level_(level), migration_id_(migration_id) {}
  ~LogMessage() { LogLine(level_, migration_id_, stream_.str()); }
  LogMessage(const LogMessage&) = delete;
  LogMessage& operator=(const LogMessage&) = delete;
  std::ostream& stream() { return stream_; }

 private:
  LogLevel level_;
  std::string migration_id_;
  std::ostringstream stream_;
};

}  // namespace migrate

#define MIGRATE_LOG(level, migration_id)                   \
  if (!::migrate::LogEnabled(::migrate::LogLevel::level)) \
    ;                                                      \
  else                                                     \
    ::migrate::LogMessage(::migrate::LogLevel::level, (migration_id)).stream()
