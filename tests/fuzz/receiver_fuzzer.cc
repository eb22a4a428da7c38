// The receiver's state machine over a temporary staging directory: whatever arrives after
// ACCEPT, nothing is written outside the staging directory, nothing is left in it after a
// failure, and nothing crashes, leaks or hangs. Half of the inputs are sealed first (chunk
// tags, file digests and the manifest recomputed as an honest sender would), so that the
// fuzzer gets past the integrity checks to the file-system side.
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "proto/stream.pb.h"
#include "tests/fuzz/memory_source.h"
#include "tests/transfer/stream_sealer.h"
#include "transfer/stream/byte_budget.h"
#include "transfer/stream/frames.h"
#include "transfer/stream/stream_receiver.h"

namespace ps = migrate::proto::stream;
using namespace migrate::transfer;

namespace {

const TagKey kKey = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
constexpr char kCanaryText[] = "outside the staging directory";

// root/staging (the receiver's) and root/canary (must stay as it is), made once.
struct Sandbox {
  Sandbox() {
    const char* tmp = std::getenv("TMPDIR");
    std::string templ = std::string(tmp != nullptr ? tmp : "/tmp") + "/migrate-fuzz-XXXXXX";
    if (mkdtemp(templ.data()) == nullptr) std::abort();
    root = templ;
    staging = root + "/staging";
    if (mkdir(staging.c_str(), 0700) != 0) std::abort();
    std::ofstream(root + "/canary") << kCanaryText;
  }
  std::string root, staging;
};

size_t Entries(const std::string& dir) {
  size_t n = 0;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) std::abort();
  while (dirent* e = readdir(d)) n += e->d_name[0] != '.' || (e->d_name[1] != 0 && e->d_name[1] != '.');
  closedir(d);
  return n;
}

void CheckNothingEscaped(const Sandbox& box) {
  std::ifstream canary(box.root + "/canary");
  std::stringstream text;
  text << canary.rdbuf();
  if (text.str() != kCanaryText || Entries(box.root) != 2 || Entries(box.staging) != 0) {
    std::fprintf(stderr, "the receiver wrote outside its staging tree or left it behind\n");
    std::abort();
  }
}

// Frames as an honest sender would seal them: tags, digests, counts, manifest.
class Sealer {
 public:
  std::string Seal(const std::string& in) {
    std::string out;
    size_t at = 0;
    while (at + kFrameHeaderBytes <= in.size()) {
      auto h = DecodeFrameHeader(in.data() + at, 1u << 24);
      if (!h.ok() || at + kFrameHeaderBytes + h->length > in.size()) break;
      std::string payload = in.substr(at + kFrameHeaderBytes, h->length);
      at += kFrameHeaderBytes + h->length;
      Frame(h->type, payload);
      out += std::string(kFrameHeaderBytes, '\0') + payload;
      EncodeFrameHeader(h->type, static_cast<uint32_t>(payload.size()),
                        out.data() + out.size() - payload.size() - kFrameHeaderBytes);
    }
    return out + in.substr(at);
  }

 private:
  void Frame(uint8_t type, std::string& payload) {
    if (type == ps::FRAME_TYPE_ENTRY) {
      seal_.Entry(payload);
      (void)entry_.ParseFromString(payload);
    } else if (type == ps::FRAME_TYPE_DATA) {
      auto h = DecodeChunkHeader(payload);
      auto tag = h.ok() ? ChunkTagOf(tagger_, *h, payload) : migrate::Result<ChunkTag>(h.status());
      if (!tag.ok()) return;
      SetChunkTag(*tag, payload.data());
      seal_.Chunk(*tag, h->raw_length);
    } else if (type == ps::FRAME_TYPE_ENTRY_END) {
      ps::EntryEnd end;
      (void)end.ParseFromString(payload);
      if (entry_.type() == ps::ENTRY_TYPE_REGULAR) {
        Digest d = seal_.FileDigest(entry_.size_at_end() ? end.size() : entry_.size());
        end.set_digest(d.data(), d.size());
      }
      end.set_data_bytes(seal_.file_bytes());
      end.set_chunks(seal_.file_chunks());
      seal_.EntryEnd();
      payload = end.SerializeAsString();
    } else if (type == ps::FRAME_TYPE_TRAILER) {
      ps::Trailer t;
      t.set_entries(seal_.entries());
      t.set_data_bytes(seal_.data_bytes());
      Digest d = seal_.Manifest();
      t.set_manifest_digest(d.data(), d.size());
      payload = t.SerializeAsString();
    }
  }

  migrate::testing::StreamSealer seal_;
  ChunkTagger tagger_{kKey};
  ps::Entry entry_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Sandbox box;
  if (size < 1) return 0;
  const uint8_t flags = data[0];
  std::string stream(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (flags & 1) stream = Sealer().Seal(stream);
  ExpectedStream expected;
  expected.staging_dir = box.staging;
  expected.final_dir = box.root + "/final";  // never committed here
  expected.symlinks = (flags & 2) ? SymlinkPolicy::kContainerRoot : SymlinkPolicy::kNone;
  // Special files: none (images), FIFOs and sockets (a bundle), device nodes too (mknod in the
  // sandbox, never opened).
  expected.special_files = (flags & 0x20)   ? SpecialFilePolicy::kDevicesToo
                           : (flags & 0x10) ? SpecialFilePolicy::kFifosAndSockets
                                            : SpecialFilePolicy::kNone;
  expected.fsync = false;
  expected.limits.max_total_bytes = 8u << 20;
  expected.limits.max_file_size = 4u << 20;
  expected.limits.max_entries = 2000;
  expected.limits.max_kept_bytes = 1u << 20;
  if (flags & 4) expected.budget = std::make_shared<ByteBudget>(64u << 10);
  migrate::fuzz::MemorySource source(std::move(stream), (flags & 8) ? 7 : 1 << 20);
  FrameReader reader(&source, expected.limits.max_frame_bytes);
  TransferProgress progress;
  StreamReceiver receiver(expected, kKey, reader, progress, /*writer_threads=*/1);
  std::unique_ptr<StagingTree> tree;
  (void)receiver.Receive(&tree);
  tree.reset();  // a complete tree is removed unless committed
  CheckNothingEscaped(box);
  return 0;
}
