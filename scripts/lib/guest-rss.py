#!/usr/bin/env python3
"""Run a command under qemu-user and measure the emulated program's peak memory.

usage: guest-rss.py GUEST_BINARY -- QEMU_COMMAND...
Prints `peak_guest_rss_kib=N peak_process_rss_kib=M samples=S` on stderr and exits with the
command's code. The qemu process's own RSS (M, from wait4) includes qemu's translator and
translated-code cache; N is the guest's alone: qemu gives a 32-bit guest (and a 64-bit one run
with -R) one contiguous reserved address range, so the guest's pages are the resident pages of the
contiguous run of mappings that holds the guest binary. Sampled every 10 ms from /proc/PID/smaps.
"""
import os
import subprocess
import sys
import time


def mappings(pid):
    """[(start, end, path, rss_kib)] from /proc/PID/smaps."""
    out, cur = [], None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            head = line.split(None, 5)
            if "-" in head[0] and len(head) >= 5 and ":" in head[3]:
                start, end = (int(x, 16) for x in head[0].split("-"))
                cur = [start, end, head[5].strip() if len(head) > 5 else "", 0]
                out.append(cur)
            elif head[0] == "Rss:" and cur is not None:
                cur[3] = int(head[1])
    return out


def guest_rss(pid, binary):
    maps = mappings(pid)
    idx = next((i for i, m in enumerate(maps) if m[2] == binary), None)
    if idx is None:
        return None
    lo = hi = idx
    while lo > 0 and maps[lo - 1][1] == maps[lo][0]:
        lo -= 1
    while hi + 1 < len(maps) and maps[hi][1] == maps[hi + 1][0]:
        hi += 1
    return sum(m[3] for m in maps[lo : hi + 1]), maps[hi][1] - maps[lo][0]


def main():
    sep = sys.argv.index("--")
    binary = os.path.realpath(sys.argv[1])
    cmd = sys.argv[sep + 1 :]
    child = subprocess.Popen(cmd)
    peak, span, samples = 0, 0, 0
    while True:
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            break
        try:
            got = guest_rss(child.pid, binary)
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            got = None
        if got:
            samples += 1
            if got[0] > peak:
                peak, span = got
        time.sleep(0.01)
    code = os.waitstatus_to_exitcode(status)
    print(
        f"peak_guest_rss_kib={peak} peak_process_rss_kib={usage.ru_maxrss} samples={samples} "
        f"guest_span_mib={span >> 20}",
        file=sys.stderr,
    )
    sys.exit(code if code >= 0 else 128 - code)


if __name__ == "__main__":
    main()
