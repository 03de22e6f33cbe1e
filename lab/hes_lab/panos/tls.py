"""The lab's certificate authority and the emulator's server certificate.

Every `hes-lab panos` serves a certificate issued by one lab CA, so that clients can verify it
the way they should verify a real firewall: give them the CA file (`ca_path` of the collection's
provider) or pin the certificate. The CA lives in a directory shared by every emulator of the
user (`HES_LAB_CA_DIR`, default `~/.local/share/hes-lab/ca`, the way mkcert keeps its CAROOT) and
is created once, atomically, by whichever emulator starts first. Its name constraints limit it to
loopback names, so even a CA file that ended up in a trust store could vouch for nothing else.
"""
import datetime
import hashlib
import ipaddress
import os
import shutil
import ssl
import tempfile

CA_CERT = "ca.pem"
CA_KEY = "ca-key.pem"
LOOPBACK_NAMES = ("localhost",)
LOOPBACK_ADDRESSES = ("127.0.0.1", "::1")
LOOPBACK_NETWORKS = ("127.0.0.0/8", "::1/128")


def default_ca_dir():
    explicit = os.environ.get("HES_LAB_CA_DIR")
    if explicit:
        return explicit
    data_home = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(data_home, "hes-lab", "ca")


def ca_file(ca_dir=None):
    """Path of the lab CA certificate (PEM): what a client's `ca_path` points at."""
    return os.path.abspath(os.path.join(ca_dir or default_ca_dir(), CA_CERT))


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def _write(path, data, mode):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _new_ca(directory):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "emailsec.hes lab"),
        x509.NameAttribute(NameOID.COMMON_NAME, "emailsec.hes lab CA"),
    ])
    permitted = [x509.DNSName(n) for n in LOOPBACK_NAMES]
    permitted += [x509.IPAddress(ipaddress.ip_network(n)) for n in LOOPBACK_NETWORKS]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now() - datetime.timedelta(minutes=5))
        .not_valid_after(_now() + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.NameConstraints(permitted_subtrees=permitted, excluded_subtrees=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write(os.path.join(directory, CA_KEY),
           key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()), 0o600)
    _write(os.path.join(directory, CA_CERT), cert.public_bytes(serialization.Encoding.PEM), 0o644)


def ensure_ca(ca_dir=None):
    """The lab CA directory, created (atomically, 0700) when it does not exist yet."""
    ca_dir = os.path.abspath(ca_dir or default_ca_dir())
    if os.path.exists(os.path.join(ca_dir, CA_CERT)):
        return ca_dir
    parent = os.path.dirname(ca_dir)
    os.makedirs(parent, mode=0o700, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".ca-", dir=parent)
    try:
        _new_ca(staging)
        try:
            os.rename(staging, ca_dir)
        except OSError:
            # Another emulator created it first (or an empty directory is in the way).
            if not os.path.exists(os.path.join(ca_dir, CA_CERT)):
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return ca_dir


def issue_server_certificate(ca_dir, directory):
    """A fresh server certificate for localhost/127.0.0.1/::1 signed by the lab CA, written as
    cert.pem (leaf then CA) and key.pem into DIRECTORY; returns their paths."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    with open(os.path.join(ca_dir, CA_CERT), "rb") as handle:
        ca_pem = handle.read()
    with open(os.path.join(ca_dir, CA_KEY), "rb") as handle:
        ca_key = serialization.load_pem_private_key(handle.read(), password=None)
    ca_cert = x509.load_pem_x509_certificate(ca_pem)
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.DNSName(n) for n in LOOPBACK_NAMES]
    names += [x509.IPAddress(ipaddress.ip_address(a)) for a in LOOPBACK_ADDRESSES]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now() - datetime.timedelta(minutes=5))
        .not_valid_after(_now() + datetime.timedelta(days=90))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    cert_path, key_path = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    _write(cert_path, cert.public_bytes(serialization.Encoding.PEM) + ca_pem, 0o644)
    _write(key_path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()), 0o600)
    return cert_path, key_path


def server_context(ca_dir=None):
    """An SSLContext serving a new certificate from the lab CA (created if needed); returns
    (context, SHA-256 fingerprint of the served certificate as colon-separated hex)."""
    ca_dir = ensure_ca(ca_dir)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory(prefix="hes-lab-tls-") as directory:
        cert_path, key_path = issue_server_certificate(ca_dir, directory)
        context.load_cert_chain(cert_path, key_path)
        with open(cert_path, encoding="ascii") as handle:
            leaf_pem = handle.read().split("-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----\n"
    return context, fingerprint(ssl.PEM_cert_to_DER_cert(leaf_pem))


def fingerprint(der):
    """SHA-256 of a DER certificate the way `openssl x509 -fingerprint -sha256` prints it."""
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def client_context(ca_dir=None):
    """An SSLContext for the lab's own clients that trusts the lab CA only."""
    return ssl.create_default_context(cafile=ca_file(ca_dir))
