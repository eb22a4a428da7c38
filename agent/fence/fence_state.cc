#include "agent/fence/fence_state.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <utility>

#include "transfer/base/unique_fd.h"
#include "transfer/json/json.h"

namespace migrate::fence {
namespace {

Result<std::string> StringMember(const json::Value& doc, std::string_view key) {
  const json::Value* v = json::Find(doc, key);
  if (v == nullptr || !v->is_string()) {
    return Status::InvalidArgument("fence state: \"" + std::string(key) + "\" is not a string");
  }
  return v->get<std::string>();
}

Result<uint64_t> UnsignedMember(const json::Value& doc, std::string_view key) {
  const json::Value* v = json::Find(doc, key);
  if (v == nullptr || !v->is_number_unsigned()) {
    return Status::InvalidArgument("fence state: \"" + std::string(key) +
                                   "\" is not an unsigned integer");
  }
  return v->get<uint64_t>();
}

Status WriteAll(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno("write", errno);
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

}  // namespace

FenceState InitialFenceState(std::string role, std::string label, std::string state, pid_t pid) {
  FenceState initial;
  initial.role = std::move(role);
  initial.label = std::move(label);
  initial.state = std::move(state);
  initial.pid = pid;
  return initial;
}

std::string SerializeFenceState(const FenceState& state) {
  json::Value doc = json::Value::object();
  doc["role"] = state.role;
  doc["label"] = state.label;
  doc["state"] = state.state;
  doc["reason"] = state.reason;
  doc["ran_ms"] = state.ran_ms;
  doc["pid"] = static_cast<uint64_t>(state.pid);
  doc["updated_unix_ms"] = state.updated_unix_ms;
  return json::Serialize(doc);
}

Result<FenceState> ParseFenceState(std::string_view text) {
  MIGRATE_ASSIGN_OR_RETURN(json::Value doc, json::Parse(text));
  FenceState state;
  MIGRATE_ASSIGN_OR_RETURN(state.role, StringMember(doc, "role"));
  MIGRATE_ASSIGN_OR_RETURN(state.label, StringMember(doc, "label"));
  MIGRATE_ASSIGN_OR_RETURN(state.state, StringMember(doc, "state"));
  MIGRATE_ASSIGN_OR_RETURN(state.reason, StringMember(doc, "reason"));
  MIGRATE_ASSIGN_OR_RETURN(state.ran_ms, UnsignedMember(doc, "ran_ms"));
  MIGRATE_ASSIGN_OR_RETURN(uint64_t pid, UnsignedMember(doc, "pid"));
  state.pid = static_cast<pid_t>(pid);
  MIGRATE_ASSIGN_OR_RETURN(state.updated_unix_ms, UnsignedMember(doc, "updated_unix_ms"));
  return state;
}

Status WriteFenceState(const std::string& path, const FenceState& state) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  transfer::UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (fd.get() < 0) return Status::FromErrno("create " + tmp, errno);
  Status written = WriteAll(fd.get(), SerializeFenceState(state) + "\n");
  if (written.ok() && ::fsync(fd.get()) != 0) written = Status::FromErrno("fsync " + tmp, errno);
  fd.reset();
  if (written.ok() && std::rename(tmp.c_str(), path.c_str()) != 0) {
    written = Status::FromErrno("rename " + tmp + " to " + path, errno);
  }
  if (!written.ok()) ::unlink(tmp.c_str());
  return written.WithContext("write fence state " + path);
}

Result<FenceState> ReadFenceState(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    if (::access(path.c_str(), F_OK) != 0) return Status::NotFound("no fence state " + path);
    return Status::IoError("cannot read fence state " + path);
  }
  std::ostringstream text;
  text << in.rdbuf();
  Result<FenceState> state = ParseFenceState(text.str());
  if (!state.ok()) return state.status().WithContext(path);
  return state;
}

}  // namespace migrate::fence
