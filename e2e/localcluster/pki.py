"""Certificates for the local control plane: one CA, a serving cert, client certs per component.

EC P-256 keys through the openssl CLI: fast to make, so they are made fresh at every start and never
outlive the cluster.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

SERVING_SANS = (
    "IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,"
    "DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
)

# The extensions of every client certificate (components here, and those real nodes add later).
CLIENT_EXTENSIONS = "extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature\n"

# (file stem, CN, O): the identities RBAC sees.
CLIENTS = (
    ("admin", "lepton-admin", "system:masters"),
    ("controller-manager", "system:kube-controller-manager", ""),
    ("scheduler", "system:kube-scheduler", ""),
    ("kwok", "kwok-controller", "system:masters"),
    ("apiserver-kubelet-client", "kube-apiserver-kubelet-client", "system:masters"),
)


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def _key(path: Path) -> None:
    _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(path))
    path.chmod(0o600)


def _sign(pki: Path, stem: str, subject: str, extensions: str) -> None:
    key, csr, crt, ext = (pki / f"{stem}.{s}" for s in ("key", "csr", "crt", "ext"))
    _key(key)
    _openssl("req", "-new", "-key", str(key), "-subj", subject, "-out", str(csr))
    ext.write_text(extensions)
    _openssl(
        "x509",
        "-req",
        "-in",
        str(csr),
        "-CA",
        str(pki / "ca.crt"),
        "-CAkey",
        str(pki / "ca.key"),
        "-CAcreateserial",
        "-days",
        "30",
        "-sha256",
        "-extfile",
        str(ext),
        "-out",
        str(crt),
    )
    csr.unlink()
    ext.unlink()


def make_pki(pki: Path, extra_ips: tuple[str, ...] = ()) -> None:
    """``extra_ips``: further addresses the API server is reached at (the real nodes' bridge)."""
    pki.mkdir(parents=True, exist_ok=True)
    _key(pki / "ca.key")
    _openssl(
        "req",
        "-x509",
        "-new",
        "-key",
        str(pki / "ca.key"),
        "-subj",
        "/CN=lepton-local-ca",
        "-days",
        "30",
        "-sha256",
        "-out",
        str(pki / "ca.crt"),
    )
    sans = "".join(f"IP:{ip}," for ip in extra_ips) + SERVING_SANS
    _sign(
        pki,
        "apiserver",
        "/CN=kube-apiserver",
        f"subjectAltName={sans}\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature\n",
    )
    for stem, cn, org in CLIENTS:
        subject = f"/CN={cn}" + (f"/O={org}" if org else "")
        _sign(pki, stem, subject, CLIENT_EXTENSIONS)
    _key(pki / "sa.key")
    _openssl("ec", "-in", str(pki / "sa.key"), "-pubout", "-out", str(pki / "sa.pub"))


def kubeconfig(server: str, pki: Path, stem: str) -> str:
    """A kubeconfig in JSON (valid YAML) for the client cert ``stem``."""
    import json

    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "lepton-local",
                    "cluster": {"server": server, "certificate-authority": str(pki / "ca.crt")},
                }
            ],
            "users": [
                {
                    "name": stem,
                    "user": {
                        "client-certificate": str(pki / f"{stem}.crt"),
                        "client-key": str(pki / f"{stem}.key"),
                    },
                }
            ],
            "contexts": [{"name": "lepton-local", "context": {"cluster": "lepton-local", "user": stem}}],
            "current-context": "lepton-local",
        },
        indent=2,
    )
