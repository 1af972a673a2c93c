/* fault.h - fault injection for tests: KVMLITE_FAULT makes chosen host calls fail for chosen guests. */
#ifndef KVMLITE_FAULT_H
#define KVMLITE_FAULT_H

#include "types.h"

/*
 * KVMLITE_FAULT="POINT:ID:COUNT[,POINT:ID:COUNT...]": the first COUNT times
 * guest ID passes POINT, fault_hit() says "fail here". Points: "resume"
 * (getting a KVM VM back for a parked guest). Tests use it to show that a
 * failure stays with its guest; without the variable it costs one branch.
 */
bool fault_hit(const char *point, u32 id);

#endif
