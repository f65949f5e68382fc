"""Real servers for tests, on 127.0.0.1 only: Debian's docker-registry (distribution), open or
with htpasswd auth or token auth (`auth: token:`, with the JWT issuer below), or redirecting blob
downloads to a separate storage host (as the public registries send them to a CDN), and that
storage host."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_registry(
    root: Path,
    auth: bool,
    redirect_to: str | None = None,
    *,
    tls: tuple[Path, Path] | None = None,
    mirror_of: str | None = None,
    issuer: TokenIssuer | None = None,
):
    from conftest import IN_CI  # conftest imports this module

    binary = shutil.which("docker-registry")
    if binary is None:
        if IN_CI:
            pytest.fail("CI needs docker-registry (.ci/run installs it)")
        pytest.skip("docker-registry is not installed")
    port = free_port()
    config = {
        "version": 0.1,
        # (deletes allowed: the layer cache tests remove a blob a cache names)
        "storage": {
            "filesystem": {"rootdirectory": str(root / "data")},
            "delete": {"enabled": True},
        },
        "http": {"addr": f"127.0.0.1:{port}"},
        "log": {"level": "error"},
    }
    if mirror_of is not None:  # a pull-through cache of the registry at that URL
        config["proxy"] = {"remoteurl": mirror_of}
    if tls is not None:  # (certificate, key): HTTPS only
        config["http"]["tls"] = {"certificate": str(tls[0]), "key": str(tls[1])}
    if redirect_to is not None:  # blob GETs answered with a redirect to redirect_to + path
        config["middleware"] = {
            "storage": [{"name": "redirect", "options": {"baseurl": redirect_to}}]
        }
    if auth:
        hashed = subprocess.run(
            ["htpasswd", "-Bbn", "alice", "s3cret"], capture_output=True, text=True, check=True
        ).stdout
        (root / "htpasswd").write_text(hashed)
        config["auth"] = {"htpasswd": {"realm": "pybuild-test", "path": str(root / "htpasswd")}}
    if issuer is not None:
        config["auth"] = {
            "token": {
                "realm": issuer.realm,
                "service": TokenIssuer.SERVICE,
                "issuer": TokenIssuer.ISSUER,
                "rootcertbundle": str(issuer.certificate),
            }
        }
    (root / "config.yml").write_text(json.dumps(config))  # YAML accepts JSON
    process = subprocess.Popen(
        [binary, "serve", str(root / "config.yml")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1)
            break
        except urllib.error.HTTPError:
            break  # 401 from the auth registry: it is up
        except OSError:
            time.sleep(0.05)
    return process, f"127.0.0.1:{port}"


class StorageHost:
    """A static file server for a registry's storage directory, standing in for the storage or
    CDN host public registries redirect blob downloads to. It records every request, and
    whether it carried an Authorization header (which must never reach it)."""

    def __init__(self, root: Path):
        import http.server
        import threading

        self.requests: list[tuple[str, bool]] = []  # (path, had Authorization)
        host = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(root), **kwargs)

            def log_message(self, *args):
                pass

            def do_GET(self):
                host.requests.append((self.path, "Authorization" in self.headers))
                super().do_GET()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


TLS_NAME = "pbreg.test"  # .ci/run maps it to 127.0.0.1: a registry name that is not loopback


def make_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A CA of the test's own and a server certificate it signed for TLS_NAME: (ca, cert, key)."""
    directory.mkdir(parents=True, exist_ok=True)

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=directory)

    openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=pybuild test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    )
    openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        f"/CN={TLS_NAME}",
    )
    (directory / "extensions").write_text(f"subjectAltName=DNS:{TLS_NAME}\n")
    openssl(
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "2",
        "-extfile",
        "extensions",
    )
    return directory / "ca.crt", directory / "server.crt", directory / "server.key"


class TokenIssuer:
    """A token service as Docker Hub's works, for distribution's `auth: token:`: JWTs (ES256,
    the signing certificate in `x5c`) for the scopes asked. GET with Basic alice:s3cret, or
    POST grant_type=refresh_token with an identity token it issued, grants everything asked;
    anonymous GETs get pull on `public/` repositories only. Every request is kept in `seen` as
    (method, grant, scope); tokens live `lifetime` seconds."""

    SERVICE = "pbtest-registry"
    ISSUER = "pbtest-issuer"
    IDENTITY = "identity-t0ken"  # what `docker login` keeps as identitytoken

    def __init__(self, root: Path, lifetime: int = 300):
        import base64
        import datetime
        import http.server
        import threading
        import urllib.parse

        import jwt
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pbtest token signer")])
        now = datetime.datetime.now(datetime.timezone.utc)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        self.certificate = root / "token-signer.pem"
        self.certificate.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        chain = [base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode()]
        self.seen: list[tuple[str, str, str]] = []
        self.lifetime = lifetime
        issuer = self

        def token(scopes: list[str], anonymous: bool) -> dict:
            access = []
            for scope in scopes:
                kind, _, rest = scope.partition(":")
                repository, _, actions = rest.rpartition(":")
                granted = actions.split(",")
                if anonymous:
                    granted = ["pull"] if repository.startswith("public/") else []
                access.append({"type": kind, "name": repository, "actions": granted})
            issued = int(time.time())
            claims = {
                "iss": TokenIssuer.ISSUER,
                "sub": "" if anonymous else "alice",
                "aud": TokenIssuer.SERVICE,
                "iat": issued,
                "nbf": issued - 10,
                "exp": issued + issuer.lifetime,
                "jti": f"{issued}-{len(issuer.seen)}",
                "access": access,
            }
            signed = jwt.encode(claims, key, algorithm="ES256", headers={"x5c": chain})
            return {"token": signed, "expires_in": issuer.lifetime, "issued_at": ""}

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                scopes = " ".join(query.get("scope", [])).split()
                issuer.seen.append(("GET", "basic", " ".join(scopes)))
                login = self.headers.get("Authorization", "")
                if not login:
                    return self._answer(200, token(scopes, anonymous=True))
                expected = "Basic " + base64.b64encode(b"alice:s3cret").decode()
                if login != expected:
                    return self._answer(401, {"details": "incorrect username or password"})
                self._answer(200, token(scopes, anonymous=False))

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                form = urllib.parse.parse_qs(self.rfile.read(length).decode())
                scopes = " ".join(form.get("scope", [])).split()
                grant = form.get("grant_type", [""])[0]
                issuer.seen.append(("POST", grant, " ".join(scopes)))
                if grant != "refresh_token" or form.get("refresh_token") != [issuer.IDENTITY]:
                    return self._answer(400, {"error": "invalid_grant"})
                self._answer(200, token(scopes, anonymous=False))

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.realm = f"http://127.0.0.1:{self.server.server_address[1]}/token"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
