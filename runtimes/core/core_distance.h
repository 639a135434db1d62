// How far apart two CPUs are, as a cache line sees it: the round trip of one line bounced between
// threads pinned to each. Multi-threaded timings need it to be read: a cloud guest's two vCPUs may
// sit on cores that share an L3 (a 50-80 ns round trip on an AMD EPYC Zen 4 guest) or, minutes
// later, on cores that do not (330 ns on the same guest), and two threads then run rep-reactnet-a
// (and stock ONNX Runtime alike) ~1.6x slower, which no kernel change explains (docs/speed_history.md,
// session 16). benchmarks/bench_end_to_end.py probes it every round.
#pragma once

#include <string>

namespace rep_deploy::core {

// Median of 9 batches of `rounds` / 9 round trips of a 64-byte-aligned line between a thread pinned
// to cpu_a and one pinned to cpu_b, in ns, into *ns. Returns "" or why it could not run (a CPU
// outside this process's affinity set, a platform without thread pinning).
std::string cache_line_round_trip_ns(int cpu_a, int cpu_b, int rounds, double* ns);

}  // namespace rep_deploy::core
