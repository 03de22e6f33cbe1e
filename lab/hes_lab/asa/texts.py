"""Fixed-format outputs whose values come from the device (show version, show interface)."""
import re
import time


def _header_value(device, label):
    for line in device.header:
        if line.startswith(f": {label}:"):
            return line.split(":", 2)[2].strip()
    return None


def show_version(device):
    version = device.version
    compact = re.sub(r"[^\d]", "", version)
    asdm = "7.%s(1)" % device.version_tuple()[1]
    hardware = _header_value(device, "Hardware") or "ASAv, 2048 MB RAM, CPU Xeon 4100/6100/8100 series 2200 MHz"
    serial = _header_value(device, "Serial Number") or "9A5KDJ4T1Q7"
    up = int(time.time() - device.booted)
    days, hours, mins = up // 86400, up % 86400 // 3600, up % 3600 // 60
    uptime = f"{days} days {hours} hours" if days else f"{hours} hours {mins} mins"
    model = "ASAv10" if hardware.startswith("ASAv") else hardware.split(",")[0]
    return "\n".join([
        "",
        f"Cisco Adaptive Security Appliance Software Version {version}",
        "SSP Operating System Version 2.10(1.162)" if not hardware.startswith("ASAv") else
        f"Device Manager Version {asdm}",
        "",
        "Compiled on Wed 09-Mar-22 11:19 GMT by builders",
        f'System image file is "boot:/asa{compact}-smp-k8.bin"',
        'Config file at boot was "startup-config"',
        "",
        f"{device.hostname} up {uptime}",
        "",
        f"Hardware:   {hardware},",
        f"Model Id:   {model}",
        "Internal ATA Compact Flash, 8192MB",
        "Slot 1: ATA Compact Flash, 8192MB",
        "BIOS Flash Firmware Hub @ 0x0, 0KB",
        "",
    ] + [f" {i}: Ext: {name:<22}: address is {mac_address(device, name)}, irq 11"
         for i, name in enumerate(_physical(device))] + [
        "",
        "License mode: Smart Licensing",
        "ASAv Platform License State: Licensed",
        "",
        f"Serial Number: {serial}",
        "",
        "Image type          : Release",
        "Key version         : A",
        "",
        f"Configuration last modified by enable_15 at {device.last_modified}"
        if device.last_modified else "Configuration has not been modified since last system restart.",
    ])


def mac_address(device, hardware):
    """The interface's burnt-in MAC, the one `show version` lists for it."""
    physical = _physical(device)
    parent = hardware.split(".")[0]
    i = physical.index(parent) if parent in physical else len(physical)
    return f"5254.00{i:02x}.{i:04x}"


def _physical(device):
    return [name for name in device.interfaces_ if "." not in name]


def _mtu(device, nameif):
    for line in device.raw_lines(f"mtu {nameif} "):
        return line.split()[2]
    return "1500"


def _status(info):
    return ("administratively down", "down") if info["shutdown"] else ("up", "up")


def show_interface(device, names, summary=False):
    """`show interface` in the layout of ASA 9.x captures (counters are all zero)."""
    out = []
    pad = " " * 8
    for hardware in names:
        ifc = device.interfaces_[hardware]
        info = ifc.info()
        nameif = info["nameif"] or ""
        link, protocol = _status(info)
        out.append(f'Interface {hardware} "{nameif}", is {link}, line protocol is {protocol}')
        vlan = ifc.value("vlan")
        if not summary:
            out.append("  Hardware is i82540EM rev03, BW 1000 Mbps, DLY 10 usec")
            if vlan:
                out.append(f"{pad}VLAN identifier {vlan}")
            else:
                out += [f"{pad}Auto-Duplex(Full-duplex), Auto-Speed(1000 Mbps)",
                        f"{pad}Input flow control is unsupported, output flow control is off"]
            if ifc.value("description"):
                out.append(f"{pad}Description: {ifc.value('description')}")
        if not nameif:
            out += [f"{pad}Available but not configured via nameif",
                    f"{pad}MAC address {mac_address(device, hardware)}, MTU not set",
                    f"{pad}IP address unassigned"]
        else:
            out.append(f"{pad}MAC address {mac_address(device, hardware)}, MTU {_mtu(device, nameif)}")
            out.append(f"{pad}IP address {info['ip']}, subnet mask {info['mask']}" if info["ip"]
                       else f"{pad}IP address unassigned")
        if summary:
            continue
        if not vlan:
            out += [f"{pad}0 packets input, 0 bytes, 0 no buffer",
                    f"{pad}Received 0 broadcasts, 0 runts, 0 giants",
                    f"{pad}0 input errors, 0 CRC, 0 frame, 0 overrun, 0 ignored, 0 abort",
                    f"{pad}0 pause input, 0 resume input",
                    f"{pad}0 L2 decode drops",
                    f"{pad}0 packets output, 0 bytes, 0 underruns",
                    f"{pad}0 pause output, 0 resume output",
                    f"{pad}0 output errors, 0 collisions, 0 interface resets",
                    f"{pad}0 late collisions, 0 deferred",
                    f"{pad}0 input reset drops, 0 output reset drops",
                    f"{pad}input queue (blocks free curr/low): hardware (511/511)",
                    f"{pad}output queue (blocks free curr/low): hardware (511/511)"]
        if nameif:
            out += [f'  Traffic Statistics for "{nameif}":',
                    f"{pad}0 packets input, 0 bytes",
                    f"{pad}0 packets output, 0 bytes",
                    f"{pad}0 packets dropped",
                    "      1 minute input rate 0 pkts/sec,  0 bytes/sec",
                    "      1 minute output rate 0 pkts/sec,  0 bytes/sec",
                    "      1 minute drop rate, 0 pkts/sec",
                    "      5 minute input rate 0 pkts/sec,  0 bytes/sec",
                    "      5 minute output rate 0 pkts/sec,  0 bytes/sec",
                    "      5 minute drop rate, 0 pkts/sec"]
            if "management-only" in ifc.children:
                out.append(f"{pad}Management-only interface. Blocked 0 through-the-device packets")
    return "\n".join(out)


def show_interface_ip_brief(device):
    out = ["Interface                  IP-Address      OK? Method Status                Protocol"]
    for hardware, ifc in device.interfaces_.items():
        info = ifc.info()
        link, protocol = _status(info)
        method = "CONFIG" if info["ip"] else "unset"
        out.append(f"{hardware:<27}{info['ip'] or 'unassigned':<16}YES {method:<7}"
                   f"{link:<22}{protocol}")
    return "\n".join(out)
