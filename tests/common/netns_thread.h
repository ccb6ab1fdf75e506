#pragma once

#include <functional>
#include <string>

namespace xcap::test {

// Runs `fn` on a thread of its own that has joined network namespace `ns`
// (a name under /var/run/netns, as `ip netns add` makes it) and waits for
// it to finish. The calling thread never changes namespace, so whatever it
// does next happens where it was, even when `fn` fails half-way. What `fn`
// opens (sockets, bpf_links, any fd) belongs to the process and stays usable
// from every thread; only the namespace it was made in differs.
//
// Returns "" when `fn` ran, or why the thread could not join `ns` (then
// `fn` did not run).
std::string run_in_netns(const std::string& ns, const std::function<void()>& fn);

}  // namespace xcap::test
