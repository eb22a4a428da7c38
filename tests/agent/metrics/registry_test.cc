// The registry renders what Prometheus' text format 0.0.4 requires: HELP and TYPE once per
// family, a line per series, histograms with cumulative buckets, +Inf, _sum and _count.
#include "agent/metrics/registry.h"

#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>
#include <thread>
#include <vector>

namespace migrate::metrics {
namespace {

TEST(RegistryTest, CountersAndGaugesWithLabels) {
  Registry registry;
  auto& counter = registry.AddCounter("x_total", "Things.\nSecond line \\ here.", {"role", "why"});
  counter.With({"source", "a\"b\\c\nd"}).Increment(3);
  counter.With({"destination", "ok"}).Increment();
  auto& gauge = registry.AddGauge("y", "Now.");
  gauge.With({}).Add(5);
  gauge.With({}).Add(-7);
  EXPECT_EQ(registry.Render(),
            "# HELP x_total Things.\\nSecond line \\\\ here.\n"
            "# TYPE x_total counter\n"
            "x_total{role=\"destination\",why=\"ok\"} 1\n"
            "x_total{role=\"source\",why=\"a\\\"b\\\\c\\nd\"} 3\n"
            "# HELP y Now.\n"
            "# TYPE y gauge\n"
            "y -2\n");
}

TEST(RegistryTest, AFamilyWithoutSeriesHasOnlyItsHeader) {
  Registry registry;
  registry.AddCounter("z_total", "None yet.", {"role"});
  EXPECT_EQ(registry.Render(), "# HELP z_total None yet.\n# TYPE z_total counter\n");
}

TEST(RegistryTest, HistogramBucketsAreCumulativeWithInfSumAndCount) {
  Registry registry;
  auto& family = registry.AddHistogram("d_seconds", "Durations.", {"phase"}, {0.1, 1, 2.5});
  Histogram& h = family.With({"restoring"});
  for (double v : {0.05, 0.1, 0.7, 2.5, 2.6, 100.0}) h.Observe(v);
  EXPECT_EQ(registry.Render(),
            "# HELP d_seconds Durations.\n"
            "# TYPE d_seconds histogram\n"
            "d_seconds_bucket{phase=\"restoring\",le=\"0.1\"} 2\n"
            "d_seconds_bucket{phase=\"restoring\",le=\"1\"} 3\n"
            "d_seconds_bucket{phase=\"restoring\",le=\"2.5\"} 4\n"
            "d_seconds_bucket{phase=\"restoring\",le=\"+Inf\"} 6\n"
            "d_seconds_sum{phase=\"restoring\"} 105.95\n"
            "d_seconds_count{phase=\"restoring\"} 6\n");
}

TEST(RegistryTest, AnEmptyHistogramSeriesRendersZeros) {
  Registry registry;
  registry.AddHistogram("e_seconds", "E.", {}, {1}).With({});
  EXPECT_EQ(registry.Render(),
            "# HELP e_seconds E.\n# TYPE e_seconds histogram\n"
            "e_seconds_bucket{le=\"1\"} 0\ne_seconds_bucket{le=\"+Inf\"} 0\n"
            "e_seconds_sum 0\ne_seconds_count 0\n");
}

TEST(RegistryTest, NaNIsNotObserved) {
  Histogram h({1});
  h.Observe(std::nan(""));
  EXPECT_EQ(h.Take().count, 0u);
}

TEST(RegistryTest, DeclarationMistakesThrow) {
  Registry registry;
  registry.AddCounter("a_total", "A.", {"role"});
  EXPECT_THROW(registry.AddCounter("a_total", "Again."), std::invalid_argument);
  EXPECT_THROW(registry.AddGauge("bad-name", "B."), std::invalid_argument);
  EXPECT_THROW(registry.AddGauge("c", "C.", {"le"}), std::invalid_argument);
  EXPECT_THROW(registry.AddGauge("d", "D.", {"__x"}), std::invalid_argument);
  EXPECT_THROW(registry.AddGauge("e", "E.", {"x", "x"}), std::invalid_argument);
  EXPECT_THROW(registry.AddHistogram("f", "F.", {}, {}), std::invalid_argument);
  EXPECT_THROW(registry.AddHistogram("g", "G.", {}, {2, 1}), std::invalid_argument);
  EXPECT_THROW(registry.AddHistogram("h", "H.", {}, {1, 1}), std::invalid_argument);
}

TEST(RegistryTest, TheWrongNumberOfLabelValuesThrows) {
  Registry registry;
  auto& family = registry.AddCounter("a_total", "A.", {"role", "status"});
  EXPECT_THROW(family.With({"source"}), std::invalid_argument);
  EXPECT_THROW(family.With({"source", "x", "y"}), std::invalid_argument);
}

TEST(RegistryTest, UpdatesFromManyThreadsAllCount) {
  Registry registry;
  auto& counter = registry.AddCounter("n_total", "N.", {"t"});
  auto& histogram = registry.AddHistogram("h_seconds", "H.", {}, {0.5});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        counter.With({"x"}).Increment();
        histogram.With({}).Observe(i % 2 == 0 ? 0.25 : 1.0);
        if (i % 1000 == 0) (void)registry.Render();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(counter.With({"x"}).value(), 40000u);
  Histogram::Snapshot s = histogram.With({}).Take();
  EXPECT_EQ(s.count, 40000u);
  EXPECT_EQ(s.cumulative.front(), 20000u);
  EXPECT_EQ(s.cumulative.back(), 40000u);
}

}  // namespace
}  // namespace migrate::metrics
