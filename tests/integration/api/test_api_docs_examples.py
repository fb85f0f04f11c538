"""Every copy-paste example of the user guide (docs/*.md) is accepted by a real API server with the
CRDs installed: a server-side dry run, so the CRDs' schemas, defaults and CEL rules all apply."""

from __future__ import annotations

import pytest
import yaml

from support.docs import examples

pytestmark = pytest.mark.integration
EXAMPLES = examples()


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.id for e in EXAMPLES])
def test_the_api_server_accepts_the_example(example, lepton_crds, kubectl, namespace):
    out = kubectl(
        "apply", "--dry-run=server", "--server-side", "-n", namespace, "-f", "-",
        input=yaml.safe_dump(example.manifest),
    )  # fmt: skip
    assert "(server dry run)" in out.stdout, out.stdout
