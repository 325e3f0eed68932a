// SPB probe (Safaryan & Richtarik Assumption 1, Definitions 1-2): at given
// model parameters, compares every client's minibatch gradient sign with the
// sign of the full-batch gradient over the union of the clients' data.
//
//   rho_i      = fraction of (client, draw) minibatch gradients whose sign
//                matches sign(g_i), over coordinates with g_i != 0
//   rho-norm   = sum_i (2 rho_i - 1) |g_i|                      (Def. 1)
//   rho_M-norm = sum_i (2 I(rho_i; l, l) - 1) |g_i|, l = floor((M+1)/2)   (Def. 2)
// The SPB condition needs rho_i > 1/2 for every i; frac_le_half shows how
// badly it fails (one class per client makes it fail).
//
// Not thread-safe (owns a model and scratch); call from one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "model/model.h"

namespace signfed::sim {

struct SpbRow {
  std::uint32_t round = 0;
  std::uint32_t voters = 0;        // M
  std::uint32_t samples_per_coord = 0;  // M * draws
  std::uint64_t coords = 0;        // coordinates with g_i != 0
  double frac_le_half = 0.0;       // share of those with rho_i <= 1/2
  double mean_rho = 0.0;
  double l1 = 0.0;                 // sum |g_i|
  double rho_norm = 0.0;
  double rho_m_norm = 0.0;
  double full_loss = 0.0;          // full-batch loss at the probed params
};

class SpbProbe {
 public:
  // shards: each client's sample indices into train (as data::partition gives).
  SpbProbe(const std::string& model_spec, std::shared_ptr<const data::Dataset> train,
           std::vector<std::vector<std::uint32_t>> shards, std::uint32_t batch, std::uint32_t draws, std::uint64_t seed);
  SpbRow probe(std::uint32_t round, std::span<const float> params);

 private:
  double gradient(std::span<const std::uint32_t> rows, std::span<float> out);

  std::unique_ptr<model::Model> model_;
  std::shared_ptr<const data::Dataset> train_;
  std::vector<std::vector<std::uint32_t>> shards_;
  std::vector<std::uint32_t> all_;
  std::uint32_t batch_, draws_;
  std::uint64_t seed_;
  std::vector<float> full_, g_, chunk_, xbuf_;
  std::vector<std::uint8_t> ybuf_;
  std::vector<std::uint32_t> match_, pick_;
};

}  // namespace signfed::sim
