"""Attestation manifests pushed to registries: to distribution (no referrers API) as an index
beside the image plus the `sha256-HEX` referrers tag of OCI distribution 1.1, updated without
duplicates; to a registry that answers `OCI-Subject` (a stub here) without that tag."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
import threading
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import require_tool
from pybuild import api
from pybuild.attest.options import parse_attest
from pybuild.cli import main as cli
from pybuild.oci.attestation import (
    ATTESTATION_ARTIFACT,
    ATTESTATION_MANIFEST,
    REFERENCE_DIGEST,
    REFERENCE_TYPE,
)
from pybuild.oci.model import MEDIA_OCI_INDEX, MEDIA_OCI_MANIFEST
from pybuild.outputs.spec import parse_output

ACCEPT = ", ".join(
    [
        MEDIA_OCI_INDEX,
        MEDIA_OCI_MANIFEST,
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)
SPDX = "https://spdx.dev/Document"
SLSA = "https://slsa.dev/provenance/v1"
# Only 127.0.0.1 is ever asked: no proxy from the environment stands in between.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def make_context(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "hello.txt").write_text("hello, attested world\n")
    (root / "Dockerfile").write_text(
        'FROM scratch\nCOPY hello.txt /hello.txt\nLABEL org.example.kind="referrers test"\n'
        'CMD ["/hello"]\n'
    )
    return root


def pybuild(*args: str) -> str:
    """The CLI in this process; its stderr (progress and the `pushed` line)."""
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stderr


def pushed_digest(stderr: str) -> str:
    return [line for line in stderr.splitlines() if line.startswith("pushed ")][-1].rsplit("@", 1)[
        1
    ]


def get(address: str, path: str, accept: str = ACCEPT) -> tuple[str, bytes]:
    """(Content-Type, body) of a GET on the registry; HTTPError for a 4xx."""
    request = urllib.request.Request(f"http://{address}{path}", headers={"Accept": accept})
    with OPENER.open(request, timeout=10) as response:
        return response.headers["Content-Type"], response.read()


def manifest(address: str, repository: str, reference: str) -> tuple[str, dict]:
    """A manifest or index by tag or digest, checked against the digest when it is one."""
    media_type, body = get(address, f"/v2/{repository}/manifests/{reference}")
    if reference.startswith("sha256:"):
        assert "sha256:" + hashlib.sha256(body).hexdigest() == reference
    return media_type, json.loads(body)


def referrers_tag(digest: str) -> str:
    return "sha256-" + digest.removeprefix("sha256:")


def pybuilds_entry(attestation: dict) -> dict:
    """The referrers list's entry for the attestation manifest of an index entry."""
    descriptor = {key: attestation[key] for key in ("mediaType", "digest", "size")}
    return {**descriptor, "artifactType": ATTESTATION_ARTIFACT}


# --- the real distribution registry, which has no referrers API --------------------------------


@dataclass(frozen=True)
class Pushed:
    address: str
    repository: str
    tag: str
    context: Path
    index_digest: str  # what the push printed
    index: dict
    image: dict  # the linux/amd64 entry of the index
    attestation: dict  # the unknown/unknown entry


@pytest.fixture(scope="module")
def pushed(open_registry, tmp_path_factory) -> Pushed:
    """One image with SPDX and provenance pushed by the CLI, as a user would."""
    context = make_context(tmp_path_factory.mktemp("referrers") / "ctx")
    repository, tag = "attested/app", "1"
    stderr = pybuild(
        "--sbom",
        "--provenance",
        "--platform",
        "linux/amd64",
        "--annotation",
        "org.example.note=referrers",
        "--push",
        "-t",
        f"{open_registry}/{repository}:{tag}",
        str(context),
    )
    media_type, index = manifest(open_registry, repository, tag)
    assert media_type == MEDIA_OCI_INDEX
    images = [e for e in index["manifests"] if e["platform"]["os"] != "unknown"]
    attached = [e for e in index["manifests"] if e["platform"]["os"] == "unknown"]
    assert len(images) == 1 and len(attached) == 1, index
    return Pushed(
        open_registry,
        repository,
        tag,
        context,
        pushed_digest(stderr),
        index,
        images[0],
        attached[0],
    )


def test_the_tag_names_an_index_of_the_image_and_its_attestation_manifest(pushed):
    """The tag is the OCI index the push printed: the image for linux/amd64 and the
    attestation manifest as BuildKit lists it (unknown/unknown, reference annotations)."""
    _, body = get(pushed.address, f"/v2/{pushed.repository}/manifests/{pushed.tag}")
    assert "sha256:" + hashlib.sha256(body).hexdigest() == pushed.index_digest
    assert pushed.index["mediaType"] == MEDIA_OCI_INDEX
    image, attestation = pushed.image, pushed.attestation
    assert image["mediaType"] == MEDIA_OCI_MANIFEST
    assert image["platform"] == {"os": "linux", "architecture": "amd64"}
    assert attestation["mediaType"] == MEDIA_OCI_MANIFEST
    assert attestation["platform"] == {"os": "unknown", "architecture": "unknown"}
    assert attestation["annotations"] == {
        REFERENCE_TYPE: ATTESTATION_MANIFEST,
        REFERENCE_DIGEST: image["digest"],
    }
    _, document = manifest(pushed.address, pushed.repository, image["digest"])
    assert document["annotations"] == {"org.example.note": "referrers"}  # --annotation


def test_the_referrers_tag_lists_the_attestation_manifest(pushed):
    """distribution has no referrers API, so the push tagged `sha256-HEX` (HEX the image
    manifest's) with an OCI index whose one entry is the attestation manifest, typed."""
    tag = referrers_tag(pushed.image["digest"])
    media_type, referrers = manifest(pushed.address, pushed.repository, tag)
    assert media_type == MEDIA_OCI_INDEX
    assert referrers["schemaVersion"] == 2 and referrers["mediaType"] == MEDIA_OCI_INDEX
    assert len(referrers["manifests"]) == 1
    entry = referrers["manifests"][0]
    assert entry["digest"] == pushed.attestation["digest"]
    assert entry["size"] == pushed.attestation["size"]
    assert entry["mediaType"] == MEDIA_OCI_MANIFEST
    assert entry["artifactType"] == ATTESTATION_ARTIFACT
    _, listed = get(pushed.address, f"/v2/{pushed.repository}/tags/list", "application/json")
    assert sorted(json.loads(listed)["tags"]) == sorted([pushed.tag, tag])


def test_the_attestation_manifest_refers_to_the_image_and_holds_its_statements(pushed):
    """By its digest the attestation manifest is an OCI 1.1 artifact whose subject is the
    image manifest; its layers are in-toto statements about that same digest."""
    _, document = manifest(pushed.address, pushed.repository, pushed.attestation["digest"])
    assert document["artifactType"] == ATTESTATION_ARTIFACT
    assert document["subject"] == {
        "mediaType": MEDIA_OCI_MANIFEST,
        "digest": pushed.image["digest"],
        "size": pushed.image["size"],
    }
    assert document["config"]["mediaType"] == "application/vnd.oci.empty.v1+json"
    kinds = []
    for layer in document["layers"]:
        _, body = get(pushed.address, f"/v2/{pushed.repository}/blobs/{layer['digest']}", "*/*")
        assert "sha256:" + hashlib.sha256(body).hexdigest() == layer["digest"]
        statement = json.loads(body)
        subject_digests = {item["digest"]["sha256"] for item in statement["subject"]}
        assert subject_digests == {pushed.image["digest"].removeprefix("sha256:")}
        kinds.append(statement["predicateType"])
    assert sorted(kinds) == sorted([SPDX, SLSA])


def test_pushing_again_keeps_one_entry_and_another_attestation_is_added(pushed):
    """The referrers tag is read, changed and put again: the same build pushed again replaces
    its own entry (no duplicate); another attestation of the same image is added beside it."""
    repository = "attested/again"  # of its own: the other tests see the first push only
    where = f"{pushed.address}/{repository}"
    flags = ("--platform", "linux/amd64", "--push", str(pushed.context))
    first = pybuild("--sbom", "--provenance", "-t", f"{where}:1", *flags)
    again = pybuild("--sbom", "--provenance", "-t", f"{where}:1", *flags)
    assert pushed_digest(again) == pushed_digest(first)  # the same build, byte for byte
    _, index = manifest(pushed.address, repository, pushed_digest(first))
    image, attested = index["manifests"]
    tag = referrers_tag(image["digest"])
    _, referrers = manifest(pushed.address, repository, tag)
    assert referrers["manifests"] == [pybuilds_entry(attested)]

    # The same image with a CycloneDX SBOM alone: another attestation manifest, same subject.
    other = pybuild("--attest", "type=sbom,format=cyclonedx", "-t", f"{where}:cyclonedx", *flags)
    _, index = manifest(pushed.address, repository, pushed_digest(other))
    assert index["manifests"][0] == image
    attestation = index["manifests"][1]
    assert attestation["digest"] != attested["digest"]
    _, referrers = manifest(pushed.address, repository, tag)
    assert referrers["manifests"] == [pybuilds_entry(attested), pybuilds_entry(attestation)]


def test_skopeo_reads_the_index_and_picks_the_image_not_the_attestation(pushed):
    """skopeo (containers/image) sees the attestation manifest in the raw index, and choosing
    linux/amd64 from it lands on the image and its config, never on unknown/unknown."""
    skopeo = require_tool("skopeo")
    where = f"docker://{pushed.address}/{pushed.repository}:{pushed.tag}"

    def inspect(*args: str) -> str:
        return subprocess.run(
            [skopeo, "inspect", "--tls-verify=false", *args, where],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout

    raw = inspect("--raw")
    assert "attestation-manifest" in raw
    assert json.loads(raw) == pushed.index
    chosen = json.loads(inspect("--override-os", "linux", "--override-arch", "amd64"))
    assert chosen["Digest"] == pushed.index_digest  # what the tag names
    assert (chosen["Os"], chosen["Architecture"]) == ("linux", "amd64")
    assert chosen["Labels"] == {"org.example.kind": "referrers test"}  # the image's config


# --- a stub registry: with and without the referrers API -----------------------------------------

NAME = r"(?P<name>[a-z0-9._/-]+?)"
ROUTES = [
    ("GET", re.compile(r"/v2/?")),
    ("HEAD", re.compile(rf"/v2/{NAME}/blobs/(?P<digest>sha256:[0-9a-f]{{64}})")),
    ("POST", re.compile(rf"/v2/{NAME}/blobs/uploads/")),
    ("PATCH", re.compile(rf"/v2/{NAME}/blobs/uploads/(?P<upload>[0-9a-f-]+)")),
    ("PUT", re.compile(rf"/v2/{NAME}/blobs/uploads/(?P<upload>[0-9a-f-]+)")),
    ("PUT", re.compile(rf"/v2/{NAME}/manifests/(?P<reference>[\w.:-]+)")),
    ("GET", re.compile(rf"/v2/{NAME}/manifests/(?P<reference>[\w.:-]+)")),
]


@dataclass
class StubRegistry:
    """Just enough of the distribution API for pybuild's push, on 127.0.0.1: blob uploads
    (HEAD, POST, PATCH, PUT with the digest checked), manifests (PUT, refused while a blob or
    child manifest they name is missing; GET). With `referrers_api` the PUT of a manifest with
    a `subject` is answered with `OCI-Subject`, as registries with the referrers API answer.
    Every request is recorded with its answer: (method, path with query, Content-Type,
    status)."""

    referrers_api: bool
    requests: list[tuple[str, str, str, int]] = field(default_factory=list)
    blobs: dict[str, bytes] = field(default_factory=dict)
    manifests: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # ref -> type, body
    subject_answers: list[str] = field(default_factory=list)  # OCI-Subject values sent
    uploads: dict[str, bytearray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        import http.server

        stub, lock = self, threading.RLock()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as pybuild's pooled client expects

            def log_message(self, *args):
                pass

            def answer(self, status: int, body: bytes = b"", headers: dict | None = None):
                kind = self.headers.get("Content-Type", "")
                with lock:
                    stub.requests.append((self.command, self.path, kind, status))
                self.send_response(status)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def error(self, status: int, code: str) -> None:
                body = json.dumps({"errors": [{"code": code, "message": code}]}).encode()
                self.answer(status, body, {"Content-Type": "application/json"})

            def route(self) -> None:
                path, _, query = self.path.partition("?")
                if "chunked" in self.headers.get("Transfer-Encoding", ""):
                    self.close_connection = True  # what pybuild sends has a Content-Length
                    return self.error(411, "LENGTH_REQUIRED")
                data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                for method, pattern in ROUTES:
                    found = pattern.fullmatch(path)
                    if method == self.command and found:
                        with lock:
                            return self.handle_route(found.groupdict(), query, data)
                self.error(404, "NOT_FOUND")

            def handle_route(self, parts: dict, query: str, data: bytes) -> None:
                name = parts.get("name")
                if name is None:  # GET /v2/: the API is spoken here
                    return self.answer(200, b"{}", {"Content-Type": "application/json"})
                if "digest" in parts:  # HEAD of a blob: its length, no body
                    blob = stub.blobs.get(parts["digest"])
                    if blob is None:
                        return self.error(404, "BLOB_UNKNOWN")
                    return self.answer(200, blob, {"Docker-Content-Digest": parts["digest"]})
                if self.command == "POST":
                    upload = str(uuid.uuid4())
                    stub.uploads[upload] = bytearray()
                    location = f"/v2/{name}/blobs/uploads/{upload}"
                    return self.answer(202, headers={"Location": location, "Range": "0-0"})
                if "upload" in parts:
                    held = stub.uploads.get(parts["upload"])
                    if held is None:
                        return self.error(404, "BLOB_UPLOAD_UNKNOWN")
                    held += data
                    if self.command == "PATCH":
                        location = f"/v2/{name}/blobs/uploads/{parts['upload']}"
                        return self.answer(
                            202, headers={"Location": location, "Range": f"0-{len(held) - 1}"}
                        )
                    digest = urllib.parse.parse_qs(query).get("digest", [""])[0]
                    if "sha256:" + hashlib.sha256(held).hexdigest() != digest:
                        return self.error(400, "DIGEST_INVALID")
                    stub.blobs[digest] = bytes(held)
                    del stub.uploads[parts["upload"]]
                    return self.answer(
                        201,
                        headers={
                            "Location": f"/v2/{name}/blobs/{digest}",
                            "Docker-Content-Digest": digest,
                        },
                    )
                reference = parts["reference"]
                if self.command == "GET":
                    if reference not in stub.manifests:
                        return self.error(404, "MANIFEST_UNKNOWN")
                    media_type, body = stub.manifests[reference]
                    digest = "sha256:" + hashlib.sha256(body).hexdigest()
                    headers = {"Content-Type": media_type, "Docker-Content-Digest": digest}
                    return self.answer(200, body, headers)
                document = json.loads(data)
                digest = "sha256:" + hashlib.sha256(data).hexdigest()
                if reference.startswith("sha256:") and reference != digest:
                    return self.error(400, "DIGEST_INVALID")
                children = document.get("manifests", [])
                blobs = [document["config"], *document["layers"]] if not children else []
                if any(item["digest"] not in stub.blobs for item in blobs):
                    return self.error(400, "MANIFEST_BLOB_UNKNOWN")
                if any(item["digest"] not in stub.manifests for item in children):
                    return self.error(400, "MANIFEST_UNKNOWN")
                media_type = self.headers.get("Content-Type", "")
                stub.manifests[reference] = stub.manifests[digest] = (media_type, data)
                headers = {"Location": f"/v2/{name}/manifests/{digest}"}
                headers["Docker-Content-Digest"] = digest
                if stub.referrers_api and "subject" in document:
                    headers["OCI-Subject"] = document["subject"]["digest"]
                    stub.subject_answers.append(document["subject"]["digest"])
                return self.answer(201, headers=headers)

            do_GET = do_HEAD = do_POST = do_PATCH = do_PUT = route

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)

    def document(self, reference: str) -> dict:
        return json.loads(self.manifests[reference][1])


@pytest.fixture
def stub(request, monkeypatch):
    """A StubRegistry (param: referrers_api) for one test; a stub that went wrong fails the
    push within seconds, not after the default minutes of retries."""
    monkeypatch.setenv("PYBUILD_REGISTRY_TIMEOUT", "5")
    monkeypatch.setenv("PYBUILD_REGISTRY_RETRY_FOR", "10")
    server = StubRegistry(referrers_api=request.param)
    yield server
    server.close()


def push_to_stub(stub: StubRegistry, context: Path, **options) -> api.BuildResult:
    options.setdefault("cache_dir", None)
    return api.build(
        api.BuildOptions(
            context=context,
            tags=(f"{stub.address}/demo/stub:1",),
            output=parse_output("type=registry"),
            attest=parse_attest(sbom="", provenance=""),
            **options,
        )
    )


def received_in_full(stub: StubRegistry) -> tuple[dict, dict]:
    """The index under the tag, every manifest it names and every blob those name, all
    received, each blob sent once and without errors (the config after a HEAD found it
    missing; a new layer goes up while it is made, before any HEAD could name it); returns
    the image and attestation entries."""
    index = stub.document("1")
    assert stub.manifests["1"][0] == MEDIA_OCI_INDEX
    named, layers = set(), set()
    for entry in index["manifests"]:
        document = stub.document(entry["digest"])
        named |= {blob["digest"] for blob in [document["config"], *document["layers"]]}
        layers |= {blob["digest"] for blob in document["layers"]}
    assert named <= set(stub.blobs)
    missing = {path.rsplit("/", 1)[1] for method, path, _, status in stub.requests if status == 404}
    sent = [
        urllib.parse.parse_qs(path.partition("?")[2])["digest"][0]
        for method, path, _, status in stub.requests
        if method == "PUT" and "/blobs/uploads/" in path and status == 201
    ]
    assert sorted(sent) == sorted(named) and missing >= named - layers
    assert not stub.uploads  # every upload that was started was finished
    assert not [
        r for r in stub.requests if r[3] >= 400 and r[0] != "HEAD" and "sha256-" not in r[1]
    ]
    image, attestation = index["manifests"]
    assert attestation["annotations"][REFERENCE_DIGEST] == image["digest"]
    return image, attestation


@pytest.mark.parametrize("stub", [True], indirect=True, ids=["referrers-api"])
def test_a_registry_answering_oci_subject_gets_no_referrers_tag(stub, tmp_path):
    """When the PUT of the attestation manifest is answered with `OCI-Subject` the registry
    keeps the referrers itself: the push sends everything else and no `sha256-` tag."""
    push_to_stub(stub, make_context(tmp_path / "ctx"))
    image, attestation = received_in_full(stub)
    assert stub.subject_answers == [image["digest"]]
    assert not [r for r in stub.requests if "/manifests/sha256-" in r[1]], stub.requests
    puts = [r[1] for r in stub.requests if r[0] == "PUT" and "/manifests/" in r[1]]
    assert puts == [
        f"/v2/demo/stub/manifests/{image['digest']}",
        f"/v2/demo/stub/manifests/{attestation['digest']}",
        "/v2/demo/stub/manifests/1",
    ]


@pytest.mark.parametrize("stub", [False], indirect=True, ids=["no-referrers-api"])
def test_a_registry_without_oci_subject_gets_the_referrers_tag(stub, tmp_path):
    """Without `OCI-Subject` in the answer the push looks the `sha256-HEX` tag up (404: none
    yet) and puts an OCI index there naming the attestation manifest, after that manifest."""
    push_to_stub(stub, make_context(tmp_path / "ctx"))
    image, attestation = received_in_full(stub)
    assert stub.subject_answers == []
    tag = referrers_tag(image["digest"])
    manifests = [r for r in stub.requests if "/manifests/" in r[1]]
    assert manifests == [
        ("PUT", f"/v2/demo/stub/manifests/{image['digest']}", MEDIA_OCI_MANIFEST, 201),
        ("PUT", f"/v2/demo/stub/manifests/{attestation['digest']}", MEDIA_OCI_MANIFEST, 201),
        ("GET", f"/v2/demo/stub/manifests/{tag}", "", 404),
        ("PUT", f"/v2/demo/stub/manifests/{tag}", MEDIA_OCI_INDEX, 201),
        ("PUT", "/v2/demo/stub/manifests/1", MEDIA_OCI_INDEX, 201),
    ]
    referrers = stub.document(tag)
    assert referrers["mediaType"] == MEDIA_OCI_INDEX
    assert [(e["digest"], e["artifactType"]) for e in referrers["manifests"]] == [
        (attestation["digest"], ATTESTATION_ARTIFACT)
    ]


@pytest.mark.parametrize("stub", [False], indirect=True, ids=["no-referrers-api"])
def test_each_platform_gets_its_own_referrers_tag(stub, tmp_path):
    """Two platforms, two image manifests: each attestation manifest is listed under its own
    image's `sha256-HEX` tag, and only there."""
    push_to_stub(stub, make_context(tmp_path / "ctx"), platform="linux/amd64,linux/arm64")
    index = stub.document("1")
    images = [e for e in index["manifests"] if e["platform"]["os"] == "linux"]
    attached = {
        e["annotations"][REFERENCE_DIGEST]: e["digest"]
        for e in index["manifests"]
        if e["platform"]["os"] == "unknown"
    }
    assert [e["platform"]["architecture"] for e in images] == ["amd64", "arm64"]
    assert set(attached) == {e["digest"] for e in images}
    tags = sorted(ref for ref in stub.manifests if ref.startswith("sha256-"))
    assert tags == sorted(referrers_tag(e["digest"]) for e in images)
    for image in images:
        referrers = stub.document(referrers_tag(image["digest"]))
        assert [e["digest"] for e in referrers["manifests"]] == [attached[image["digest"]]]
        assert stub.document(attached[image["digest"]])["subject"]["digest"] == image["digest"]


COSIGN = "application/vnd.dev.cosign.artifact.sig.v1+json"


def signature(stub: StubRegistry, subject: dict, algorithm: str = "sha256", **extra) -> dict:
    """Another tool's referrer of the image `subject` names (a cosign-like signature), kept
    in the stub as a registry keeps the manifests its indexes list; its descriptor, with
    `extra` fields."""
    body = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": MEDIA_OCI_MANIFEST,
            "artifactType": COSIGN,
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "size": 2},
            "layers": [],
            "subject": {key: subject[key] for key in ("mediaType", "digest", "size")},
        }
    ).encode()
    digest = f"{algorithm}:" + hashlib.new(algorithm, body).hexdigest()
    stub.manifests[digest] = (MEDIA_OCI_MANIFEST, body)
    descriptor = {"mediaType": MEDIA_OCI_MANIFEST, "digest": digest, "size": len(body)}
    return {**descriptor, "artifactType": COSIGN, "annotations": {"made.by": "cosign"}, **extra}


def other_tools_referrers(stub: StubRegistry, tag: str, *entries: dict) -> None:
    """List `entries` (other tools' referrers of the same image) first under `tag`."""
    listed = stub.document(tag)
    listed["manifests"] = [*entries, *listed["manifests"]]
    stub.manifests[tag] = (MEDIA_OCI_INDEX, json.dumps(listed).encode())


@pytest.mark.parametrize("stub", [False], indirect=True, ids=["no-referrers-api"])
def test_another_tools_referrers_stay_listed_when_pushing_again(stub, tmp_path):
    """The referrers tag is shared with other tools (a signature here): pushing the image
    again replaces pybuild's own entry and keeps theirs, type and annotations included."""
    context, cache = make_context(tmp_path / "ctx"), tmp_path / "cache"
    push_to_stub(stub, context, cache_dir=cache)
    image, attestation = stub.document("1")["manifests"]
    tag = referrers_tag(image["digest"])
    signed = signature(stub, image)
    other_tools_referrers(stub, tag, signed)
    first = len(stub.requests)
    push_to_stub(stub, context, cache_dir=cache)  # the cache knows the layers' digests
    assert stub.document("1")["manifests"] == [image, attestation]  # the same build again
    assert not [r for r in stub.requests[first:] if "/blobs/uploads/" in r[1]]  # all there
    assert ("GET", f"/v2/demo/stub/manifests/{tag}", "", 200) in stub.requests[first:]
    assert stub.document(tag)["manifests"] == [signed, pybuilds_entry(attestation)]


@pytest.mark.parametrize("stub", [False], indirect=True, ids=["no-referrers-api"])
def test_entries_pybuild_cannot_parse_are_kept_as_they_were(stub, tmp_path):
    """OCI descriptors may name a sha512 digest or embed `data`: adding pybuild's entry to a
    referrers list holding such entries keeps every one of them as it was."""
    context = make_context(tmp_path / "ctx")
    push_to_stub(stub, context)
    image, attestation = stub.document("1")["manifests"]
    tag = referrers_tag(image["digest"])
    sha512 = signature(stub, image, "sha512")
    embedded = signature(stub, image, data=base64.b64encode(b"{}").decode())
    other_tools_referrers(stub, tag, sha512, embedded)
    push_to_stub(stub, context)
    assert stub.document(tag)["manifests"] == [sha512, embedded, pybuilds_entry(attestation)]
