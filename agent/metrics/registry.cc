#include "agent/metrics/registry.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "agent/metrics/text_format.h"

namespace migrate::metrics {
namespace {

void CheckName(const std::string& name) {
  if (!IsValidMetricName(name)) throw std::invalid_argument("invalid metric name '" + name + "'");
}

void CheckLabelNames(const std::string& metric, const std::vector<std::string>& names) {
  for (const std::string& label : names) {
    // "le" is a histogram's own; names starting with "__" are Prometheus' own.
    if (!IsValidLabelName(label) || label == "le" || label.rfind("__", 0) == 0) {
      throw std::invalid_argument("metric " + metric + ": invalid label name '" + label + "'");
    }
  }
  std::vector<std::string> sorted = names;
  std::sort(sorted.begin(), sorted.end());
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
    throw std::invalid_argument("metric " + metric + ": a label name appears twice");
  }
}

void CheckBounds(const std::string& metric, const std::vector<double>& bounds) {
  if (bounds.empty() || !std::is_sorted(bounds.begin(), bounds.end()) ||
      std::adjacent_find(bounds.begin(), bounds.end()) != bounds.end()) {
    throw std::invalid_argument("histogram " + metric +
                                ": bucket bounds must be given, strictly increasing");
  }
}

void Line(std::string* out, const std::string& name, const LabelPairs& labels, double value) {
  *out += name + FormatLabels(labels) + " " + FormatValue(value) + "\n";
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::Observe(double value) {
  if (std::isnan(value)) return;  // no bucket holds it, and it would poison the sum
  // The first bucket whose upper bound holds the value (le: less or equal).
  const size_t bucket = static_cast<size_t>(
      std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin());
  std::lock_guard<std::mutex> lock(mu_);
  ++counts_[bucket];
  ++count_;
  sum_ += value;
}

Histogram::Snapshot Histogram::Take() const {
  std::lock_guard<std::mutex> lock(mu_);
  Snapshot out;
  uint64_t running = 0;
  for (uint64_t n : counts_) {
    running += n;
    out.cumulative.push_back(running);
  }
  out.count = count_;
  out.sum = sum_;
  return out;
}

void RenderSample(std::string* out, const std::string& name, const LabelPairs& labels,
                  const Counter& counter) {
  Line(out, name, labels, static_cast<double>(counter.value()));
}

void RenderSample(std::string* out, const std::string& name, const LabelPairs& labels,
                  const Gauge& gauge) {
  Line(out, name, labels, static_cast<double>(gauge.value()));
}

void RenderSample(std::string* out, const std::string& name, const LabelPairs& labels,
                  const Histogram& histogram) {
  const Histogram::Snapshot snapshot = histogram.Take();
  const std::vector<double>& bounds = histogram.bounds();
  for (size_t i = 0; i < snapshot.cumulative.size(); ++i) {
    LabelPairs with_le = labels;
    with_le.emplace_back("le", i < bounds.size() ? FormatValue(bounds[i]) : "+Inf");
    Line(out, name + "_bucket", with_le, static_cast<double>(snapshot.cumulative[i]));
  }
  Line(out, name + "_sum", labels, snapshot.sum);
  Line(out, name + "_count", labels, static_cast<double>(snapshot.count));
}

FamilyBase::FamilyBase(std::string name, std::string help, std::string type,
                       std::vector<std::string> label_names)
    : name_(std::move(name)),
      help_(std::move(help)),
      type_(std::move(type)),
      label_names_(std::move(label_names)) {
  CheckName(name_);
  CheckLabelNames(name_, label_names_);
}

void FamilyBase::CheckArity(const LabelValues& values) const {
  if (values.size() != label_names_.size()) {
    throw std::invalid_argument("metric " + name_ + " takes " +
                                std::to_string(label_names_.size()) + " label values, not " +
                                std::to_string(values.size()));
  }
}

LabelPairs FamilyBase::Pairs(const LabelValues& values) const {
  LabelPairs pairs;
  for (size_t i = 0; i < values.size(); ++i) pairs.emplace_back(label_names_[i], values[i]);
  return pairs;
}

void FamilyBase::Render(std::string* out) const {
  *out += "# HELP " + name_ + " " + EscapeHelp(help_) + "\n";
  *out += "# TYPE " + name_ + " " + type_ + "\n";
  RenderSeries(out);
}

template <class F>
F& Registry::Add(std::unique_ptr<F> family) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& known : families_) {
    if (known->name() == family->name()) {
      throw std::invalid_argument("metric " + family->name() + " declared twice");
    }
  }
  F& added = *family;
  families_.push_back(std::move(family));
  return added;
}

Family<Counter>& Registry::AddCounter(std::string name, std::string help,
                                      std::vector<std::string> label_names) {
  return Add(std::make_unique<Family<Counter>>(std::move(name), std::move(help), "counter",
                                               std::move(label_names)));
}

Family<Gauge>& Registry::AddGauge(std::string name, std::string help,
                                  std::vector<std::string> label_names) {
  return Add(std::make_unique<Family<Gauge>>(std::move(name), std::move(help), "gauge",
                                             std::move(label_names)));
}

Family<Histogram>& Registry::AddHistogram(std::string name, std::string help,
                                          std::vector<std::string> label_names,
                                          std::vector<double> bounds) {
  CheckBounds(name, bounds);
  return Add(std::make_unique<Family<Histogram>>(std::move(name), std::move(help), "histogram",
                                                 std::move(label_names), std::move(bounds)));
}

std::string Registry::Render() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  for (const auto& family : families_) family->Render(&out);
  return out;
}

}  // namespace migrate::metrics
