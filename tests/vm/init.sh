#!/bin/busybox sh
# The guest's PID 1, run by busybox from the initramfs that tests/vm/run.sh
# builds. Two stages in one file:
#
#   stage 1 (no argument, in the initramfs): load the few modules the kernel
#     needs to reach the host (virtio, 9p, overlay), mount the host's / read-only
#     over 9p with tmpfs/overlay where the guest must write, the project and
#     ../shared read-write at their host paths, and the usual kernel file
#     systems; then switch_root into it.
#   stage 2 ("stage2", in the host's tree): run the command that run.sh wrote
#     into the I/O directory, with its stdout, stderr and exit status in files
#     there, and power off.
#
# Everything that varies (paths, kernel release, modules to preload) comes from
# $io/config, written by run.sh. Any failure powers the guest off at once with
# the reason on the console: run.sh then reports that the guest never ran the
# command, instead of waiting for its timeout.

bb=/bin/busybox
io_tag=xcapio

die() {
    echo "vm-init: $*" >&2
    [ -d /run/xcap-vm/io ] && echo "vm-init: $*" >>/run/xcap-vm/io/stderr 2>/dev/null
    $bb sync
    $bb poweroff -f
    # poweroff -f does not return; if it did, PID 1 must not exit (panic).
    while :; do $bb sleep 3600; done
}

stage1() {
    # Applets by name for the rest of this stage. --install never links
    # busybox to itself (the DESIGN pitfall), and the initramfs has no other
    # binaries that these links could shadow.
    $bb mkdir -p /proc /sys /dev /tmp /sbin /usr/bin /usr/sbin /newroot
    $bb --install -s
    export PATH=/bin:/sbin:/usr/bin:/usr/sbin

    mount -t proc proc /proc
    mount -t sysfs sysfs /sys
    mount -t devtmpfs devtmpfs /dev

    # The modules in /modules are listed in load order (run.sh resolved their
    # dependencies from modules.dep). One that is already there (built in or
    # loaded) is not an error.
    kver=$(uname -r)
    while read -r ko; do
        [ -n "$ko" ] || continue
        insmod "/lib/modules/$kver/$ko" 2>/tmp/insmod.err ||
            grep -q 'File exists' /tmp/insmod.err ||
            die "insmod $ko: $(cat /tmp/insmod.err)"
    done </modules

    # The host's / becomes ours, read-only. cache=loose lets the guest keep
    # pages and dentries: the host's user space does not change under a run.
    # msize is virtio-9p's largest (fewer round trips through qemu).
    opts=trans=virtio,version=9p2000.L,msize=512000
    mount -t 9p -o "$opts,ro,cache=loose" hostroot /newroot ||
        die "cannot mount the host's / over 9p"

    # Writable places that programs expect, empty or as an overlay of the
    # host's copy: the host is never written through them.
    mount -t tmpfs -o mode=1777 tmpfs /newroot/tmp
    mount -t tmpfs -o mode=755 tmpfs /newroot/run
    mkdir -p /newroot/run/xcap-vm/io /newroot/run/xcap-vm/bin /newroot/run/xcap-vm/upper
    mount -t 9p -o "$opts,cache=none" "$io_tag" /newroot/run/xcap-vm/io ||
        die "cannot mount the I/O directory over 9p"
    . /newroot/run/xcap-vm/io/config
    say() { [ "$XCAP_VM_VERBOSE" = 1 ] && echo "vm-init: $*"; return 0; }

    for dir in /var /root /etc; do
        name=$(echo "$dir" | tr / _)
        up=/newroot/run/xcap-vm/upper/$name
        mkdir -p "$up/data" "$up/work"
        if ! mount -t overlay -o "lowerdir=/newroot$dir,upperdir=$up/data,workdir=$up/work" overlay "/newroot$dir" 2>/dev/null; then
            # An overlay on 9p is not possible with every kernel: an empty
            # tmpfs still gives /var (and /root) a place to write.
            say "no overlay on $dir, tmpfs instead"
            [ "$dir" = /etc ] && continue
            mount -t tmpfs -o mode=755 tmpfs "/newroot$dir"
        fi
    done
    # ip netns keeps its files under /var/run/netns (the host's link to /run
    # dangles until the switch, hence -L).
    [ -L /newroot/var/run ] || [ -e /newroot/var/run ] || ln -s /run /newroot/var/run
    mkdir -p /newroot/run/lock /newroot/var/tmp
    chmod 1777 /newroot/var/tmp

    # The project and ../shared, read-write at the host's paths: what a command
    # writes there is on the host afterwards. cache=mmap keeps writes going
    # straight to the host and still allows shared writable mappings.
    # A clone under a folder the guest replaced (/tmp, /run: empty tmpfs)
    # needs its mount point made first; elsewhere it exists already.
    mkdir -p "/newroot$XCAP_VM_PROJECT"
    mount -t 9p -o "$opts,cache=mmap" project "/newroot$XCAP_VM_PROJECT" ||
        die "cannot mount the project directory $XCAP_VM_PROJECT"
    if [ -n "$XCAP_VM_SHARED" ]; then
        mkdir -p "/newroot$XCAP_VM_SHARED"
        mount -t 9p -o "$opts,cache=mmap" shared "/newroot$XCAP_VM_SHARED" ||
            die "cannot mount $XCAP_VM_SHARED"
    fi

    # modprobe looks in /lib/modules/$(uname -r), which the host's read-only
    # tree does not have. A small root of its own has it: the unpacked kernel
    # package's modules, from their own 9p share (the cache may be anywhere,
    # even under the host's /tmp, which the guest's tmpfs hides). Wrappers run
    # busybox's modprobe and modinfo there, and the kernel's own module
    # requests (tc's qdiscs and classifiers, ...) go through the same wrapper.
    # busybox itself stays reachable after switch_root (PID 1 needs it for
    # poweroff). Its applets go last in PATH: the host's own tools win
    # wherever they exist.
    x=/newroot/run/xcap-vm
    mkdir -p "$x/modroot/bin" "$x/modroot/proc" "$x/modroot/sys" "$x/modroot/lib/modules/$kver"
    mount -t 9p -o "$opts,ro,cache=loose" xcapmods "$x/modroot/lib/modules/$kver" ||
        die "cannot mount the modules of $kver over 9p"
    mount -t proc proc "$x/modroot/proc"
    mount -t sysfs sysfs "$x/modroot/sys"
    cp /init "$x/init"
    cp $bb "$x/busybox"
    cp $bb "$x/modroot/bin/busybox"
    for applet in modprobe modinfo; do
        printf '#!/run/xcap-vm/busybox sh\nexec /run/xcap-vm/busybox chroot /run/xcap-vm/modroot /bin/busybox %s "$@"\n' \
            "$applet" >"$x/bin/$applet"
        chmod 755 "$x/bin/$applet"
    done
    for applet in insmod rmmod lsmod poweroff; do
        ln -s ../busybox "$x/bin/$applet"
    done
    echo /run/xcap-vm/bin/modprobe >/proc/sys/kernel/modprobe

    for fs in dev proc sys; do
        mount --move "/$fs" "/newroot/$fs"
    done
    mkdir -p /newroot/dev/pts /newroot/dev/shm
    mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /newroot/dev/pts
    mount -t tmpfs -o mode=1777 tmpfs /newroot/dev/shm
    ln -sf /proc/self/fd /newroot/dev/fd
    ln -sf /proc/self/fd/0 /newroot/dev/stdin
    ln -sf /proc/self/fd/1 /newroot/dev/stdout
    ln -sf /proc/self/fd/2 /newroot/dev/stderr
    [ -e /newroot/dev/ptmx ] || ln -s pts/ptmx /newroot/dev/ptmx
    mount -t bpf -o mode=700 bpf /newroot/sys/fs/bpf
    mount -t debugfs debugfs /newroot/sys/kernel/debug
    mount -t tracefs tracefs /newroot/sys/kernel/tracing
    mount -t cgroup2 cgroup2 /newroot/sys/fs/cgroup

    # Modules the tests need up front (veth: `ip link add type veth` does not
    # autoload it through busybox's modprobe alias lookup on every kernel).
    for m in $XCAP_VM_PRELOAD; do
        chroot /newroot /run/xcap-vm/bin/modprobe "$m" || die "modprobe $m failed"
    done

    # The two virtio-net NICs run.sh joined to each other, named by their
    # MACs (the kernel's ethN order is the probe's). IPv6 off before they go
    # up: no router solicitation or DAD frame then arrives unasked, and a
    # test can count what it sent.
    chroot /newroot /run/xcap-vm/bin/modprobe virtio_net || die "modprobe virtio_net failed"
    for nic in $XCAP_VM_NICS; do
        name=${nic%%=*}
        mac=${nic#*=}
        dev=""
        for a in /newroot/sys/class/net/*/address; do
            [ "$(cat "$a")" = "$mac" ] && dev=$(basename "$(dirname "$a")")
        done
        [ -n "$dev" ] || die "no NIC with MAC $mac (for $name)"
        ip link set dev "$dev" name "$name" || die "cannot rename $dev to $name"
        echo 1 >"/newroot/proc/sys/net/ipv6/conf/$name/disable_ipv6"
        ip link set dev "$name" up || die "cannot bring $name up"
    done
    # The link comes up a moment later (later kernels take longer under
    # TCG): the command starts once both are up, or after 10 s, when the
    # tests that need them say which is not.
    for nic in $XCAP_VM_NICS; do
        name=${nic%%=*}
        i=0
        while [ "$(cat "/newroot/sys/class/net/$name/operstate")" != up ] && [ $i -lt 100 ]; do
            sleep 0.1
            i=$((i + 1))
        done
    done

    hostname xcap-vm
    ip link set lo up
    say "mounts ready, switching root"
    exec switch_root /newroot /run/xcap-vm/busybox sh /run/xcap-vm/init stage2
}

stage2() {
    export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
    io=/run/xcap-vm/io
    bb=/run/xcap-vm/busybox
    # The boot is over: run.sh measures the boot time from this mark (and,
    # with KVM, whether the guest came up at all).
    $bb cut -d' ' -f1 /proc/uptime >$io/booted.tmp
    $bb mv $io/booted.tmp $io/booted
    /bin/bash $io/cmd.sh </dev/null >>$io/stdout 2>>$io/stderr
    status=$?
    echo "$status" >$io/status.tmp
    $bb mv $io/status.tmp $io/status
    $bb sync
    $bb poweroff -f
    while :; do $bb sleep 3600; done
}

case "${1:-}" in
    stage2) stage2 ;;
    *) stage1 ;;
esac
