// libFuzzer target: wire::verify_envelope, then every field of the verified body.
#include <cstddef>
#include <cstdint>
#include <string>

#include "schema/wire.h"

namespace {
template <class T>
std::size_t touch_str(const T* s) { return s ? s->size() : 0; }
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace signfed::wire;
  std::string why;
  const Envelope* env = verify_envelope({data, size}, &why);
  if (!env) return 0;
  std::size_t n = 0;
  switch (env->body_type()) {
    case Body::Join: {
      const auto* m = env->body_as_Join();
      n += touch_str(m->client_name()) + touch_str(m->platform()) + touch_str(m->arch()) + touch_str(m->model_spec()) +
           touch_str(m->data_desc());
      break;
    }
    case Body::Update: {
      const auto* m = env->body_as_Update();
      if (m->packet() && m->packet()->payload()) n += m->packet()->payload()->size();
      break;
    }
    case Body::VoteResult: {
      const auto* m = env->body_as_VoteResult();
      if (m->packet() && m->packet()->payload()) n += m->packet()->payload()->size();
      break;
    }
    case Body::ModelSnapshot: {
      const auto* m = env->body_as_ModelSnapshot();
      if (m->params()) for (float f : *m->params()) n += f > 0.0f;
      if (m->momentum()) n += m->momentum()->size();
      n += touch_str(m->model_spec());
      break;
    }
    case Body::Error:
      n += touch_str(env->body_as_Error()->text());
      break;
    case Body::Bye:
      n += touch_str(env->body_as_Bye()->reason());
      break;
    case Body::Welcome:
      n += touch_str(env->body_as_Welcome()->run_id()) + touch_str(env->body_as_Welcome()->model_spec());
      break;
    case Body::RoundTask:
      if (env->body_as_RoundTask()->params()) n += env->body_as_RoundTask()->params()->batch_size();
      break;
    default:
      break;
  }
  (void)body_name(env->body_type());
  return n == 0xdeadbeef ? 1 : 0;
}
