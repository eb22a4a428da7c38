// How many connections the agent's API port holds, and which one gives way when it is full.
// Connections in their TLS handshake are capped apart (a burst of peers that never finish
// their handshake must not take every slot); when either cap is reached, the oldest
// connection that can go without harm makes room: the oldest handshake, else the connection
// idle for the longest (HTTP lets a server close an idle keep-alive connection). Only when
// every connection is busy with a request is a newcomer refused. Thread-safe; no I/O: the
// caller closes what it is told to.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>

namespace migrate::agent {

class ConnectionLimiter {
 public:
  enum class Stage { kHandshake, kIdle, kBusy };

  struct Admission {
    bool admitted = false;
    std::optional<uint64_t> evict;  // close this one (already forgotten here)
  };

  ConnectionLimiter(int max_handshakes, int max_connections);

  // A new connection `id`, in its handshake.
  Admission Admit(uint64_t id);
  // `id` moved on (no effect for one evicted or removed).
  void SetStage(uint64_t id, Stage stage);
  void Remove(uint64_t id);

  int Count(Stage stage) const;
  int size() const;

 private:
  struct Entry {
    Stage stage;
    uint64_t since;  // order of the last stage change
  };
  // The oldest connection in `stage`, if any.
  std::optional<uint64_t> OldestLocked(Stage stage) const;
  int CountLocked(Stage stage) const;

  const int max_handshakes_;
  const int max_connections_;
  mutable std::mutex mu_;
  std::map<uint64_t, Entry> entries_;
  uint64_t clock_ = 0;
};

}  // namespace migrate::agent
