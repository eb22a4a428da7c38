// transfer_bench: streams a realistic checkpoint image directory (~1 GiB of mixed memory
// pages: random, zero and text pages, plus small image files) over loopback through the real
// TLS + zstd path, and measures in the same run, on the same bytes, the raw limits of its
// parts: zstd at the chosen level alone (1 thread and N threads), TLS alone (no compression)
// and plain TCP. Prints a Markdown table (docs/benchmarks.md holds committed numbers).
//
//   transfer_bench [--size-mib 1024] [--level 1] [--threads 2] [--runs 3] [--dir /var/tmp]
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <future>
#include <memory>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "tests/transfer/test_pki.h"
#include "transfer/stream/chunk_codec.h"
#include "transfer/stream/file_source.h"
#include "transfer/base/log.h"
#include "transfer/stream/stream_sender.h"
#include "transfer/stream/stream_server.h"
#include "transfer/stream/tls_connection.h"

namespace migrate::bench {
namespace {

using transfer::Clock;

struct Args {
  uint64_t size_mib = 1024;
  int level = 1;
  int threads = 2;
  int runs = 3;
  std::string dir = "/var/tmp";
  bool full_only = false;  // profiling: only the full path
  std::string tree;        // stream this directory instead of generated images
  int zero_pct = 35;       // share of all-zero pages in the generated images
  uint64_t bandwidth = 0;  // --bandwidth: the full path under this cap (bytes/s) only
};

// CPU seconds used by the whole process (both ends of every loopback test run here).
double CpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// Context switches (voluntary + involuntary) and minor page faults of the whole process.
struct Events {
  long switches = 0;
  long faults = 0;
  static Events Now() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return {ru.ru_nvcsw + ru.ru_nivcsw, ru.ru_minflt};
  }
};

struct Measure {
  std::string name;
  double seconds = 0;
  double cpu = 0;
  Events events;  // during the measurement (printed for the full path)
  uint64_t raw_bytes = 0;
  uint64_t out_bytes = 0;  // compressed / wire bytes where it applies
  double MBps() const { return static_cast<double>(raw_bytes) / seconds / 1e6; }
};

// Wall time, CPU time and events of the whole process, from its construction to Stop().
class Stopwatch {
 public:
  Stopwatch() : cpu0_(CpuSeconds()), events0_(Events::Now()), t0_(Clock::now()) {}
  void Stop(Measure* m) const {
    m->seconds = std::chrono::duration<double>(Clock::now() - t0_).count();
    m->cpu = CpuSeconds() - cpu0_;
    const Events now = Events::Now();
    m->events = {now.switches - events0_.switches, now.faults - events0_.faults};
  }

 private:
  double cpu0_;
  Events events0_;
  Clock::time_point t0_;
};

// xorshift64*: fast deterministic filler.
struct Rng {
  uint64_t s;
  uint64_t Next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 2685821657736338717ull;
  }
};

constexpr size_t kPage = 4096;

// Memory-like pages in runs of 1..16 pages: ~35% zero, ~30% random, ~35% text-like.
void FillPages(std::string& out, size_t bytes, Rng& rng, int zero_pct) {
  static const char* kWords[] = {
      "the ",      "container ", "checkpoint ", "restore ", "page ",    "memory ",    "socket ",
      "0x7f3a2c ", "error ",     "GET /api ",   "200 OK ",  "user_id=", "\"name\": ", "null, ",
      "{\"id\": ", "lorem ",     "ipsum ",      "cgroup ",  "mmap ",    "libc.so.6 "};
  size_t start = out.size();
  out.resize(start + bytes);
  char* p = out.data() + start;
  size_t pages = bytes / kPage;
  for (size_t i = 0; i < pages;) {
    size_t run = std::min<size_t>(1 + rng.Next() % 16, pages - i);
    uint64_t kind = rng.Next() % 100;
    char* q = p + i * kPage;
    size_t n = run * kPage;
    const uint64_t zero = static_cast<uint64_t>(zero_pct);
    const uint64_t random_end = zero + (100 - zero) * 30 / 65;  // 35 % zero: 35 / 65 / 100
    if (kind < zero) {
      std::memset(q, 0, n);
    } else if (kind < random_end) {
      for (size_t j = 0; j + 8 <= n; j += 8) {
        uint64_t v = rng.Next();
        std::memcpy(q + j, &v, 8);
      }
    } else {
      size_t j = 0;
      while (j < n) {
        const char* w = kWords[rng.Next() % 20];
        size_t l = std::min(std::strlen(w), n - j);
        std::memcpy(q + j, w, l);
        j += l;
        if (j < n && rng.Next() % 8 == 0) q[j++] = static_cast<char>('0' + rng.Next() % 10);
      }
    }
    i += run;
  }
}

void WriteFile(const std::string& path, const char* data, size_t size) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error("create " + path);
  while (size > 0) {
    ssize_t n = write(fd, data, size);
    if (n <= 0) throw std::runtime_error("write " + path);
    data += n;
    size -= static_cast<size_t>(n);
  }
  close(fd);
}

// The image directory; returns all its bytes concatenated (for the raw measurements).
std::string MakeImages(const std::string& dir, uint64_t total, int zero_pct) {
  Rng rng{0x9e3779b97f4a7c15ull};
  std::string all;
  all.reserve(total + (8u << 20));
  mkdir(dir.c_str(), 0700);
  // Small image files (core, mm, fdinfo, ...): ~200 files of 1..32 KiB.
  for (int i = 0; i < 200; ++i) {
    size_t start = all.size();
    FillPages(all, kPage * (1 + rng.Next() % 8), rng, zero_pct);
    WriteFile(dir + "/small-" + std::to_string(i) + ".img", all.data() + start, all.size() - start);
  }
  // pages-N.img, up to 128 MiB each.
  uint64_t left = total > all.size() ? total - all.size() : 0;
  for (int i = 1; left > 0; ++i) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(left, 128u << 20)) / kPage * kPage;
    if (n == 0) break;
    size_t start = all.size();
    FillPages(all, n, rng, zero_pct);
    WriteFile(dir + "/pages-" + std::to_string(i) + ".img", all.data() + start, n);
    left -= n;
  }
  return all;
}

Measure ZstdAlone(const std::string& data, int level, int threads) {
  Measure m;
  m.name = "zstd level " + std::to_string(level) + ", " + std::to_string(threads) +
           (threads == 1 ? " thread" : " threads") + " (1 MiB chunks)";
  std::atomic<size_t> next{0};
  std::atomic<uint64_t> out{0};
  const size_t chunk = 1 << 20;
  Stopwatch watch;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      transfer::ChunkCompressor c(level);
      std::string buf;
      for (;;) {
        size_t off = next.fetch_add(chunk);
        if (off >= data.size()) return;
        size_t n = std::min(chunk, data.size() - off);
        buf.clear();
        if (c.Encode(data.data() + off, n, &buf).ok()) out += buf.size();
      }
    });
  }
  for (auto& w : workers) w.join();
  watch.Stop(&m);
  m.raw_bytes = data.size();
  m.out_bytes = out;
  return m;
}

Measure ZstdDecompress(const std::string& data, int level) {
  Measure m;
  m.name = "zstd decompression, 1 thread";
  const size_t chunk = 1 << 20;
  std::vector<std::string> frames;
  std::vector<proto::stream::ChunkEncoding> enc;
  transfer::ChunkCompressor c(level);
  for (size_t off = 0; off < data.size(); off += chunk) {
    std::string buf;
    enc.push_back(*c.Encode(data.data() + off, std::min(chunk, data.size() - off), &buf));
    frames.push_back(std::move(buf));
  }
  transfer::ChunkDecompressor d;
  std::string out(chunk, '\0');
  Stopwatch watch;
  for (size_t i = 0; i < frames.size(); ++i) {
    size_t n = std::min(chunk, data.size() - i * chunk);
    if (!d.Decode(enc[i], frames[i], out.data(), n).ok()) throw std::runtime_error("decode");
  }
  watch.Stop(&m);
  m.raw_bytes = data.size();
  return m;
}

// One timed pass over `data` in 1 MiB pieces: fn(piece, offset) for each.
template <typename Fn>
Measure PerPiece(std::string name, const std::string& data, Fn fn) {
  Measure m;
  m.name = std::move(name);
  Stopwatch watch;
  const size_t chunk = 1 << 20;
  for (size_t off = 0; off < data.size(); off += chunk) {
    fn(std::string_view(data.data() + off, std::min(chunk, data.size() - off)), off);
  }
  watch.Stop(&m);
  m.raw_bytes = data.size();
  return m;
}

Measure Sha256Alone(const std::string& data) {
  return PerPiece("SHA-256, 1 thread (OpenSSL)", data, [](std::string_view piece, size_t) {
    (void)transfer::Sha256::Of(piece.data(), piece.size());
  });
}

// What each end spends on chunk tags (GMAC under one key). For the budget.
Measure ChunkTagAlone(const std::string& data) {
  transfer::TagKey key{};
  key[0] = 1;
  transfer::ChunkTagger tagger(key);
  return PerPiece("chunk tag (GMAC), 1 thread (OpenSSL)", data,
                  [&](std::string_view piece, size_t off) {
                    if (!tagger.Compute(1, off, {piece}).ok()) std::abort();
                  });
}

// The receiver's unavoidable disk-side cost: writing the same bytes into new files (page
// cache, no fsync), 1 MiB writes. Not one of the issue's components; shown for the budget.
Measure FileWrite(const std::string& data, const std::string& dir) {
  Measure m;
  m.name = "file write alone, page cache (receiver's disk side)";
  std::string path = dir + "/write-test";
  Stopwatch watch;
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error("create " + path);
  for (size_t off = 0; off < data.size(); off += 1 << 20) {
    size_t n = std::min<size_t>(1 << 20, data.size() - off);
    if (pwrite(fd, data.data() + off, n, static_cast<off_t>(off)) != static_cast<ssize_t>(n)) {
      throw std::runtime_error("write " + path);
    }
  }
  close(fd);
  watch.Stop(&m);
  m.raw_bytes = data.size();
  unlink(path.c_str());
  return m;
}

int Listen(uint16_t* port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || listen(fd, 4) != 0) {
    throw std::runtime_error("listen");
  }
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  *port = ntohs(addr.sin_port);
  return fd;
}

Measure PlainTcp(const std::string& data) {
  Measure m;
  m.name = "plain TCP over loopback (1 MiB writes)";
  uint16_t port;
  int lfd = Listen(&port);
  Stopwatch watch;
  auto receiver = std::async(std::launch::async, [&] {
    int fd = accept(lfd, nullptr, nullptr);
    std::string buf(1 << 20, '\0');
    uint64_t got = 0;
    ssize_t n;
    while ((n = read(fd, buf.data(), buf.size())) > 0) got += static_cast<uint64_t>(n);
    close(fd);
    return got;
  });
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0)
    throw std::runtime_error("connect");
  for (size_t off = 0; off < data.size();) {
    ssize_t n = write(fd, data.data() + off, std::min<size_t>(1 << 20, data.size() - off));
    if (n <= 0) throw std::runtime_error("write");
    off += static_cast<size_t>(n);
  }
  close(fd);
  uint64_t got = receiver.get();
  watch.Stop(&m);
  m.raw_bytes = got;
  m.out_bytes = got;
  close(lfd);
  return m;
}

Measure TlsAlone(const std::string& data, const tls::ContextPtr& server_ctx,
                 const tls::ContextPtr& client_ctx) {
  Measure m;
  m.name = "TLS 1.3 over loopback, no compression (1 MiB writes)";
  uint16_t port;
  int lfd = Listen(&port);
  Stopwatch watch;
  auto receiver = std::async(std::launch::async, [&]() -> uint64_t {
    auto conn = transfer::TlsConnection::Accept(accept(lfd, nullptr, nullptr), server_ctx,
                                                Clock::now() + std::chrono::seconds(10), nullptr);
    if (!conn.ok()) throw std::runtime_error(conn.status().ToString());
    std::string buf(256 << 10, '\0');
    uint64_t got = 0;
    for (;;) {
      auto n = (*conn)->ReadSome(buf.data(), buf.size());
      if (!n.ok() || *n == 0) break;
      got += *n;
    }
    (void)(*conn)->Shutdown(std::chrono::seconds(2));
    return got;
  });
  auto conn = transfer::TlsConnection::Connect("127.0.0.1", port, client_ctx, "bench-server",
                                               Clock::now() + std::chrono::seconds(10), nullptr);
  if (!conn.ok()) throw std::runtime_error(conn.status().ToString());
  for (size_t off = 0; off < data.size(); off += 1 << 20) {
    Status st = (*conn)->WriteAll(data.data() + off, std::min<size_t>(1 << 20, data.size() - off));
    if (!st.ok()) throw std::runtime_error(st.ToString());
  }
  (void)(*conn)->Shutdown(std::chrono::seconds(5));
  uint64_t got = receiver.get();
  watch.Stop(&m);
  m.raw_bytes = got;
  m.out_bytes = (*conn)->bytes_written();
  close(lfd);
  return m;
}

Measure FullPath(const Args& args, const std::string& images, const std::string& work,
                 transfer::StreamServer& server, const tls::ContextPtr& client_ctx, int run,
                 bool fsync) {
  Measure m;
  m.name = std::string("full path: files -> zstd -> TLS -> verify -> files") +
           (fsync ? " (+fsync)" : "");
  std::string token = "bench-token-" + std::to_string(run) + "-" + std::to_string(getpid());
  std::string final_dir = work + "/received-" + std::to_string(run);
  transfer::ExpectedStream expected;
  expected.final_dir = final_dir;
  expected.staging_dir = work + "/staging";
  expected.expected_peer_node_name = "bench-client";
  expected.fsync = fsync;
  Status st = server.Expect(token, expected);
  if (!st.ok()) throw std::runtime_error(st.ToString());
  transfer::SendOptions options;
  options.host = "127.0.0.1";
  options.port = server.port();
  options.server_name = "bench-server";
  options.tls = client_ctx;
  options.token = token;
  options.zstd_level = args.level;
  options.compress_threads = args.threads;
  std::unique_ptr<transfer::RateLimit> limit;
  if (args.bandwidth > 0) limit = std::make_unique<transfer::RateLimit>(args.bandwidth);
  options.rate_limit = limit.get();
  transfer::DirectoryTreeSource source(images);
  Stopwatch watch;
  auto sent = transfer::SendTree(options, source);
  if (!sent.ok()) throw std::runtime_error(sent.status().ToString());
  auto got = server.Wait(token, Clock::now() + std::chrono::minutes(5));
  if (!got.ok()) throw std::runtime_error(got.status().ToString());
  watch.Stop(&m);
  m.raw_bytes = sent->raw_bytes;
  m.out_bytes = sent->wire_bytes;
  testing::RemoveTree(final_dir);
  return m;
}

// Best of `runs` (the least disturbed by other work on a shared machine).
template <typename Fn>
Measure Best(int runs, Fn fn) {
  Measure best;
  for (int i = 0; i < runs; ++i) {
    Measure m = fn(i);
    if (i == 0 || m.seconds < best.seconds) best = m;
  }
  return best;
}

std::string CpuModel() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "?";
}

void Print(const std::vector<Measure>& ms, const Measure& full, const Measure& slowest) {
  std::printf("| stage | MB/s (raw bytes) | wall s | CPU s | ratio |\n|---|---:|---:|---:|---:|\n");
  for (const auto& m : ms) {
    std::string ratio =
        m.out_bytes > 0 && m.out_bytes != m.raw_bytes
            ? std::to_string(static_cast<double>(m.raw_bytes) / static_cast<double>(m.out_bytes))
                  .substr(0, 4)
            : "-";
    std::printf("| %s | %.0f | %.2f | %.2f | %s |\n", m.name.c_str(), m.MBps(), m.seconds, m.cpu,
                ratio.c_str());
  }
  std::printf("\nfull path / slowest component (%s): %.0f%%\n", slowest.name.c_str(),
              100.0 * full.MBps() / slowest.MBps());
}

int Main(int argc, char** argv) {
  Args args;
  const char* usage =
      "usage: transfer_bench [--size-mib N] [--level L] [--threads T] [--runs R] [--dir D] "
      "[--full-only] [--tree DIR] [--zero-pct P] [--bandwidth RATE]\n"
      "  --bandwidth RATE  the full path only, capped at RATE (e.g. 200MiB/s, as `migrate\n"
      "               container --bandwidth`): prints the rate held on the wire against the cap\n"
      "  --zero-pct P all-zero pages in the generated images, percent (default 35); the rest\n"
      "               is random and text-like pages, 30:35\n"
      "  --tree DIR   stream DIR (e.g. a container bundle) through the full path only, without\n"
      "               and with fsync, instead of generated images\n";
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    if (k == "--help" || k == "-h") {
      std::fputs(usage, stdout);
      return 0;
    }
    if (k == "--full-only") {
      args.full_only = true;
      continue;
    }
    if (k == "--tree" && i + 1 < argc) {
      args.tree = argv[++i];
      continue;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "transfer_bench: %s needs a value\n%s", k.c_str(), usage);
      return 2;
    }
    std::string v = argv[++i];
    try {
      if (k == "--size-mib")
        args.size_mib = std::stoull(v);
      else if (k == "--level")
        args.level = std::stoi(v);
      else if (k == "--threads")
        args.threads = std::stoi(v);
      else if (k == "--runs")
        args.runs = std::stoi(v);
      else if (k == "--dir")
        args.dir = v;
      else if (k == "--zero-pct" && std::stoi(v) >= 0 && std::stoi(v) <= 100)
        args.zero_pct = std::stoi(v);
      else if (k == "--bandwidth" && transfer::ParseByteRate(v).ok())
        args.bandwidth = *transfer::ParseByteRate(v);
      else {
        std::fprintf(stderr, "transfer_bench: unknown option %s\n%s", k.c_str(), usage);
        return 2;
      }
    } catch (const std::exception&) {
      std::fprintf(stderr, "transfer_bench: %s: not a number: %s\n", k.c_str(), v.c_str());
      return 2;
    }
  }
  SetLogThreshold(LogLevel::kWarn);
  std::string work = args.dir + "/migrate-bench-XXXXXX";
  if (mkdtemp(work.data()) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  struct Cleanup {
    std::string dir;
    ~Cleanup() { testing::RemoveTree(dir); }
  } cleanup{work};
  mkdir((work + "/staging").c_str(), 0700);

  testing::TestPki pki(work + "/pki", "bench CA");
  auto server_ctx = tls::MakeServerContext(pki.Issue("bench-server"));
  auto client_ctx = tls::MakeClientContext(pki.Issue("bench-client"));
  if (!server_ctx.ok() || !client_ctx.ok()) return 1;

  transfer::StreamServerOptions so;
  so.bind_address = "127.0.0.1";
  so.tls = *server_ctx;
  auto server = transfer::StreamServer::Start(so);
  if (!server.ok()) return 1;

  if (!args.tree.empty()) {
    for (bool fsync : {false, true}) {
      Measure m = Best(args.runs, [&](int run) {
        return FullPath(args, args.tree, work, **server, *client_ctx, run + (fsync ? 100 : 0),
                        fsync);
      });
      std::printf("%s: %.1f ms, %.2f s CPU, %llu raw bytes, %llu wire bytes%s\n",
                  args.tree.c_str(), m.seconds * 1000, m.cpu,
                  static_cast<unsigned long long>(m.raw_bytes),
                  static_cast<unsigned long long>(m.out_bytes), fsync ? " (fsync)" : "");
    }
    return 0;
  }

  std::string images = work + "/images";
  auto g0 = Clock::now();
  std::string data = MakeImages(images, args.size_mib << 20, args.zero_pct);
  // Written back now, so that the kernel's writeback does not compete with the measurements.
  sync();
  std::fprintf(stderr, "generated %.0f MiB of images in %.1f s\n",
               static_cast<double>(data.size()) / (1 << 20),
               std::chrono::duration<double>(Clock::now() - g0).count());

  std::vector<Measure> ms;
  if (args.bandwidth > 0) {
    Measure m = Best(args.runs, [&](int run) {
      return FullPath(args, images, work, **server, *client_ctx, run, false);
    });
    const double wire_mbps = static_cast<double>(m.out_bytes) / m.seconds / 1e6;
    const double cap_mbps = static_cast<double>(args.bandwidth) / 1e6;
    std::printf("capped full path: %.0f MiB raw, %.1f MB on the wire in %.2f s: %.2f MB/s on the "
                "wire against a cap of %.2f MB/s (%.1f %% of it)\n",
                static_cast<double>(m.raw_bytes) / (1 << 20), static_cast<double>(m.out_bytes) / 1e6,
                m.seconds, wire_mbps, cap_mbps, 100.0 * wire_mbps / cap_mbps);
    return 0;
  }
  if (args.full_only) {
    Measure m = Best(args.runs, [&](int run) {
      return FullPath(args, images, work, **server, *client_ctx, run, false);
    });
    std::printf("full path: %.0f MB/s, %.2f s wall, %.2f s CPU, %ld context switches, %ld minor "
                "page faults\n",
                m.MBps(), m.seconds, m.cpu, m.events.switches, m.events.faults);
    return 0;
  }
  ms.push_back(Best(args.runs, [&](int) { return ZstdAlone(data, args.level, 1); }));
  if (args.threads != 1) {
    ms.push_back(Best(args.runs, [&](int) { return ZstdAlone(data, args.level, args.threads); }));
  }
  ms.push_back(Best(args.runs, [&](int) { return ZstdDecompress(data, args.level); }));
  ms.push_back(Best(args.runs, [&](int) { return ChunkTagAlone(data); }));
  ms.push_back(Best(args.runs, [&](int) { return Sha256Alone(data); }));
  ms.push_back(Best(args.runs, [&](int) { return TlsAlone(data, *server_ctx, *client_ctx); }));
  ms.push_back(Best(args.runs, [&](int) { return PlainTcp(data); }));
  ms.push_back(Best(args.runs, [&](int) { return FileWrite(data, work); }));
  Measure full = Best(args.runs, [&](int run) {
    return FullPath(args, images, work, **server, *client_ctx, run, false);
  });
  ms.push_back(full);
  ms.push_back(Best(1, [&](int run) {
    return FullPath(args, images, work, **server, *client_ctx, 100 + run, true);
  }));

  // The components the issue names: zstd at the chosen level (as configured), TLS, TCP.
  const Measure* slowest = nullptr;
  for (const auto& m : ms) {
    bool component = m.name.rfind("zstd level", 0) == 0 || m.name.rfind("TLS", 0) == 0 ||
                     m.name.rfind("plain TCP", 0) == 0;
    if (component && (slowest == nullptr || m.MBps() < slowest->MBps())) slowest = &m;
  }
  utsname u{};
  uname(&u);
  double load[3] = {0, 0, 0};
  getloadavg(load, 3);
  std::printf("load average at the end: %.2f %.2f %.2f\n", load[0], load[1], load[2]);
  std::printf("machine: %s, %u cores, kernel %s; data: %.0f MiB in %s (best of %d runs)\n\n",
              CpuModel().c_str(), std::thread::hardware_concurrency(), u.release,
              static_cast<double>(data.size()) / (1 << 20), images.c_str(), args.runs);
  Print(ms, full, *slowest);
  std::printf(
      "full path wire bytes: %llu for %llu raw (ratio %.2f); CPU %.2f s for %.2f s wall (%.0f%% of "
      "one core)\n",
      static_cast<unsigned long long>(full.out_bytes),
      static_cast<unsigned long long>(full.raw_bytes),
      static_cast<double>(full.raw_bytes) / static_cast<double>(full.out_bytes), full.cpu,
      full.seconds, 100.0 * full.cpu / full.seconds);
  std::printf("full path events: %ld context switches, %ld minor page faults\n",
              full.events.switches, full.events.faults);
  server->reset();
  return 0;
}

}  // namespace
}  // namespace migrate::bench

int main(int argc, char** argv) {
  try {
    return migrate::bench::Main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "transfer_bench: %s\n", e.what());
    return 1;
  }
}
