"""Reading kubeconfigs without the kubernetes package: the search order, merging, relative paths,
inline data, in-cluster, and errors that say what to do."""

from __future__ import annotations

import base64
import json
import sys

import pytest

from lepton.kube.kubeconfig import KubeconfigError, credentials, in_cluster, kubeconfig_paths, load, merge


def config(server: str = "https://k:6443", **user) -> dict:
    return {
        "clusters": [{"name": "c", "cluster": {"server": server, "certificate-authority": "ca.crt"}}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u", "namespace": "team"}}],
        "current-context": "ctx",
    }


def test_search_order():
    env = {"KUBECONFIG": "/a:/b", "HOME": "/home/x"}
    assert [str(p) for p in kubeconfig_paths("/explicit", env)] == ["/explicit"]
    assert [str(p) for p in kubeconfig_paths(None, env)] == ["/a", "/b"]
    assert [str(p) for p in kubeconfig_paths(None, {"HOME": "/home/x"})] == ["/home/x/.kube/config"]


def test_merge_first_file_wins():
    first = {"clusters": [{"name": "c", "cluster": {"server": "https://one"}}], "current-context": ""}
    second = config("https://two")
    merged = merge([first, second])
    assert merged["clusters"][0]["cluster"]["server"] == "https://one"
    assert merged["current-context"] == "ctx"


def test_paths_are_relative_to_the_kubeconfig_and_data_is_decoded(tmp_path):
    data = base64.b64encode(b"KEY").decode()
    creds = credentials(config(**{"client-certificate": "tls.crt", "client-key-data": data}), tmp_path)
    assert (creds.server, creds.namespace) == ("https://k:6443", "team")
    assert creds.ca_file == str(tmp_path / "ca.crt")
    assert creds.cert_file == str(tmp_path / "tls.crt")
    assert creds.key_data == b"KEY"


def test_token_file_is_read_at_each_request(tmp_path):
    (tmp_path / "token").write_text("t1\n")
    creds = credentials(config(tokenFile="token"), tmp_path)
    assert creds.bearer() == "t1"
    (tmp_path / "token").write_text("t2")
    assert creds.bearer() == "t2"


def test_exec_plugin_gives_the_token(tmp_path):
    plugin = {"status": {"token": "from-plugin"}}
    user = {"exec": {"command": sys.executable, "args": ["-c", f"print({json.dumps(json.dumps(plugin))})"]}}
    assert credentials(config(**user), tmp_path).bearer() == "from-plugin"


def test_missing_exec_plugin_says_how_to_install_it(tmp_path):
    user = {"exec": {"command": "no-such-plugin-xyz", "installHint": "brew install xyz"}}
    with pytest.raises(KubeconfigError, match="brew install xyz"):
        credentials(config(**user), tmp_path)


def test_unknown_context_and_no_current_context(tmp_path):
    with pytest.raises(KubeconfigError, match="no context named 'other'"):
        credentials(config(), tmp_path, context="other")
    with pytest.raises(KubeconfigError, match="use-context"):
        credentials({**config(), "current-context": ""}, tmp_path)


def test_no_kubeconfig_says_what_to_set(tmp_path):
    with pytest.raises(KubeconfigError, match="set KUBECONFIG or pass --kubeconfig"):
        load(env={"HOME": str(tmp_path)})


def test_in_cluster_service_account(tmp_path):
    (tmp_path / "token").write_text("sa")
    (tmp_path / "namespace").write_text("jobs")
    creds = in_cluster({"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"}, tmp_path)
    assert creds is not None
    assert (creds.server, creds.namespace, creds.bearer()) == ("https://10.0.0.1:443", "jobs", "sa")
    assert in_cluster({}, tmp_path) is None
