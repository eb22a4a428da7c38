// Writes the seed corpora of the fuzz targets (tests/fuzz/corpus/<target>/): a few small,
// well-formed inputs each, from which the fuzzers mutate. Run by hand after a protocol
// change: fuzz_seed_corpus tests/fuzz/corpus
#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "proto/agent_api.pb.h"
#include "proto/stream.pb.h"
#include "transfer/stream/chunk_codec.h"
#include "transfer/stream/frames.h"

namespace ps = migrate::proto::stream;
using namespace migrate::transfer;

namespace {

ps::Entry MakeEntry(uint32_t id, const std::string& path, ps::EntryType type, uint64_t size = 0,
                    const std::string& target = "") {
  ps::Entry e;
  e.set_id(id);
  e.set_path(path);
  e.set_type(type);
  e.set_mode(type == ps::ENTRY_TYPE_DIRECTORY ? 0755 : 0644);
  e.set_size(size);
  e.set_link_target(target);
  e.set_mtime_sec(1700000000);
  return e;
}

std::string End(uint32_t id, uint64_t final_size = 0) {
  ps::EntryEnd end;
  end.set_id(id);
  end.set_size(final_size);
  return MessageFrame(ps::FRAME_TYPE_ENTRY_END, end);
}

// A DATA frame (zstd), tag left for the receiver's fuzz target to seal.
std::string Data(uint32_t id, uint64_t offset, const std::string& bytes, bool zero_map = false) {
  ChunkHeader h;
  h.entry_id = id;
  h.offset = offset;
  h.raw_length = static_cast<uint32_t>(bytes.size());
  std::string encoded = bytes;
  h.encoding = ps::CHUNK_ENCODING_RAW;
  if (zero_map) {
    h.zero_map = std::string(1, '\x01');  // first page left out
    encoded = bytes.substr(kPageBytes);
  } else {
    ChunkCompressor zstd(1);
    std::string out;
    auto enc = zstd.Encode(bytes.data(), bytes.size(), &out);
    if (enc.ok()) {
      h.encoding = *enc;
      encoded = out;
    }
  }
  std::string payload(ChunkHeaderSize(h), '\0');
  EncodeChunkHeader(h, payload.data());
  payload += encoded;
  std::string frame(kFrameHeaderBytes, '\0');
  EncodeFrameHeader(ps::FRAME_TYPE_DATA, static_cast<uint32_t>(payload.size()), frame.data());
  return frame + payload;
}

std::string Trailer() { return MessageFrame(ps::FRAME_TYPE_TRAILER, ps::Trailer()); }

std::string SmallTree() {
  return MessageFrame(ps::FRAME_TYPE_ENTRY, MakeEntry(1, "etc", ps::ENTRY_TYPE_DIRECTORY)) +
         End(1) + MessageFrame(ps::FRAME_TYPE_ENTRY, MakeEntry(2, "etc/hostname", ps::ENTRY_TYPE_REGULAR, 6)) +
         Data(2, 0, "host-a") + End(2) +
         MessageFrame(ps::FRAME_TYPE_ENTRY, MakeEntry(3, "etc/link", ps::ENTRY_TYPE_SYMLINK, 0, "hostname")) +
         End(3) +
         MessageFrame(ps::FRAME_TYPE_ENTRY, MakeEntry(4, "etc/hard", ps::ENTRY_TYPE_HARDLINK, 0, "etc/hostname")) +
         End(4) + Trailer();
}

ps::Entry SpecialEntry(uint32_t id, const std::string& path, ps::EntryType type, uint32_t mode) {
  ps::Entry e = MakeEntry(id, path, type);
  e.set_mode(mode);
  if (type == ps::ENTRY_TYPE_CHAR_DEVICE) {
    e.set_rdev_major(1);
    e.set_rdev_minor(3);
  }
  return e;
}

// A root file system's special files: a FIFO, a socket file, a device node.
std::string SpecialTree() {
  return MessageFrame(ps::FRAME_TYPE_ENTRY, MakeEntry(1, "run", ps::ENTRY_TYPE_DIRECTORY)) +
         End(1) +
         MessageFrame(ps::FRAME_TYPE_ENTRY,
                      SpecialEntry(2, "run/ctl.fifo", ps::ENTRY_TYPE_FIFO, 0620)) +
         End(2) +
         MessageFrame(ps::FRAME_TYPE_ENTRY,
                      SpecialEntry(3, "run/app.sock", ps::ENTRY_TYPE_SOCKET, 0777)) +
         End(3) +
         MessageFrame(ps::FRAME_TYPE_ENTRY,
                      SpecialEntry(4, "run/null", ps::ENTRY_TYPE_CHAR_DEVICE, 0666)) +
         End(4) + Trailer();
}

// Refused: a FIFO with bytes, a setuid FIFO.
std::string FifoWithData() {
  return MessageFrame(ps::FRAME_TYPE_ENTRY, SpecialEntry(1, "fifo", ps::ENTRY_TYPE_FIFO, 0600)) +
         Data(1, 0, "bytes for a FIFO") + End(1) + Trailer();
}
std::string SetuidFifo() {
  return MessageFrame(ps::FRAME_TYPE_ENTRY, SpecialEntry(1, "fifo", ps::ENTRY_TYPE_FIFO, 04755)) +
         End(1) + Trailer();
}

std::string GrowingPages() {
  ps::Entry e = MakeEntry(1, "pages-1.img", ps::ENTRY_TYPE_REGULAR);
  e.set_size_at_end(true);
  std::string page(2 * kPageBytes, 'p');
  std::fill(page.begin(), page.begin() + kPageBytes, '\0');
  return MessageFrame(ps::FRAME_TYPE_ENTRY, e) + Data(1, 0, page, /*zero_map=*/true) +
         Data(1, page.size(), std::string(kPageBytes, 'q')) + End(1, 3 * kPageBytes) + Trailer();
}

std::string Http(const std::string& target, const google::protobuf::MessageLite& body) {
  std::string b = body.SerializeAsString();
  return "POST " + target + " HTTP/1.1\r\nHost: host-a\r\nContent-Type: application/x-protobuf\r\n"
         "Content-Length: " + std::to_string(b.size()) + "\r\n\r\n" + b;
}

void Write(const std::string& dir, const std::string& name, const std::string& bytes) {
  mkdir(dir.c_str(), 0755);
  std::ofstream(dir + "/" + name, std::ios::binary) << bytes;
}

constexpr const char* kRuncSpec = R"({"ociVersion":"1.0.2-dev","process":{"user":{"uid":0,"gid":0},
"args":["sh"],"cwd":"/","capabilities":{"bounding":["CAP_KILL"]},"noNewPrivileges":true},
"root":{"path":"rootfs"},"mounts":[{"destination":"/proc","type":"proc","source":"proc"},
{"destination":"/dev","type":"tmpfs","source":"tmpfs","options":["nosuid","mode=755"]}],
"linux":{"resources":{"devices":[{"allow":false,"access":"rwm"}]},"namespaces":[{"type":"pid"},
{"type":"network"},{"type":"ipc"},{"type":"uts"},{"type":"mount"}],"maskedPaths":["/proc/kcore"],
"readonlyPaths":["/proc/sys"],"cgroupsPath":"/host-a/c1"}})";

constexpr const char* kHostile = R"({"root":{"path":"/"},"hooks":{"prestart":[{"path":"/bin/sh",
"args":["sh","-c","id"]}]},"mounts":[{"destination":"/h","source":"/etc","type":"bind",
"options":["rbind","rshared"]}],"linux":{"namespaces":[{"type":"network","path":"/proc/1/ns/net"}],
"devices":[{"path":"/dev/sda","type":"b","major":8,"minor":0}],"sysctl":{"kernel.core_pattern":"|/x"},
"resources":{"devices":[{"allow":true,"access":"rwm"}]}},"annotations":{"org.systemd.property.X":"y"},
"process":{"oomScoreAdj":-1000,"capabilities":{"ambient":["CAP_SYS_ADMIN"]}}})";

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_ROOT\n", argv[0]);
    return 2;
  }
  const std::string root = argv[1];
  ps::Hello hello;
  hello.set_protocol_version(kProtocolVersion);
  hello.set_token(std::string(32, 'a'));
  Write(root + "/frame_reader", "hello", std::string(1, '\x0f') + MessageFrame(ps::FRAME_TYPE_HELLO, hello));
  Write(root + "/frame_reader", "tree", std::string(1, '\x30') + SmallTree());
  Write(root + "/frame_reader", "pages", std::string(1, '\xff') + GrowingPages());
  Write(root + "/receiver", "tree-images", std::string(1, '\x01') + SmallTree());
  Write(root + "/receiver", "tree-bundle", std::string(1, '\x03') + SmallTree());
  Write(root + "/receiver", "pages", std::string(1, '\x0d') + GrowingPages());
  // Flags 0x10: FIFOs and sockets admitted (a bundle), 0x20: device nodes too.
  Write(root + "/receiver", "special-images", std::string(1, '\x01') + SpecialTree());
  Write(root + "/receiver", "special-bundle", std::string(1, '\x13') + SpecialTree());
  Write(root + "/receiver", "special-devices", std::string(1, '\x33') + SpecialTree());
  Write(root + "/receiver", "fifo-with-data", std::string(1, '\x13') + FifoWithData());
  Write(root + "/receiver", "setuid-fifo", std::string(1, '\x13') + SetuidFifo());
  Write(root + "/frame_reader", "special", std::string(1, '\x30') + SpecialTree());
  migrate::proto::PreflightRequest preflight;
  preflight.set_migration_id("m-1");
  preflight.set_container_id("web-1");
  preflight.set_role(migrate::proto::ROLE_DESTINATION);
  preflight.set_cgroup_mode(migrate::proto::CGROUP_MODE_IGNORE);
  preflight.set_bytes_needed(1 << 30);
  Write(root + "/api_request", "preflight", Http("/v1/preflight", preflight));
  migrate::proto::CheckpointSendRequest send;
  send.set_migration_id("m-1");
  send.set_container_id("-rf");
  send.mutable_target()->set_node_name("host-b");
  send.mutable_target()->set_data_port(7444);
  Write(root + "/api_request", "checkpoint-send", Http("/v1/checkpoint-send", send));
  Write(root + "/api_request", "health", "GET /v1/health HTTP/1.1\r\nHost: host-a\r\n\r\n");
  Write(root + "/oci_policy", "runc-spec.json", kRuncSpec);
  Write(root + "/oci_policy", "hostile.json", kHostile);
  return 0;
}
