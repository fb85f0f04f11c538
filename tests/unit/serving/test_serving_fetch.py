"""The artifact fetcher of model-server pods: sources, what gets copied, and clear failures."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from lepton.serving.fetch import FetchError, fetch, main, resolve_local
from lepton.storage import s3_error_code
from support.ports import free_port


def make_artifact(directory: Path, model_file: str = "model.pt2") -> Path:
    directory.mkdir(parents=True)
    (directory / model_file).write_bytes(b"model bytes")
    (directory / "manifest.json").write_text(json.dumps({"format": "torch-export", "file": model_file}))
    (directory / "notes.txt").write_text("not part of the artifact")
    return directory


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("/data/models/a", "/data/models/a"),
        ("relative/dir", "relative/dir"),
        ("file:///data/models/a%20b", "/data/models/a b"),
        ("pvc://claim-1/models/a", "/mnt/pvc/claim-1/models/a"),
        ("pvc://claim-1", "/mnt/pvc/claim-1"),
    ],
    ids=["absolute path", "relative path", "file URI", "pvc URI", "pvc root"],
)
def test_local_sources_resolve_to_paths(source: str, expected: str) -> None:
    assert resolve_local(source, Path("/mnt/pvc")) == Path(expected)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("pvc:///models/a", "needs a claim name"),
        ("pvc://claim/../other/a", "must stay inside the claim"),
        ("http://example.com/a", "unsupported URI scheme 'http'"),
    ],
    ids=["pvc without claim", "pvc path escaping", "unknown scheme"],
)
def test_bad_sources_are_refused(source: str, message: str) -> None:
    with pytest.raises(FetchError, match=message):
        resolve_local(source, Path("/mnt/pvc"))


@pytest.mark.parametrize("form", ["path", "file URI", "pvc URI", "manifest path"])
def test_fetch_copies_the_manifest_and_its_model_file_only(tmp_path: Path, form: str) -> None:
    source = make_artifact(tmp_path / "pvc" / "claim" / "models" / "v1")
    uri = {
        "path": str(source),
        "file URI": source.as_uri(),
        "pvc URI": "pvc://claim/models/v1",
        "manifest path": str(source / "manifest.json"),
    }[form]
    dest = fetch(uri, tmp_path / "dest" / "model", pvc_root=tmp_path / "pvc")
    assert sorted(p.name for p in dest.iterdir()) == ["manifest.json", "model.pt2"]
    assert (dest / "model.pt2").read_bytes() == b"model bytes"
    assert json.loads((dest / "manifest.json").read_text())["file"] == "model.pt2"


def test_fetching_twice_replaces_the_copy(tmp_path: Path) -> None:
    source = make_artifact(tmp_path / "a")
    fetch(str(source), tmp_path / "dest")
    (source / "model.pt2").write_bytes(b"new bytes")
    fetch(str(source), tmp_path / "dest")
    assert (tmp_path / "dest" / "model.pt2").read_bytes() == b"new bytes"


def test_missing_artifacts_and_bad_manifests_fail_with_the_reason(tmp_path: Path) -> None:
    with pytest.raises(FetchError, match=r"no manifest\.json"):
        fetch(str(tmp_path / "absent"), tmp_path / "dest")
    source = make_artifact(tmp_path / "a")
    (source / "model.pt2").unlink()
    with pytest.raises(FetchError, match=r"model file model\.pt2 is missing"):
        fetch(str(source), tmp_path / "dest")
    (source / "manifest.json").write_text(json.dumps({"file": "../../etc/passwd"}))
    with pytest.raises(FetchError, match="not a plain file name"):
        fetch(str(source), tmp_path / "dest")
    (source / "manifest.json").write_text("{not json")
    with pytest.raises(FetchError, match="not a valid artifact manifest"):
        fetch(str(source), tmp_path / "dest")
    assert not (tmp_path / "dest" / "manifest.json").exists()


def test_s3_without_the_extra_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # As without the s3 extra, whether or not this environment has boto3 (None makes import fail).
    monkeypatch.setitem(sys.modules, "boto3", None)
    with pytest.raises(FetchError, match=r"install lepton\[s3\]"):
        fetch("s3://bucket/models/a", tmp_path / "dest")


def test_an_s3_endpoint_that_does_not_answer_is_unreachable_not_a_missing_artifact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("boto3")
    message = tmp_path / "termination-log"
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    for name, value in {
        "LEPTON_TERMINATION_MESSAGE_PATH": str(message),
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_MAX_ATTEMPTS": "1",
    }.items():
        monkeypatch.setenv(name, value)
    assert main(["--source", "s3://bucket/models/a", "--dest", str(tmp_path / "d")]) == 1
    result = json.loads(message.read_text())
    assert result["kind"] == "SourceUnreachable"
    assert endpoint in result["reason"]


def test_s3_error_codes_tell_an_answer_from_no_answer() -> None:
    botocore = pytest.importorskip("botocore.exceptions")
    missing = botocore.ClientError({"Error": {"Code": "NoSuchKey", "Message": "no"}}, "GetObject")
    assert s3_error_code(missing) == "NoSuchKey"
    assert s3_error_code(botocore.EndpointConnectionError(endpoint_url="http://s3.local")) == ""


def test_the_command_exits_1_and_leaves_the_reason_as_termination_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    message = tmp_path / "termination-log"
    monkeypatch.setenv("LEPTON_TERMINATION_MESSAGE_PATH", str(message))
    assert (
        main(["--source", "pvc://claim/none", "--dest", str(tmp_path / "d"), "--pvc-root", str(tmp_path)])
        == 1
    )
    assert "no manifest.json" in capsys.readouterr().err
    assert json.loads(message.read_text())["fetched"] is False
    source = make_artifact(tmp_path / "claim" / "m")
    assert (
        main(["--source", "pvc://claim/m", "--dest", str(tmp_path / "d"), "--pvc-root", str(tmp_path)]) == 0
    )
    assert (tmp_path / "d" / "model.pt2").read_bytes() == (source / "model.pt2").read_bytes()
