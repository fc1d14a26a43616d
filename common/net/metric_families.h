#pragma once

// Registering a Prometheus metric family in one call, for the daemons' metrics classes
// (signer/metrics.cc, verifier/metrics.cc): prometheus-cpp's builder chain
// Build*().Name(n).Help(h).Register(r), written once. Like Register, these throw what
// prometheus-cpp throws (std::invalid_argument on a bad or clashing name): call them inside the
// one try block of a metrics factory that converts it to an Error. The family lives as long as
// `registry`. Also the one place that forward-declares the prometheus-cpp types, for the
// metrics headers that name them without including prometheus-cpp.

#include <string>

namespace prometheus {
class Registry;
class Counter;
class Gauge;
class Histogram;
template <typename T>
class Family;
}  // namespace prometheus

namespace vouch::net {

prometheus::Family<prometheus::Counter>& counter_family(prometheus::Registry& registry,
                                                        const std::string& name,
                                                        const std::string& help);
prometheus::Family<prometheus::Gauge>& gauge_family(prometheus::Registry& registry,
                                                    const std::string& name,
                                                    const std::string& help);
prometheus::Family<prometheus::Histogram>& histogram_family(prometheus::Registry& registry,
                                                            const std::string& name,
                                                            const std::string& help);

}  // namespace vouch::net
