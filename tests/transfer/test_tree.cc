#include "tests/transfer/test_tree.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <random>
#include <stdexcept>

#include "transfer/tls/random.h"

namespace migrate::testing {
namespace {

void Check(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error(what + ": " + strerror(errno));
}

void WriteAll(int fd, const char* data, size_t size, off_t offset) {
  while (size > 0) {
    ssize_t n = pwrite(fd, data, size, offset);
    Check(n > 0, "pwrite");
    data += n;
    size -= static_cast<size_t>(n);
    offset += n;
  }
}

std::vector<std::string> List(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return names;
  while (dirent* de = readdir(d)) {
    if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) names.emplace_back(de->d_name);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

// Compares two files' bytes block by block.
bool SameContent(const std::string& a, const std::string& b) {
  int fa = open(a.c_str(), O_RDONLY | O_NOFOLLOW);
  int fb = open(b.c_str(), O_RDONLY | O_NOFOLLOW);
  bool same = fa >= 0 && fb >= 0;
  std::string ba(1 << 20, '\0'), bb(1 << 20, '\0');
  while (same) {
    ssize_t na = read(fa, ba.data(), ba.size());
    ssize_t nb = read(fb, bb.data(), bb.size());
    if (na != nb || na < 0) {
      same = false;
    } else if (na == 0) {
      break;
    } else {
      same = memcmp(ba.data(), bb.data(), static_cast<size_t>(na)) == 0;
    }
  }
  if (fa >= 0) close(fa);
  if (fb >= 0) close(fb);
  return same;
}

std::string Compare(const std::string& a, const std::string& b, const std::string& rel,
                    std::map<ino_t, std::string>& links_a, std::map<ino_t, std::string>& links_b) {
  auto na = List(a + "/" + rel), nb = List(b + "/" + rel);
  if (na != nb) return "names differ in '" + rel + "'";
  for (const auto& n : na) {
    std::string r = rel.empty() ? n : rel + "/" + n;
    std::string pa = a + "/" + r, pb = b + "/" + r;
    struct stat sa, sb;
    if (lstat(pa.c_str(), &sa) || lstat(pb.c_str(), &sb)) return "stat failed on " + r;
    if ((sa.st_mode & S_IFMT) != (sb.st_mode & S_IFMT)) return "type differs: " + r;
    if (sa.st_uid != sb.st_uid || sa.st_gid != sb.st_gid) return "owner differs: " + r;
    if (!S_ISLNK(sa.st_mode) && (sa.st_mode & 07777) != (sb.st_mode & 07777)) {
      return "mode differs: " + r;
    }
    if (!S_ISDIR(sa.st_mode) &&
        (sa.st_mtim.tv_sec != sb.st_mtim.tv_sec || sa.st_mtim.tv_nsec != sb.st_mtim.tv_nsec)) {
      return "mtime differs: " + r;
    }
    if (S_ISLNK(sa.st_mode)) {
      char ta[4096] = {0}, tb[4096] = {0};
      if (readlink(pa.c_str(), ta, sizeof(ta) - 1) < 0 ||
          readlink(pb.c_str(), tb, sizeof(tb) - 1) < 0 || strcmp(ta, tb) != 0) {
        return "symlink target differs: " + r;
      }
    } else if (S_ISREG(sa.st_mode)) {
      if (sa.st_size != sb.st_size) return "size differs: " + r;
      if (sa.st_nlink != sb.st_nlink) return "link count differs: " + r;
      if (sa.st_nlink > 1) {
        auto ia = links_a.emplace(sa.st_ino, r).first->second;
        auto ib = links_b.emplace(sb.st_ino, r).first->second;
        if (ia != ib) return "hard link structure differs: " + r;
      }
      if (!SameContent(pa, pb)) return "content differs: " + r;
    } else if (S_ISCHR(sa.st_mode) || S_ISBLK(sa.st_mode)) {
      if (sa.st_rdev != sb.st_rdev) return "device number differs: " + r;
    } else if (S_ISDIR(sa.st_mode)) {
      std::string d = Compare(a, b, r, links_a, links_b);
      if (!d.empty()) return d;
      if (sa.st_mtim.tv_sec != sb.st_mtim.tv_sec) return "directory mtime differs: " + r;
    }
  }
  return "";
}

}  // namespace

void WriteRandomFile(const std::string& path, uint64_t size, uint32_t seed, mode_t mode) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, mode);
  Check(fd >= 0, "create " + path);
  std::mt19937_64 rng(seed);
  std::string buf(1 << 20, '\0');
  for (uint64_t off = 0; off < size; off += buf.size()) {
    for (size_t i = 0; i + 8 <= buf.size(); i += 8) {
      uint64_t v = rng();
      memcpy(&buf[i], &v, 8);
    }
    WriteAll(fd, buf.data(), std::min<uint64_t>(buf.size(), size - off), static_cast<off_t>(off));
  }
  close(fd);
  chmod(path.c_str(), mode);
}

void WriteTextFile(const std::string& path, const std::string& text, mode_t mode) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, mode);
  Check(fd >= 0, "create " + path);
  if (!text.empty()) WriteAll(fd, text.data(), text.size(), 0);
  close(fd);
  chmod(path.c_str(), mode);
}

void WriteSparseFile(const std::string& path, uint64_t size, const std::vector<uint64_t>& offsets,
                     const std::string& data) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  Check(fd >= 0, "create " + path);
  Check(ftruncate(fd, static_cast<off_t>(size)) == 0, "truncate");
  for (uint64_t off : offsets) WriteAll(fd, data.data(), data.size(), static_cast<off_t>(off));
  close(fd);
}

void MakeSampleTree(const std::string& root, bool small) {
  auto p = [&](const std::string& rel) { return root + "/" + rel; };
  Check(mkdir(root.c_str(), 0755) == 0 || errno == EEXIST, "mkdir root");
  Check(mkdir(p("etc").c_str(), 0755) == 0, "mkdir");
  Check(mkdir(p("bin").c_str(), 0755) == 0, "mkdir");
  Check(mkdir(p("empty").c_str(), 0700) == 0, "mkdir");
  Check(mkdir(p("shared").c_str(), 0755) == 0, "mkdir");
  Check(mkdir(p("ro").c_str(), 0755) == 0, "mkdir");
  WriteTextFile(p("etc/hostname"), "node-a\n");
  WriteTextFile(p("etc/empty"), "", 0600);
  std::string text;
  for (int i = 0; i < (small ? 200 : 20000); ++i)
    text += "line " + std::to_string(i) + " of text\n";
  WriteTextFile(p("etc/log.txt"), text, 0640);
  WriteRandomFile(p("bin/tool"), small ? 200 * 1024 + 17 : 5 * 1024 * 1024 + 123, 7, 0755);
  chmod(p("bin/tool").c_str(), 04755);  // setuid
  WriteSparseFile(p("bin/sparse.img"), small ? (8u << 20) : (256ull << 20),
                  small ? std::vector<uint64_t>{0, 4u << 20}
                        : std::vector<uint64_t>{0, 100u << 20, (256ull << 20) - 4096},
                  std::string(4096, 'x'));
  // Memory-like: every third page all zero, a short last page (zero pages are not sent).
  {
    std::string mixed;
    for (int i = 0; i < 300; ++i) {
      mixed +=
          i % 3 == 0 ? std::string(4096, '\0') : std::string(4096, static_cast<char>('a' + i % 26));
    }
    mixed += "tail";
    WriteTextFile(p("bin/mixed.img"), mixed, 0600);
    std::string zero_tail(10 * 4096, 'd');
    zero_tail += std::string(100, '\0');  // a short, all-zero last page
    WriteTextFile(p("bin/zero-tail.img"), zero_tail, 0600);
  }
  WriteTextFile(p("ro/readonly.txt"), "read only\n", 0444);
  WriteTextFile(p("shared/owned"), "someone else's\n", 0660);
  Check(chown(p("shared/owned").c_str(), 1234, 5678) == 0, "chown");
  Check(lchown(p("etc").c_str(), 0, 0) == 0, "chown");
  Check(symlink("../etc/hostname", p("bin/hostname-link").c_str()) == 0, "symlink");
  Check(symlink("etc", p("etc-link").c_str()) == 0, "symlink");
  Check(symlink("missing-target", p("dangling").c_str()) == 0, "symlink");
  Check(link(p("etc/hostname").c_str(), p("bin/hostname-hard").c_str()) == 0, "link");
  chmod(p("shared").c_str(), 03775);  // setgid + sticky
  chmod(p("ro").c_str(), 0555);
}

std::string CompareTrees(const std::string& a, const std::string& b) {
  std::map<ino_t, std::string> la, lb;
  return Compare(a, b, "", la, lb);
}

size_t CountEntries(const std::string& dir) { return List(dir).size(); }

bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

StreamFixture::StreamFixture(
    const std::function<void(transfer::StreamServerOptions&)>& adjust) {
  pki_ = std::make_unique<TestPki>(dir_.Sub("pki"));
  staging_ = dir_.Sub("staging");
  Check(mkdir(staging_.c_str(), 0700) == 0, "mkdir staging");
  Check(mkdir(dir_.Sub("final").c_str(), 0755) == 0, "mkdir final");
  auto server_ctx = tls::MakeServerContext(pki_->Issue("node-b"));
  auto client_ctx = tls::MakeClientContext(pki_->Issue("node-a"));
  if (!server_ctx.ok() || !client_ctx.ok()) throw std::runtime_error("TLS contexts");
  client_ctx_ = *client_ctx;
  transfer::StreamServerOptions options;
  options.bind_address = "127.0.0.1";
  options.tls = *server_ctx;
  options.handshake_timeout = std::chrono::seconds(5);
  if (adjust) adjust(options);
  auto server = transfer::StreamServer::Start(options);
  if (!server.ok()) throw std::runtime_error("server: " + server.status().ToString());
  server_ = std::move(*server);
}

StreamFixture::~StreamFixture() { server_.reset(); }

std::string StreamFixture::NewToken() {
  Result<std::string> token = tls::RandomHex(16);
  if (!token.ok()) throw std::runtime_error(token.status().ToString());
  return *token;
}

transfer::ExpectedStream StreamFixture::Expected(const std::string& name) const {
  transfer::ExpectedStream e;
  e.final_dir = FinalDir(name);
  e.staging_dir = staging_;
  e.expected_peer_node_name = "node-a";
  e.label = "test-" + name;
  e.symlinks = transfer::SymlinkPolicy::kContainerRoot;  // the sample tree has links
  e.special_files = transfer::SpecialFilePolicy::kFifosAndSockets;  // as a bundle's
  e.fsync = false;  // tests need no durability; the option is exercised in StreamTest.Fsync
  e.limits.io_timeout = std::chrono::seconds(10);
  return e;
}

transfer::SendOptions StreamFixture::Send(const std::string& token) const {
  transfer::SendOptions o;
  o.host = "127.0.0.1";
  o.port = server_->port();
  o.server_name = "node-b";
  o.tls = client_ctx_;
  o.token = token;
  o.label = "test";
  o.io_timeout = std::chrono::seconds(10);
  o.verdict_timeout = std::chrono::seconds(30);
  return o;
}

}  // namespace migrate::testing
