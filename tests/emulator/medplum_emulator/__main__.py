"""Command line: ``python -m medplum_emulator --port N [--host 127.0.0.1] [--faults FILE]``.

Refuses a host that is not loopback (the emulator accepts any credentials). ``--port 0`` picks
a free port; the ready line on stderr names it. Fault rules come from ``--faults FILE`` or, if
not given, from ``MEDPLUM_EMULATOR_FAULTS`` (JSON, or ``@path``).
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import socket
import sys

from . import faults


def _is_loopback(host: str) -> bool:
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError:
        return False
    return bool(addresses) and all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="emulator", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True, help="TCP port; 0 picks a free one")
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to listen on")
    parser.add_argument("--faults", metavar="FILE", help="JSON file with the fault rules")
    args = parser.parse_args(argv)
    if not _is_loopback(args.host):
        print(f"emulator: refusing to listen on {args.host}: only loopback addresses are allowed", file=sys.stderr)
        return 2
    setting = f"@{args.faults}" if args.faults else os.environ.get("MEDPLUM_EMULATOR_FAULTS")
    if setting:
        try:
            faults.REGISTRY.replace(faults.load_setting(setting))
        except (OSError, ValueError) as e:
            print(f"emulator: bad fault rules: {e}", file=sys.stderr)
            return 2
    from . import server  # imports moto: only once the arguments are known to be good

    try:
        server.serve(args.host, args.port)
    except OSError as e:  # e.g. a privileged port (werkzeug reports a port in use itself)
        print(f"emulator: cannot listen on {args.host}:{args.port}: {e.strerror or e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
