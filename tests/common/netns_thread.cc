#include "netns_thread.h"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

namespace xcap::test {

std::string run_in_netns(const std::string& ns, const std::function<void()>& fn) {
    std::string why;
    // setns() moves only the calling thread: a thread made for it, and gone
    // afterwards, takes the namespace with it.
    std::thread t([&] {
        const int fd = open(("/var/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) {
            why = "cannot join network namespace " + ns + ": " + std::strerror(errno);
            if (fd >= 0) {
                close(fd);
            }
            return;
        }
        close(fd);
        fn();
    });
    t.join();
    return why;
}

}  // namespace xcap::test
