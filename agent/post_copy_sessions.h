// The post-copy transfers under way on this agent, by migration id: each outlives the request
// that started it (the source's pages are served after checkpoint-send has answered; the
// destination's link is connected before its restore is asked for).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace migrate::agent {

class SourcePages;
class DestinationPages;

class PostCopySessions {
 public:
  void PutSource(const std::string& id, std::shared_ptr<SourcePages> s) { Put(sources_, id, s); }
  void PutDestination(const std::string& id, std::shared_ptr<DestinationPages> d) {
    Put(destinations_, id, d);
  }
  std::shared_ptr<SourcePages> Source(const std::string& id) { return Get(sources_, id); }
  std::shared_ptr<DestinationPages> Destination(const std::string& id) {
    return Get(destinations_, id);
  }
  void Drop(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    sources_.erase(id);
    destinations_.erase(id);
  }

 private:
  template <typename T>
  void Put(std::map<std::string, std::shared_ptr<T>>& map, const std::string& id,
           std::shared_ptr<T> value) {
    std::lock_guard<std::mutex> lock(mu_);
    map[id] = std::move(value);
  }
  template <typename T>
  std::shared_ptr<T> Get(std::map<std::string, std::shared_ptr<T>>& map, const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = map.find(id);
    return it == map.end() ? nullptr : it->second;
  }
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<SourcePages>> sources_;
  std::map<std::string, std::shared_ptr<DestinationPages>> destinations_;
};

}  // namespace migrate::agent
