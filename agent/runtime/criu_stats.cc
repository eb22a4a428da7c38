#include "agent/runtime/criu_stats.h"

#include <cstdint>
#include <cstring>

#include "agent/runtime/file_util.h"

namespace migrate::runtime {
namespace {

constexpr uint32_t kImgServiceMagic = 0x55105940;  // CRIU's magic.h
constexpr uint32_t kStatsMagic = 0x57093306;
constexpr size_t kMaxEntryBytes = 64 << 10;

uint32_t U32At(const std::string& bytes, size_t offset) {
  uint32_t v = 0;
  std::memcpy(&v, bytes.data() + offset, sizeof v);  // CRIU writes host order (x86: little)
  return v;
}

void AppendU32(std::string* out, uint32_t v) {
  out->append(reinterpret_cast<const char*>(&v), sizeof v);
}

}  // namespace

Result<criu::StatsEntry> ReadCriuStats(const std::string& dir, const std::string& name) {
  const std::string path = dir + "/" + name;
  MIGRATE_ASSIGN_OR_RETURN(std::string bytes, ReadFileNoFollow(path));
  auto bad = [&](const std::string& why) {
    return Status::DataLoss(path + " is not a CRIU stats image: " + why);
  };
  if (bytes.size() < 12) return bad("too short");
  if (U32At(bytes, 0) != kImgServiceMagic || U32At(bytes, 4) != kStatsMagic) {
    return bad("wrong magic");
  }
  const uint32_t size = U32At(bytes, 8);
  if (size > kMaxEntryBytes || size > bytes.size() - 12) return bad("entry length " + std::to_string(size));
  criu::StatsEntry entry;
  if (!entry.ParseFromArray(bytes.data() + 12, static_cast<int>(size))) return bad("undecodable entry");
  return entry;
}

std::string CriuStatsImage(const criu::StatsEntry& entry) {
  std::string out;
  AppendU32(&out, kImgServiceMagic);
  AppendU32(&out, kStatsMagic);
  const std::string body = entry.SerializeAsString();
  AppendU32(&out, static_cast<uint32_t>(body.size()));
  return out + body;
}

}  // namespace migrate::runtime
