"""PAN-OS XML API emulator (`hes-lab panos`); see docs/lab-panos.md."""
