#!/usr/bin/env bash
# tests/vm/run.sh COMMAND [ARG...]
#
# Runs COMMAND as root inside a qemu guest that boots one of Debian's stock
# kernels (6.1 by default, XCAP_VM_KERNEL=6.12 for bookworm-security's 6.12)
# and sees the host's user space: the host's / read-only over 9p, the project
# and ../shared read-write at the same paths, the same working directory. The
# guest has two virtio-net NICs, zc0 and zc1, joined only to each other. The
# command's stdout and stderr arrive on ours as it runs, and its exit status
# is ours. It is the project's second kernel: what the host refuses (fentry,
# fexit, freplace), the netns suites on other kernels, and a real driver.
#
# Exit status: the command's; 77 when the guest cannot be run here at all
# (the reason on stderr); 124 on timeout; 125 when the guest failed before
# the command finished (the console's last lines on stderr).
#
# Environment (see tests/vm/README.md):
#   XCAP_VM_KERNEL      the kernel series, 6.1 or 6.12 (6.1)
#   XCAP_VM_TIMEOUT     seconds for the whole run, boot included (3600)
#   XCAP_VM_ACCEL       auto (KVM, else TCG), kvm or tcg (auto)
#   XCAP_VM_KVM_WAIT    seconds KVM gets to boot before falling back (20)
#   XCAP_VM_CPUS        vCPUs (2)
#   XCAP_VM_MEM         guest memory, qemu syntax (3G)
#   XCAP_VM_KERNEL_PKG  the kernel package (the newest of the series)
#   XCAP_VM_CACHE       where kernels are kept (build/vm-cache in the project)
#   XCAP_VM_PRELOAD     modules loaded before the command ("veth tun 8021q")
#   XCAP_VM_VERBOSE     1: the guest console on stderr while it runs
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
project=$(cd "$here/../.." && pwd)
# tests/netns and tests/unit read ../shared/testdata beside the project.
shared=""
[ -d "$project/../shared" ] && shared=$(cd "$project/../shared" && pwd)

timeout_s=${XCAP_VM_TIMEOUT:-3600}
accel=${XCAP_VM_ACCEL:-auto}
kvm_wait=${XCAP_VM_KVM_WAIT:-20}
cpus=${XCAP_VM_CPUS:-2}
mem=${XCAP_VM_MEM:-3G}
cache=${XCAP_VM_CACHE:-$project/build/vm-cache}
kernel_series=${XCAP_VM_KERNEL:-6.1}
preload=${XCAP_VM_PRELOAD:-veth tun 8021q}
verbose=${XCAP_VM_VERBOSE:-0}

log() { echo "vm: $*" >&2; }
skip() { log "skipped: $*"; exit 77; }

if [ $# -eq 0 ]; then
    echo "usage: tests/vm/run.sh COMMAND [ARG...]" >&2
    exit 2
fi
# 9p with security_model=passthrough keeps the host's owners and modes, which
# only root can do; the guest's command runs as root too.
[ "$(id -u)" = 0 ] || skip "needs root (qemu's 9p passthrough of the host's files)"
case "$accel" in auto | kvm | tcg) ;; *) log "XCAP_VM_ACCEL must be auto, kvm or tcg"; exit 2 ;; esac

# --- what the host needs: qemu and a static busybox (for the initramfs) -----

apt_updated=0
apt_update_once() {
    if [ "$apt_updated" = 0 ]; then
        apt-get update -qq >/dev/null 2>&1 || true
        apt_updated=1
    fi
}

need_packages() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Lists may be stale or absent on a fresh machine: update on a failure.
    # Another apt may hold the lock (a parallel setup): wait for it.
    local install=(apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 "${missing[@]}")
    if ! "${install[@]}" >/dev/null 2>&1; then
        apt_update_once
        "${install[@]}" >/dev/null 2>&1 || return 1
    fi
}

need_packages qemu-system-x86 busybox-static xz-utils ||
    skip "cannot install qemu-system-x86, busybox-static and xz-utils with apt-get"
qemu=$(command -v qemu-system-x86_64) || skip "qemu-system-x86_64 is not installed"
busybox=/bin/busybox
[ -x "$busybox" ] || skip "busybox-static did not install /bin/busybox"

# --- the kernel: downloaded once, unpacked (never installed) into the cache --

mkdir -p "$cache"
# One preparation at a time (ctest -j, two shells): the unpacking is shared.
exec 9>"$cache/.lock"
flock 9

# The kernel series: Debian's stock 6.1 (bookworm, linux-image-6.1.0-N-amd64),
# or a later one named by its upstream version (6.12 from bookworm-security:
# linux-image-6.12.N+debV-amd64; a newer series the same way, once the
# archive has one).
case "$kernel_series" in
    6.1)
        pkg_glob='linux-image-6.1.*-amd64'
        pkg_regex='^linux-image-6\.1\.0-[0-9]+-amd64$'
        ;;
    [0-9]*.[0-9]*)
        pkg_glob="linux-image-$kernel_series.*+deb*-amd64"
        pkg_regex="^linux-image-${kernel_series//./\\.}\\.[0-9]+\\+deb[0-9]+-amd64\$"
        ;;
    *)
        log "XCAP_VM_KERNEL must be a kernel series such as 6.1 or 6.12"
        exit 2
        ;;
esac
kernel_pkg=${XCAP_VM_KERNEL_PKG:-}
if [ -z "$kernel_pkg" ]; then
    # The one already here, so that later runs need no package lists at all.
    kernel_pkg=$(cd "$cache" && ls -d $pkg_glob 2>/dev/null | sort -V | tail -n 1 || true)
fi
# Debian's later suites carry newer series than a bookworm host's own lists
# (trixie-backports the newest): a series those lists lack is looked up
# there, from the same mirror, in lists of their own kept in the cache. They
# are used to download a kernel, never to install anything.
later=(-o "Dir::Etc::sourcelist=$cache/apt/sources.list" -o "Dir::Etc::sourceparts=-"
    -o "Dir::State::Lists=$cache/apt/lists" -o "Dir::Cache=$cache/apt/cache")
later_used=0
later_update() {
    local mirror
    mirror=$(apt-get indextargets --format '$(REPO_URI) $(TARGET_OF)' 2>/dev/null |
        awk '$2 == "deb" && $1 ~ /\/debian\/?$/ { print $1; exit }')
    [ -n "$mirror" ] || return 1
    mkdir -p "$cache/apt/lists/partial" "$cache/apt/cache/archives/partial"
    printf 'deb %s %s main\n' "$mirror" trixie-backports "$mirror" trixie >"$cache/apt/sources.list"
    chown -R _apt "$cache/apt/lists/partial" "$cache/apt/cache/archives/partial" 2>/dev/null || true
    apt-get "${later[@]}" update -qq >/dev/null 2>&1
}
if [ -z "$kernel_pkg" ]; then
    # The newest of the series that apt knows, else that the later suites have.
    find_pkg() {
        apt-cache "$@" search --names-only "$pkg_regex" 2>/dev/null | cut -d' ' -f1 | sort -V | tail -n 1
    }
    kernel_pkg=$(find_pkg)
    if [ -z "$kernel_pkg" ]; then
        apt_update_once
        kernel_pkg=$(find_pkg)
    fi
    if [ -z "$kernel_pkg" ] && later_update; then
        kernel_pkg=$(find_pkg "${later[@]}")
        [ -n "$kernel_pkg" ] && later_used=1
    fi
    [ -n "$kernel_pkg" ] || skip "apt knows no $kernel_series kernel package (${pkg_regex})"
fi
kdir=$cache/$kernel_pkg
if [ ! -e "$kdir/.complete" ]; then
    log "fetching $kernel_pkg into $cache (once)"
    rm -rf "$kdir" "$kdir.tmp"
    mkdir -p "$kdir.tmp/deb"
    # apt drops privileges to _apt for downloads: let it write there.
    chown _apt "$kdir.tmp/deb" 2>/dev/null || true
    apt_opts=()
    [ "$later_used" = 1 ] && apt_opts=("${later[@]}")
    # From 6.13 on the image package is empty: the kernel and its modules
    # are in the packages it depends on (linux-binary-*, linux-modules-*).
    parts() {
        apt-cache "${apt_opts[@]}" depends "$kernel_pkg" 2>/dev/null |
            awk '$1 == "Depends:" && $2 ~ /^linux-(binary|modules)-/ { print $2 }'
    }
    fetch() { (cd "$kdir.tmp/deb" && apt-get "${apt_opts[@]}" download "$kernel_pkg" $(parts) >/dev/null 2>&1); }
    if ! fetch; then
        [ "$later_used" = 1 ] && later_update || apt_update_once
        fetch || { rm -rf "$kdir.tmp"; skip "apt-get download $kernel_pkg $(parts | tr '\n' ' ')failed"; }
    fi
    for deb in "$kdir.tmp"/deb/*.deb; do
        dpkg -x "$deb" "$kdir.tmp/root"
    done
    rm -rf "$kdir.tmp/deb"
    # Later packages put everything under /usr/lib/modules, the kernel
    # beside its modules: the same layout as the earlier ones here.
    if [ -d "$kdir.tmp/root/usr/lib/modules" ] && [ ! -d "$kdir.tmp/root/lib/modules" ]; then
        mkdir -p "$kdir.tmp/root/lib"
        mv "$kdir.tmp/root/usr/lib/modules" "$kdir.tmp/root/lib/modules"
    fi
    kver=$(ls "$kdir.tmp/root/lib/modules")
    if [ -f "$kdir.tmp/root/lib/modules/$kver/vmlinuz" ]; then
        mkdir -p "$kdir.tmp/root/boot"
        mv "$kdir.tmp/root/lib/modules/$kver/vmlinuz" "$kdir.tmp/root/boot/vmlinuz-$kver"
    fi
    [ -f "$kdir.tmp/root/boot/vmlinuz-$kver" ] || { rm -rf "$kdir.tmp"; skip "$kernel_pkg has no vmlinuz"; }
    # Drivers for hardware the guest never has (sound, graphics, media, USB,
    # wireless, physical NICs, ...) are most of the package: 390 MB unpacked,
    # 140 MB without them.
    (cd "$kdir.tmp/root/lib/modules/$kver/kernel" &&
        rm -rf sound drivers/gpu drivers/media drivers/net/wireless drivers/net/ethernet \
            drivers/net/usb drivers/infiniband drivers/usb drivers/iio drivers/staging drivers/scsi \
            drivers/hid drivers/input drivers/bluetooth drivers/isdn drivers/mmc drivers/mtd \
            net/bluetooth net/wireless net/mac80211)
    # 6.12's modules are xz-compressed. busybox's insmod and modprobe hand
    # the kernel a plain image (init_module, without the flag that would let
    # the kernel decompress it), so they are unpacked here, once, with both
    # cores, and the index below names the plain files.
    find "$kdir.tmp/root/lib/modules/$kver" -name '*.ko.xz' -print0 | xargs -0 -r -n 64 -P 2 xz -d
    # The package has no modules.dep (depmod runs when it is installed).
    "$busybox" depmod -b "$kdir.tmp/root" "$kver"
    # Later packages have no modules.builtin: a module the initramfs wants
    # that the package does not ship is built in (the package ships every
    # module the kernel's configuration makes one).
    if [ ! -e "$kdir.tmp/root/lib/modules/$kver/modules.builtin" ]; then
        for m in virtio_pci 9pnet_virtio 9p overlay; do
            grep -qE "(^|/)${m//_/[_-]}\.ko:" "$kdir.tmp/root/lib/modules/$kver/modules.dep" ||
                echo "kernel/$m.ko"
        done >"$kdir.tmp/root/lib/modules/$kver/modules.builtin"
    fi
    touch "$kdir.tmp/.complete"
    mv "$kdir.tmp" "$kdir"
fi
kver=$(ls "$kdir/root/lib/modules")
vmlinuz=$kdir/root/boot/vmlinuz-$kver
modules_dir=$kdir/root/lib/modules/$kver
flock -u 9
exec 9>&-

# --- this run's files: the initramfs, the command, its output and status ----

tmp=$(mktemp -d /tmp/xcap-vm-XXXXXX)
qemu_pid=""
tail_pids=()
cleanup() {
    # The guest never outlives us, whatever ended the run.
    [ -n "$qemu_pid" ] && stop_qemu
    local p
    for p in "${tail_pids[@]}"; do
        kill "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    rm -rf "$tmp"
}
# Kills the guest and reaps it, with bash's "Killed <command line>" notice
# silenced (it is printed at the first command after the reaping).
stop_qemu() {
    { kill -KILL "$qemu_pid"; wait "$qemu_pid"; } 2>/dev/null || true
    qemu_pid=""
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Modules the initramfs loads to reach the host, with their dependencies first
# (a depth-first walk of modules.dep). One built into the kernel (6.12 builds
# virtio_pci in) is listed in modules.builtin instead and is left out.
initramfs_modules() {
    awk -v want="virtio_pci 9pnet_virtio 9p overlay" '
        function base(p,   b) { b = p; sub(".*/", "", b); sub("\\.ko$", "", b); gsub("-", "_", b); return b }
        FILENAME ~ /modules\.builtin$/ { builtin[base($1)] = 1; next }
        { sub(":", "", $1); path[base($1)] = $1; deps[$1] = "" ; for (i = 2; i <= NF; i++) deps[$1] = deps[$1] " " $i }
        function visit(p,   n, i, d) {
            if (p in seen) { return }
            seen[p] = 1
            n = split(deps[p], d, " ")
            for (i = 1; i <= n; i++) { visit(d[i]) }
            print p
        }
        END {
            n = split(want, w, " ")
            for (i = 1; i <= n; i++) {
                if (w[i] in builtin) { continue }
                if (!(w[i] in path)) { print "missing " w[i] > "/dev/stderr"; exit 1 }
                visit(path[w[i]])
            }
        }
    ' "$modules_dir/modules.builtin" "$modules_dir/modules.dep"
}

mkdir -p "$tmp/initramfs/bin" "$tmp/initramfs/lib/modules/$kver" "$tmp/io"
initramfs_modules >"$tmp/initramfs/modules"
while read -r ko; do
    mkdir -p "$tmp/initramfs/lib/modules/$kver/$(dirname "$ko")"
    cp "$modules_dir/$ko" "$tmp/initramfs/lib/modules/$kver/$ko"
done <"$tmp/initramfs/modules"
cp "$busybox" "$tmp/initramfs/bin/busybox"
cp "$here/init.sh" "$tmp/initramfs/init"
chmod 755 "$tmp/initramfs/init"
(cd "$tmp/initramfs" && find . | "$busybox" cpio -o -H newc 2>/dev/null) >"$tmp/initramfs.cpio"

# Two virtio-net NICs, zc0 and zc1 in the guest, joined to each other by a hub
# inside qemu and to nothing else: a real driver for the tests (a unicast MAC
# filter, and on 6.11+ AF_XDP zero-copy receive) whose traffic never leaves
# the guest. Zero-copy needs the DMA API (iommu_platform; without a vIOMMU
# the guest maps directly), which needs a modern-only device, and queue reset
# (on by default in qemu 7.2+). romfile= keeps qemu from looking for a boot
# ROM that no test needs. rx_queue_size=1024 (qemu's largest; 256 by
# default): once a NIC's receive ring is full, qemu holds a frame back and
# can deliver the next one before it. Zero-copy replay at full speed swapped
# two frames exactly at the ring's size (at 256, and at 1,088 and 2,979 of
# 3,000 with 1,024), the receiver's XDP stamps in the swapped order; with
# 1,024 buffers every burst a test sends (300 frames) fits in the ring.
zc_macs=(02:78:63:00:00:00 02:78:63:00:00:01)
nics=()
for i in 0 1; do
    nics+=(-netdev "hubport,id=zc$i,hubid=0"
        -device "virtio-net-pci,netdev=zc$i,mac=${zc_macs[$i]},rx_queue_size=1024,iommu_platform=on,disable-legacy=on,romfile=")
done

# The guest's settings, read by init.sh (sourced by busybox sh).
{
    printf 'XCAP_VM_PROJECT=%q\n' "$project"
    printf 'XCAP_VM_SHARED=%q\n' "$shared"
    printf 'XCAP_VM_PRELOAD=%q\n' "$preload"
    printf 'XCAP_VM_VERBOSE=%q\n' "$verbose"
    printf 'XCAP_VM_NICS=%q\n' "zc0=${zc_macs[0]} zc1=${zc_macs[1]}"
} >"$tmp/io/config"

# The command, run by the host's bash in the guest: same directory, a few of
# our variables (locale, CI, gtest's and xcap's own), then the words as given.
{
    echo 'export HOME=/root TERM=dumb'
    for name in PATH LANG LC_ALL TZ CI $(compgen -e | grep -E '^(GTEST_|XCAP_)' | grep -v '^XCAP_VM_' || true); do
        [ -n "${!name+set}" ] && printf 'export %s=%q\n' "$name" "${!name}"
    done
    # busybox's modprobe, insmod, lsmod and modinfo, for a host without kmod.
    echo 'export PATH="$PATH:/run/xcap-vm/bin"'
    printf 'cd %q || exit 125\n' "$PWD"
    printf 'exec'
    printf ' %q' "$@"
    printf '\n'
} >"$tmp/io/cmd.sh"
: >"$tmp/io/stdout"
: >"$tmp/io/stderr"

# --- the guest ----------------------------------------------------------------

# Kernel command line: the console on the first serial port (kept in a file);
# panic=-1 with -no-reboot turns a panic into qemu exiting; tsc=reliable keeps
# the TSC as the clock under TCG (its vCPUs' TSCs look unsynchronised, and
# HPET reads are slow under emulation); mitigations=off costs nothing here.
append="console=ttyS0 panic=-1 tsc=reliable mitigations=off rdinit=/init"
[ "$verbose" = 1 ] || append+=" quiet loglevel=4"

start_qemu() {  # $1: kvm or tcg
    local a=$1 machine=()
    if [ "$a" = kvm ]; then
        machine=(-accel kvm -cpu host)
    else
        machine=(-accel tcg,thread=multi -cpu max)
    fi
    rm -f "$tmp/io/booted" "$tmp/io/status"
    : >"$tmp/console.log"
    local v9=security_model=passthrough,multidevs=remap
    "$qemu" -nodefaults -no-user-config -nographic -no-reboot \
        "${machine[@]}" -smp "$cpus" -m "$mem" \
        -kernel "$vmlinuz" -initrd "$tmp/initramfs.cpio" -append "$append" \
        -serial "file:$tmp/console.log" -monitor none -nic none \
        "${nics[@]}" \
        -virtfs "local,path=/,mount_tag=hostroot,readonly=on,$v9" \
        -virtfs "local,path=$tmp/io,mount_tag=xcapio,$v9" \
        -virtfs "local,path=$project,mount_tag=project,$v9" \
        -virtfs "local,path=$modules_dir,mount_tag=xcapmods,readonly=on,$v9" \
        ${shared:+-virtfs "local,path=$shared,mount_tag=shared,$v9"} \
        </dev/null >"$tmp/qemu.log" 2>&1 &
    qemu_pid=$!
}

# Waits for qemu to exit or for $1 seconds since $2 (epoch seconds);
# with $3 = booted, returns as soon as the guest has started the command.
wait_guest() {
    local limit=$1 since=$2 until=${3:-}
    while kill -0 "$qemu_pid" 2>/dev/null; do
        [ "$until" = booted ] && [ -e "$tmp/io/booted" ] && return 0
        [ $(($(date +%s) - since)) -ge "$limit" ] && return 1
        sleep 0.2
    done
    return 0
}

start=$(date +%s)
start_ns=$(date +%s%N)
used=""
if [ "$accel" != tcg ]; then
    if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
        # A KVM that cannot run this guest fails at once (qemu aborts) or
        # never gets it to the command (a PVM-only host): then TCG. stderr is
        # off around it for bash's "Aborted <command line>" notice.
        {
            start_qemu kvm
            wait_guest "$kvm_wait" "$start" booted || true
            if [ -e "$tmp/io/booted" ]; then
                used=kvm
            else
                stop_qemu
            fi
        } 2>/dev/null
        if [ -z "$used" ]; then
            why=$(grep -m1 -v '^$' "$tmp/qemu.log" 2>/dev/null || true)
            log "KVM cannot run this guest (${why:-no boot within ${kvm_wait}s}), using TCG"
        fi
    else
        log "no usable /dev/kvm, using TCG"
    fi
    if [ -z "$used" ] && [ "$accel" = kvm ]; then
        log "XCAP_VM_ACCEL=kvm but KVM cannot run the guest"
        exit 125
    fi
fi
if [ -z "$used" ]; then
    used=tcg
    # An emulated boot can panic before the command starts (7.3 did once in
    # about 35 boots under TCG, in the clock code at 2.5 s): the command has
    # not run, so booting again hides nothing. Up to three boots.
    for try in 1 2 3; do
        start_ns=$(date +%s%N)
        start_qemu tcg
        wait_guest "$timeout_s" "$start" booted || break
        if [ -e "$tmp/io/booted" ] || [ "$try" = 3 ] || ! grep -q 'Kernel panic' "$tmp/console.log"; then
            break
        fi
        { wait "$qemu_pid"; } 2>/dev/null || true
        qemu_pid=""
        log "the guest's kernel panicked while booting (boot $try of 3), booting again; the console said:"
        grep -E 'RIP:|Kernel panic|BUG|Oops' "$tmp/console.log" | head -n 4 >&2
    done
fi

# The command's output, as it arrives (tail follows the files qemu writes
# through 9p, and ends with qemu).
tail -n +1 -f --pid="$qemu_pid" "$tmp/io/stdout" &
tail_pids+=($!)
tail -n +1 -f --pid="$qemu_pid" "$tmp/io/stderr" >&2 &
tail_pids+=($!)
if [ "$verbose" = 1 ]; then
    tail -n +1 -f --pid="$qemu_pid" "$tmp/console.log" >&2 &
    tail_pids+=($!)
fi

booted_said=0
timed_out=0
while kill -0 "$qemu_pid" 2>/dev/null; do
    if [ "$booted_said" = 0 ] && [ -e "$tmp/io/booted" ]; then
        boot_ms=$((($(date +%s%N) - start_ns) / 1000000))
        log "$kernel_pkg ($kver) booted under ${used^^} in $((boot_ms / 1000)).$(printf %03d $((boot_ms % 1000))) s (guest uptime $(cat "$tmp/io/booted") s), ${cpus} vCPUs, $mem"
        booted_said=1
    fi
    if [ $(($(date +%s) - start)) -ge "$timeout_s" ]; then
        timed_out=1
        break
    fi
    sleep 0.2
done
if [ "$timed_out" = 1 ]; then
    stop_qemu
else
    qemu_status=0
    { wait "$qemu_pid" || qemu_status=$?; } 2>/dev/null
    qemu_pid=""
fi
# Let the followers print what was left, then stop them.
for p in "${tail_pids[@]}"; do
    wait "$p" 2>/dev/null || true
done
tail_pids=()

total_ms=$((($(date +%s%N) - start_ns) / 1000000))
if [ "$timed_out" = 1 ]; then
    log "timed out after ${timeout_s}s (XCAP_VM_TIMEOUT); the guest was killed. Console's end:"
    tail -n 20 "$tmp/console.log" >&2
    exit 124
fi
if [ ! -e "$tmp/io/status" ]; then
    # qemu failing before the guest printed anything is this machine unable
    # to run qemu at all (no memory, a broken install): a skip, with why.
    if [ "$qemu_status" != 0 ] && ! [ -s "$tmp/console.log" ]; then
        skip "qemu cannot run here (exit $qemu_status): $(grep -m1 -v '^$' "$tmp/qemu.log" || true)"
    fi
    log "the guest ended before the command finished. qemu said:"
    tail -n 5 "$tmp/qemu.log" >&2
    log "console's end:"
    tail -n 30 "$tmp/console.log" >&2
    exit 125
fi
status=$(cat "$tmp/io/status")
log "command exited with status $status; guest ran $((total_ms / 1000)).$(printf %03d $((total_ms % 1000))) s under ${used^^}"
exit "$status"
