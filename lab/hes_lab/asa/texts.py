"""Fixed-format outputs whose values come from the device (show version)."""
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
    ] + [f" {i}: Ext: {name:<22}: address is 5254.00{i:02x}.{i:04x}, irq 11"
         for i, name in enumerate(device.interfaces_)] + [
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
