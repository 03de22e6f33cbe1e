"""`hes-lab` command: dispatches to the emulators and lab controllers.

Each subcommand lives in its own module and is imported only when used, so that
`hes-lab asa` does not pay for the PAN-OS emulator's imports and vice versa.
"""
import importlib
import sys

SUBCOMMANDS = {
    "asa": ("hes_lab.asa.server", "Cisco ASA CLI emulator over SSH"),
    "panos": ("hes_lab.panos.server", "PAN-OS XML API emulator over HTTPS"),
    "pfsense": ("hes_lab.pfsense", "lay out an emulated pfSense box: hes-lab pfsense --config FILE --dir DIR"),
    "netns": ("hes_lab.netns", "network-namespace lab: hes-lab netns up|down|status"),
    "up": ("hes_lab.fleet", "boot the demo lab (emulated ASAs and PAN-OS firewalls)"),
    "down": ("hes_lab.fleet", "stop the demo lab"),
}


def usage():
    lines = ["usage: hes-lab <command> [options]", "", "commands:"]
    lines += [f"  {name:<7} {text}" for name, (_, text) in SUBCOMMANDS.items()]
    return "\n".join(lines)


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in SUBCOMMANDS:
        print(f"hes-lab: unknown command {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(SUBCOMMANDS[name][0])
    if name in ("up", "down"):
        return module.main([name] + rest)
    return module.main(rest)


if __name__ == "__main__":
    sys.exit(main())
