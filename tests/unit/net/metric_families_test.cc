// common/net/metric_families.h: one call registers a family under its name and help text.

#include "common/net/metric_families.h"

#include <doctest/doctest.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

namespace vouch::net {
namespace {

TEST_CASE("counter, gauge and histogram families carry their name and help") {
  prometheus::Registry registry;
  counter_family(registry, "t_requests_total", "Requests").Add({{"code", "200"}}).Increment();
  gauge_family(registry, "t_entries", "Entries").Add({}).Set(3);
  histogram_family(registry, "t_duration_seconds", "Durations")
      .Add({}, prometheus::Histogram::BucketBoundaries{0.1, 1})
      .Observe(0.5);
  const auto families = registry.Collect();
  REQUIRE(families.size() == 3);
  CHECK(families[0].name == "t_requests_total");
  CHECK(families[0].help == "Requests");
  CHECK(families[0].type == prometheus::MetricType::Counter);
  CHECK(families[1].name == "t_entries");
  CHECK(families[1].type == prometheus::MetricType::Gauge);
  CHECK(families[2].name == "t_duration_seconds");
  CHECK(families[2].help == "Durations");
  CHECK(families[2].type == prometheus::MetricType::Histogram);
}

TEST_CASE("a name of another type already registered throws, as prometheus-cpp does") {
  prometheus::Registry registry;
  counter_family(registry, "t_x", "x");
  CHECK_THROWS(gauge_family(registry, "t_x", "x"));
  CHECK_THROWS(counter_family(registry, "bad name", "x"));
}

}  // namespace
}  // namespace vouch::net
