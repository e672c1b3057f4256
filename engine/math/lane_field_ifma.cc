// Placeholder until the IFMA path lands.
#include "engine/math/lane_field.h"

namespace mcx {
const LaneField* IfmaLaneField() { return nullptr; }
}  // namespace mcx
