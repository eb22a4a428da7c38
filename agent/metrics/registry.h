// A small Prometheus registry: counters, gauges and histograms, each a family of series told
// apart by label values, rendered in the text exposition format 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/). Updating a series is
// thread-safe and cheap (an atomic, or a short lock for a histogram); Render() may run while
// other threads update.
//
// Families are declared once, at start-up: a name Prometheus would refuse, a name declared
// twice, or a series asked for with the wrong number of label values is a programming error
// and throws std::invalid_argument.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace migrate::metrics {

using LabelValues = std::vector<std::string>;

class Counter {
 public:
  void Increment(uint64_t by = 1) { value_.fetch_add(by, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Gauge {
 public:
  void Add(int64_t delta) { value_.fetch_add(delta, std::memory_order_relaxed); }
  void Set(int64_t value) { value_.store(value, std::memory_order_relaxed); }
  int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

class Histogram {
 public:
  // `bounds`: the buckets' upper bounds, strictly increasing, without +Inf (always added).
  explicit Histogram(std::vector<double> bounds);
  void Observe(double value);

  struct Snapshot {
    std::vector<uint64_t> cumulative;  // per bound, then +Inf (== count)
    uint64_t count = 0;
    double sum = 0;
  };
  Snapshot Take() const;
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  const std::vector<double> bounds_;
  mutable std::mutex mu_;
  std::vector<uint64_t> counts_;  // per bucket, not cumulative; the last is above every bound
  uint64_t count_ = 0;
  double sum_ = 0;
};

using LabelPairs = std::vector<std::pair<std::string, std::string>>;

// The sample lines of one series (a histogram's: _bucket per bound and +Inf, _sum, _count).
void RenderSample(std::string* out, const std::string& name, const LabelPairs& labels,
                  const Counter& counter);
void RenderSample(std::string* out, const std::string& name, const LabelPairs& labels,
                  const Gauge& gauge);
void RenderSample(std::string* out, const std::string& name, const LabelPairs& labels,
                  const Histogram& histogram);

class FamilyBase {
 public:
  FamilyBase(std::string name, std::string help, std::string type,
             std::vector<std::string> label_names);
  virtual ~FamilyBase() = default;
  const std::string& name() const { return name_; }
  // HELP and TYPE lines, then every series, in label order.
  void Render(std::string* out) const;

 protected:
  void CheckArity(const LabelValues& values) const;
  LabelPairs Pairs(const LabelValues& values) const;
  virtual void RenderSeries(std::string* out) const = 0;

  const std::string name_;
  const std::string help_;
  const std::string type_;
  const std::vector<std::string> label_names_;
};

template <class Metric>
class Family final : public FamilyBase {
 public:
  Family(std::string name, std::string help, std::string type,
         std::vector<std::string> label_names, std::vector<double> bounds = {})
      : FamilyBase(std::move(name), std::move(help), std::move(type), std::move(label_names)),
        bounds_(std::move(bounds)) {}

  // The series of `values` (one per label name, in order), made at zero on first use. The
  // reference stays valid as long as the family.
  Metric& With(const LabelValues& values) {
    CheckArity(values);
    std::lock_guard<std::mutex> lock(mu_);
    std::unique_ptr<Metric>& series = series_[values];
    if (!series) series = MakeMetric();
    return *series;
  }

 private:
  std::unique_ptr<Metric> MakeMetric() const {
    if constexpr (std::is_same_v<Metric, Histogram>) {
      return std::make_unique<Histogram>(bounds_);
    } else {
      return std::make_unique<Metric>();
    }
  }
  void RenderSeries(std::string* out) const override {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [values, series] : series_) RenderSample(out, name_, Pairs(values), *series);
  }

  const std::vector<double> bounds_;  // histograms only
  mutable std::mutex mu_;
  std::map<LabelValues, std::unique_ptr<Metric>> series_;
};

class Registry {
 public:
  Family<Counter>& AddCounter(std::string name, std::string help,
                              std::vector<std::string> label_names = {});
  Family<Gauge>& AddGauge(std::string name, std::string help,
                          std::vector<std::string> label_names = {});
  Family<Histogram>& AddHistogram(std::string name, std::string help,
                                  std::vector<std::string> label_names,
                                  std::vector<double> bounds);

  // Every family, in the order declared.
  std::string Render() const;

 private:
  template <class F>
  F& Add(std::unique_ptr<F> family);

  mutable std::mutex mu_;
  std::vector<std::unique_ptr<FamilyBase>> families_;
};

}  // namespace migrate::metrics
