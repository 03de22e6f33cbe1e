"""Stand-in for the get-pip bootstrap script that ansible-test downloads from a host we cannot reach.

ansible-test runs it (through its quiet_pip shim, with PIP_CONFIG_FILE=/dev/null and a filtered
environment) inside each fresh sanity virtual environment, with pip's options and the packages to
install as arguments. We install the interpreter's bundled pip with ensurepip and let it fetch the
requested versions. Where this machine's pip needs a CA bundle (a TLS-intercepting package
proxy), `make sanity` writes its path below and we hand it on to every pip run in that venv.
"""
import ensurepip
import os
import subprocess
import sys
import sysconfig

PIP_CERT = "@PIP_CERT@"

if PIP_CERT and not PIP_CERT.startswith("@"):
    os.environ["PIP_CERT"] = PIP_CERT
    hook = os.path.join(sysconfig.get_paths()["purelib"], "emailsec_hes_pip_cert.pth")
    with open(hook, "w") as handle:
        handle.write("import os; os.environ.setdefault('PIP_CERT', %r)\n" % PIP_CERT)
ensurepip.bootstrap(upgrade=True)
arguments = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "pip", "install", "-q"] + arguments)
