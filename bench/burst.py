"""A burst: N SMS arrive together (the network delivers them as fast as the simulated modem stores them,
each with its ``+CMTI``), and the time from the first one until every webhook is verified.

The daemon (``raspisms-daemon run``) and the simulator (``simulate serve --capacity``, its SIM large
enough for the burst) each run in their own process, the verifying receiver in this one. Target: ≥ 100
SMS/s for 200 SMS with every fsync 50 ms slower (the ``sd`` profile, :mod:`bench.profile`): what group
commit is for.

    python -m bench.burst [--sms 200] [--profile normal|sd]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from bench.bench_inbound import daemon_process
from bench.gammu_smsd import timed_burst
from bench.profile import AS_IS, Applied, profile_named

__all__ = ["TARGET_PER_S", "burst"]

TARGET_PER_S = 100.0


async def burst(n: int, *, applied: Applied = AS_IS, within: float = 600.0) -> dict[str, Any]:
    """``{"sms", "seconds", "per_s", "inject_s", "rejected"}``: seconds from the first injection until
    the last webhook was verified; ``inject_s``: how long the injections themselves took."""
    return await timed_burst(
        n,
        lambda workdir, sim, url: daemon_process(workdir, sim.link, url, applied=applied),
        within=within,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sms", type=int, default=200)
    parser.add_argument("--profile", choices=["normal", "sd"], default="normal", help="see bench.profile")
    args = parser.parse_args(argv)
    applied = Applied(profile_named(args.profile))
    print(json.dumps(asyncio.run(burst(args.sms, applied=applied))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
