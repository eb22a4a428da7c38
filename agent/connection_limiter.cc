#include "agent/connection_limiter.h"

#include <algorithm>

namespace migrate::agent {

ConnectionLimiter::ConnectionLimiter(int max_handshakes, int max_connections)
    : max_handshakes_(std::max(1, max_handshakes)),
      max_connections_(std::max(1, max_connections)) {}

int ConnectionLimiter::CountLocked(Stage stage) const {
  return static_cast<int>(std::count_if(entries_.begin(), entries_.end(),
                                        [&](const auto& e) { return e.second.stage == stage; }));
}

std::optional<uint64_t> ConnectionLimiter::OldestLocked(Stage stage) const {
  std::optional<uint64_t> oldest;
  uint64_t since = UINT64_MAX;
  for (const auto& [id, entry] : entries_) {
    if (entry.stage == stage && entry.since < since) {
      oldest = id;
      since = entry.since;
    }
  }
  return oldest;
}

ConnectionLimiter::Admission ConnectionLimiter::Admit(uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  Admission out;
  if (CountLocked(Stage::kHandshake) >= max_handshakes_) {
    out.evict = OldestLocked(Stage::kHandshake);
  } else if (static_cast<int>(entries_.size()) >= max_connections_) {
    out.evict = OldestLocked(Stage::kIdle);
    if (!out.evict) out.evict = OldestLocked(Stage::kHandshake);
    if (!out.evict) return out;  // every connection is busy with a request
  }
  if (out.evict) entries_.erase(*out.evict);
  entries_[id] = Entry{Stage::kHandshake, clock_++};
  out.admitted = true;
  return out;
}

void ConnectionLimiter::SetStage(uint64_t id, Stage stage) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(id);
  if (it != entries_.end()) it->second = Entry{stage, clock_++};
}

void ConnectionLimiter::Remove(uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  entries_.erase(id);
}

int ConnectionLimiter::Count(Stage stage) const {
  std::lock_guard<std::mutex> lock(mu_);
  return CountLocked(stage);
}

int ConnectionLimiter::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(entries_.size());
}

}  // namespace migrate::agent
