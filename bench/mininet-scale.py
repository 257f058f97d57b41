#!/usr/bin/python3
"""mininet-scale.py N: scripts/scale.star in Mininet.

N hosts on one Linux bridge (Mininet's LinuxBridge switch, no controller, no
Open vSwitch), the bridge holding the gateway 10.10.0.1/16, each host with
10.10.x.y/16 and a default route via the gateway, static ARP between the
hosts (Mininet's autoStaticArp). Every host pings the gateway and its next
neighbour (ping -c1 -W1), then the network stops. Prints "P passed, F failed"
like nsscript.

It re-executes itself in a private network and mount namespace (unshare), so
Mininet's bridge, veths and host namespaces never touch the real host, and it
never runs Mininet's cleanup (mn -c) or fixLimits, which change host settings.
Needs root, mininet, bridge-utils, net-tools and iputils-ping.
"""
import os
import sys

if not os.environ.get("NSBENCH_PRIVATE"):
    os.environ["NSBENCH_PRIVATE"] = "1"
    os.execvp("unshare", ["unshare", "--net", "--mount", "--propagation", "private",
                          sys.executable] + sys.argv)

from mininet.log import setLogLevel  # noqa: E402
from mininet.net import Mininet  # noqa: E402
from mininet.nodelib import LinuxBridge  # noqa: E402


def addr(i):
    a = i + 2
    return "10.10.%d.%d" % (a // 256, a % 256)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    setLogLevel("error")
    net = Mininet(controller=None, switch=LinuxBridge, autoStaticArp=True, build=False)
    s1 = net.addSwitch("s1")
    hosts = []
    for i in range(n):
        h = net.addHost("h%d" % i, ip=addr(i) + "/16", defaultRoute="via 10.10.0.1")
        net.addLink(h, s1)
        hosts.append(h)
    net.build()
    net.start()
    s1.cmd("ip addr add 10.10.0.1/16 dev s1")
    passed = failed = 0
    for i, h in enumerate(hosts):
        for dst in ("10.10.0.1", addr((i + 1) % n)):
            out = h.cmd("ping -c1 -W1 %s > /dev/null && echo ok || echo FAIL" % dst)
            if out.strip().endswith("ok"):
                passed += 1
            else:
                failed += 1
    net.stop()
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
