"""Cisco ASA CLI emulator: `hes-lab asa` (server.py) over the running-config model (model.py)."""
