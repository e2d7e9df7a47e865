#!/usr/bin/env python3
"""Compare a probe's JSON Lines measurements with vigil-fakenet's expected verdicts (--expect).

usage: compare-verdicts.py EXPECT.jsonl MEASUREMENTS.jsonl [--platforms] [--qemu-mips-so-error]
Every expected endpoint must be measured with the expected blocking, accessible and mechanism;
with --platforms every expected platform summary too. Prints the differences; exit 1 if any.

--qemu-mips-so-error: qemu-user 7.2 (Debian 12) hands MIPS guests getsockopt(SO_ERROR) in the
host's numbering (ECONNREFUSED 111 instead of MIPS's 146), so a refused connection reads as an
unknown OS error and the probe says tcp_ip_blackhole. On a real MIPS kernel the number is right.
With this flag exactly that case (expected tcp_ip_refused, probe tcp_ip_blackhole with
"os error 111" in its reasons) is listed as an emulation artifact instead of a failure.
"""
import json
import sys


def main():
    expect_path, got_path = sys.argv[1], sys.argv[2]
    platforms = "--platforms" in sys.argv[3:]
    so_error_bug = "--qemu-mips-so-error" in sys.argv[3:]
    artifacts = 0
    endpoints, summaries = {}, {}
    with open(expect_path) as f:
        for line in f:
            e = json.loads(line)
            if "endpoint" in e:
                endpoints[e["endpoint"]] = (e["blocking"], e["accessible"], e["mechanism"])
            else:
                summaries[e["platform"]] = (e["status"], e["mechanism"])
    got_endpoints, got_platforms = {}, {}
    with open(got_path) as f:
        for n, line in enumerate(f, 1):
            try:
                m = json.loads(line)
            except ValueError as err:
                print(f"{got_path}:{n}: not JSON ({err}): {line[:80]!r}")
                return 1
            k = m.get("test_keys", {})
            if "platform" in k and "status" in k:
                got_platforms[k["platform"]] = (k["status"], k.get("mechanism"))
            else:
                got_endpoints[m["input"]] = (k.get("blocking"), k.get("accessible"), k.get("mechanism"), k.get("x_reasons"))
    bad = 0
    for inp, want in sorted(endpoints.items()):
        got = got_endpoints.get(inp)
        if got is None:
            print(f"endpoint {inp}: not measured")
            bad += 1
        elif (
            so_error_bug
            and want[2] == "tcp_ip_refused"
            and got[:3] == (want[0], want[1], "tcp_ip_blackhole")
            and "os error 111" in json.dumps(got[3])
        ):
            print(f"endpoint {inp}: refused, read as blackhole: qemu's untranslated SO_ERROR (emulation artifact)")
            artifacts += 1
        elif got[:3] != want:
            print(f"endpoint {inp}: expected {list(want)}, probe {list(got[:3])}: {got[3]}")
            bad += 1
    if platforms:
        for pid, want in sorted(summaries.items()):
            got = got_platforms.get(pid)
            if got != want and artifacts and got and want[1] == "tcp_ip_refused" and got[1] == "tcp_ip_blackhole":
                print(f"platform {pid}: {list(want)} read as {list(got)} through the same emulation artifact")
            elif got != want:
                print(f"platform {pid}: expected {list(want)}, probe {got}")
                bad += 1
    blocked = sum(1 for v in endpoints.values() if v[0] not in (False, None))
    what = f"{len(endpoints)} endpoints ({blocked} blocked)" + (f", {len(summaries)} platforms" if platforms else "")
    if bad:
        print(f"verdicts: {bad} differ of {what}")
        return 1
    note = f" ({artifacts} refused connections read through qemu's SO_ERROR artifact)" if artifacts else ""
    print(f"verdicts: all {what} as expected{note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
