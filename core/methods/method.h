// What a method is, named and configured: the one vocabulary the client half
// (encoder.h) and the server half (strategy.h) of every method share.
//
//   method     client sends (encoder.h)          coordinator (strategy.h)
//   signsgd    sign(g), sign(0) = 0               DenseVote (Safaryan Alg. 2)
//   signum     sign(g)                            DenseVote + momentum on the vote
//   s3gd       TopKSign with error memory         SparseVote (S3GD-MV Alg. 1)
//   randk      RandKSign                          SparseVote (S3GD-MV Alg. 2)
//   stochsign  stochastic sign, scale ||g||_2     Mean (Safaryan Def. 3)
//   efsign     scaled sign with error feedback    Mean
//   fedsgd     float32 gradient                   Mean
//   fedavg     float32 model delta (local SGD)    FedAvg
//
// Adding a method: docs/ARCHITECTURE.md ("Adding a method"); everything but
// the wire name (schema/signfed.fbs) lives in this folder.
#pragma once

#include <cstddef>
#include <string_view>

#include "schema/signfed_generated.h"

namespace signfed::methods {

using wire::Method;

struct MethodConfig {
  Method method = Method::signsgd;
  float gamma = 1.0f;      // K/N for s3gd, randk
  float eta = 1.0f;        // error-compensation weight (S3GD-MV eq. (5)); efsign memory weight
  float momentum = 0.0f;   // signum mu (applied after the vote, not here)
  wire::TieRule tie_rule = wire::TieRule::zero;
};

// True for methods whose server side is a majority vote (downlink: signs).
bool is_vote_method(Method m);
// Whether replicas keep a momentum buffer on the voted signs (signum; s3gd
// and randk with momentum != 0: S3GD-MV eqs. (25)-(26)).
bool uses_momentum(const MethodConfig& m);
// Whether the client runs local SGD steps and sends its model delta (fedavg)
// instead of one stochastic gradient.
bool trains_locally(Method m);
const char* method_name(Method m);
// Parses "signsgd", "s3gd", ...; returns false if unknown.
bool parse_method(std::string_view name, Method* out);

// K = round(gamma * N), at least 1 when N > 0, at most N (S3GD-MV: gamma = K/N).
std::size_t topk_count(std::size_t n, double gamma);

// gamma from S3GD-MV Corollary 1's rule M^(2/3) * K ~= N, i.e. gamma = M^(-2/3), capped to [1/N, 1].
double auto_gamma(std::size_t voters, std::size_t n);

}  // namespace signfed::methods
