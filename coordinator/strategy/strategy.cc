#include "coordinator/strategy/strategy.h"

#include <stdexcept>

#include "coordinator/strategy/strategies.h"

namespace signfed::coord {

std::unique_ptr<Strategy> make_strategy(const CoordinatorConfig& cfg) {
  switch (cfg.method.method) {
    case wire::Method::signsgd:
    case wire::Method::signum:
      return std::make_unique<DenseVote>(cfg);
    case wire::Method::s3gd:
    case wire::Method::randk:
      return std::make_unique<SparseVote>(cfg);
    case wire::Method::stochsign:
    case wire::Method::efsign:
    case wire::Method::fedsgd:
      return std::make_unique<Mean>(cfg);
    case wire::Method::fedavg:
      return std::make_unique<FedAvg>(cfg);
  }
  throw std::invalid_argument("no strategy for this method");
}

}  // namespace signfed::coord
