"""Issue 16, defect 4: a replaced artifact file is refused, by digests recorded at registration.

The bundle itself is read without unpickling (``tests/test_bundle_io.py``); here the registry's
record of each file's SHA-256 catches a file changed, removed or added in the artifact store, on
load and on ``POST /reload``, and the service keeps serving the version it had.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from fixtures_serving import use_registry

from models.bundle import Bundle
from models.digest import check_digests, digest_of, folder_digests
from rollcure.core.errors import InputError

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning:pathspec.*"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:_bentoml_sdk.*"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:_bentoml_impl.*"),
]


def test_digests_name_the_changed_missing_or_added_file(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.json").write_text("{}")
    (tmp_path / "sub" / "b.txt").write_text("tree")
    recorded = folder_digests(tmp_path)
    assert set(recorded) == {"a.json", "sub/b.txt"}
    assert digest_of(recorded) == digest_of(dict(reversed(list(recorded.items()))))
    check_digests(tmp_path, recorded)
    (tmp_path / "sub" / "b.txt").write_text("tree ")
    with pytest.raises(InputError, match="sub/b.txt differs"):
        check_digests(tmp_path, recorded)
    (tmp_path / "sub" / "b.txt").write_text("tree")
    (tmp_path / "calibrators.pkl").write_bytes(b"\x80\x04")
    with pytest.raises(InputError, match="calibrators.pkl was added"):
        check_digests(tmp_path, recorded)


def test_a_tampered_bundle_folder_is_refused_before_it_is_read(trained_run, tmp_path):
    folder = trained_run.bundle.save(tmp_path / "bundle")
    recorded = folder_digests(folder)
    Bundle.load(folder, digests=recorded)
    calibrators = folder / "calibrators.json"
    state = json.loads(calibrators.read_text())
    first = next(iter(state))
    state[first] = {**state[first], "tampered": True}
    calibrators.write_text(json.dumps(state))
    with pytest.raises(InputError, match="calibrators.json differs"):
        Bundle.load(folder, digests=recorded)


def _artifact_folder(setup) -> Path:
    """The champion's bundle folder in the setup's local artifact store."""
    from registry.store import client, resolve_version

    mv = resolve_version(setup.cfg, "champion")
    location = client(setup.cfg).get_logged_model(mv.source.removeprefix("models:/")).artifact_location
    root = Path(location.removeprefix("file://"))
    return next(root.rglob("calibrators.json")).parent


def test_registration_records_digests_and_load_checks_them(serving_setup):
    from registry.store import DIGESTS_TAG, load_bundle, resolve_version

    with use_registry(serving_setup):
        mv = resolve_version(serving_setup.cfg, "champion")
        assert DIGESTS_TAG in mv.tags
        folder = _artifact_folder(serving_setup)
        assert json.loads(mv.tags[DIGESTS_TAG]) == folder_digests(folder)
        load_bundle(serving_setup.cfg, "champion")
        target = folder / "reason_codes.csv"
        saved = target.read_bytes()
        try:
            target.write_bytes(saved.replace(b",", b";", 1))
            with pytest.raises(InputError, match="reason_codes.csv differs"):
                load_bundle(serving_setup.cfg, "champion")
        finally:
            target.write_bytes(saved)


def test_reload_refuses_a_tampered_artifact_and_keeps_serving(service_client, serving_setup, sample_payloads):
    with use_registry(serving_setup):
        folder = _artifact_folder(serving_setup)
        backup = folder.parent / "calibrators.json.orig"
        shutil.copy2(folder / "calibrators.json", backup)
        try:
            with (folder / "calibrators.json").open("a") as f:
                f.write(" ")
            r = service_client.post("/reload", json={"force": True})
            assert r.status_code == 409 and "calibrators.json differs" in r.text, r.text
        finally:
            shutil.move(backup, folder / "calibrators.json")
    ok = service_client.post("/score", json={"cases": sample_payloads[:1]})
    assert ok.status_code == 200 and ok.json()[0]["model_version"] == serving_setup.version
