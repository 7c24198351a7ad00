"""`provisioning-bot teams-package`: the zip, its manifest (checked against Microsoft's
schema), the command lists drawn from the declarations, and bad input refused in one line
with nothing written."""
from __future__ import annotations

import copy
import errno
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from bot import cli
from bot.chat.interactions import Feature, Menu, command
from bot.features import FEATURES
from bot.teams_app import manifest as teams_manifest
from bot.teams_app import package
from tests.bot.chat import ChatDriver
from tests.manifestcheck import check_manifest

APP_ID = "8a1c3f0e-2b4d-4e6f-9a7b-0c1d2e3f4a5b"
URL = "https://bot.contoso.com"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def no_bot_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MicrosoftAppId", "PUBLIC_URL"):
        monkeypatch.delenv(name, raising=False)


def make_package(tmp_path: Path, *extra: str, url: str = URL) -> dict[str, Any]:
    out = tmp_path / "app.zip"
    assert cli.main(["teams-package", "--app-id", APP_ID, "--public-url", url, "--out", str(out), *extra]) == 0
    with zipfile.ZipFile(out) as archive:
        assert sorted(archive.namelist()) == ["color.png", "manifest.json", "outline.png"]
        return json.loads(archive.read("manifest.json"))


def test_the_package_holds_the_manifest_and_both_icons(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "app.zip"
    assert cli.main(["teams-package", "--app-id", APP_ID, "--public-url", URL, "--out", str(out)]) == 0
    printed = capsys.readouterr()
    assert str(out) in printed.out and "Upload an app" in printed.out and printed.err == ""
    with zipfile.ZipFile(out) as archive:
        assert archive.testzip() is None
        assert archive.read("color.png")[:8] == archive.read("outline.png")[:8] == b"\x89PNG\r\n\x1a\n"
        manifest = json.loads(archive.read("manifest.json"))
    assert manifest["icons"] == {"color": "color.png", "outline": "outline.png"}
    assert [p.name for p in tmp_path.iterdir()] == ["app.zip"], "no temporary file left"


def test_the_manifest_is_valid_for_microsofts_schema_1_24(tmp_path: Path) -> None:
    manifest = make_package(tmp_path)
    assert manifest["manifestVersion"] == "1.24"
    assert manifest["$schema"].endswith("/teams/v1.24/MicrosoftTeams.schema.json")
    valid, report = check_manifest(manifest)
    assert valid, report
    assert "json-schemas/teams/v1.24/MicrosoftTeams.schema.json" in report


def test_the_schema_check_refuses_a_lower_case_groupchat_scope(tmp_path: Path) -> None:
    manifest = make_package(tmp_path)
    manifest["bots"][0]["scopes"] = ["personal", "groupchat"]
    valid, report = check_manifest(manifest)
    assert not valid
    assert "/bots/0/scopes/1 must be equal to one of the allowed values" in report


def test_the_schema_check_refuses_13_commands_in_one_list(tmp_path: Path) -> None:
    manifest = make_package(tmp_path)
    commands = manifest["bots"][0]["commandLists"][0]["commands"]
    commands.append({"title": "tenant", "description": "Show or set the tenant name."})
    assert len(commands) == 13
    valid, report = check_manifest(manifest)
    assert not valid
    assert "/bots/0/commandLists/0/commands must NOT have more than 12 items" in report


def test_the_schema_check_refuses_a_missing_required_field(tmp_path: Path) -> None:
    manifest = make_package(tmp_path)
    broken = copy.deepcopy(manifest)
    del broken["developer"]["privacyUrl"]
    valid, report = check_manifest(broken)
    assert not valid and "privacyUrl" in report


def test_one_bot_for_the_app_id_with_files_in_three_scopes(tmp_path: Path) -> None:
    manifest = make_package(tmp_path)
    assert manifest["id"] == APP_ID, "the Teams app id is the bot's app id"
    (bot,) = manifest["bots"]
    assert bot["botId"] == APP_ID
    assert bot["scopes"] == ["personal", "team", "groupChat"]
    assert bot["supportsFiles"] is True
    assert [lst["scopes"] for lst in bot["commandLists"]] == [["personal"], ["team"], ["groupChat"]]


def test_urls_and_domain_come_from_the_public_url(tmp_path: Path) -> None:
    manifest = make_package(tmp_path, url="https://Bot.Contoso.com:8443/provisioning/")
    base = "https://Bot.Contoso.com:8443/provisioning"
    assert manifest["developer"]["websiteUrl"] == base + "/about"
    assert manifest["developer"]["privacyUrl"] == base + "/privacy"
    assert manifest["developer"]["termsOfUseUrl"] == base + "/terms"
    assert manifest["validDomains"] == ["bot.contoso.com"]


def test_the_app_version_option_versions_the_package_for_an_update(tmp_path: Path) -> None:
    # Teams replaces an uploaded app only with a package of a higher version.
    manifest = make_package(tmp_path, "--app-version", "2.10.0")
    assert manifest["version"] == "2.10.0"
    valid, report = check_manifest(manifest)
    assert valid, report
    assert make_package(tmp_path)["version"] == package.app_version()


def test_the_name_option_names_the_app(tmp_path: Path) -> None:
    manifest = make_package(tmp_path, "--name", "Contoso Devices")
    assert manifest["name"] == {"short": "Contoso Devices", "full": "Contoso Devices for Teams Android devices"}
    assert make_package(tmp_path)["name"]["short"] == "Device Provisioning"


# --- the command lists ---------------------------------------------------------------------


def listed(manifest: dict[str, Any], scope: str) -> list[str]:
    (lst,) = [lst for lst in manifest["bots"][0]["commandLists"] if lst["scopes"] == [scope]]
    return [c["title"] for c in lst["commands"]]


def test_command_lists_follow_the_declared_ranks_and_rules(tmp_path: Path) -> None:
    manifest = make_package(tmp_path)
    menu = Menu(FEATURES)
    by_rank = sorted(menu, key=lambda c: c.menu_rank)
    assert len(by_rank) > 12, "more commands than a list holds: the ranks choose"
    assert listed(manifest, "personal") == [c.name for c in by_rank[:12]]
    assert not {c.name for c in by_rank[12:]} & set(listed(manifest, "personal")), "the lowest ranks are left out"
    shared = [c.name for c in by_rank if c.rules.secret is None][:12]
    assert listed(manifest, "team") == listed(manifest, "groupChat") == shared
    assert not {"code", "codes", "export"} & set(listed(manifest, "team")), "refused outside 1:1 chats"
    summaries = {c.name: c.summary for c in menu}
    for lst in manifest["bots"][0]["commandLists"]:
        assert len(lst["commands"]) <= 12
        assert all(c["description"] == summaries[c["title"]] for c in lst["commands"])


def lab(ranks: list[int], secret_rank: int) -> type[Feature]:
    """A feature with commands declared out of rank order, more than a list holds."""
    namespace: dict[str, Any] = {"title": "Lab"}
    for rank in ranks:
        async def run(self: Feature, turn: object, call: object) -> None:  # pragma: no cover - never run
            pass

        namespace[f"c{rank}"] = command(f"c{rank}", summary=f"Rank {rank}.", usage=f"c{rank}", menu_rank=rank,
                                        secret="Secrets" if rank == secret_rank else None)(run)
    return type("Lab", (Feature,), namespace)


def test_lists_take_the_first_twelve_by_rank_not_by_declaration_order() -> None:
    menu = Menu([lab([20, 3, 14, 1, 9, 7, 30, 2, 11, 5, 8, 6, 4, 10], secret_rank=2)])
    personal = [c.name for c in teams_manifest.commands_for(menu, "personal")]
    assert personal == [f"c{r}" for r in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 14)]
    team = [c.name for c in teams_manifest.commands_for(menu, "team")]
    assert team == [f"c{r}" for r in (1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 14, 20)], "secret c2 out, c20 in"


def test_every_command_fits_a_manifest_entry() -> None:
    for c in Menu(FEATURES):
        assert len(c.name) <= 32 and 0 < len(c.summary) <= 128 and "\n" not in c.summary, c.name


# --- where the inputs come from -----------------------------------------------------------


def test_app_id_and_url_default_to_the_bots_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MicrosoftAppId", APP_ID)
    monkeypatch.setenv("PUBLIC_URL", "https://devices.fabrikam.com")
    out = tmp_path / "env.zip"
    assert cli.main(["teams-package", "--out", str(out)]) == 0
    with zipfile.ZipFile(out) as archive:
        manifest = json.loads(archive.read("manifest.json"))
    assert manifest["bots"][0]["botId"] == APP_ID
    assert manifest["validDomains"] == ["devices.fabrikam.com"]


def test_the_default_output_is_in_the_current_directory_and_replaced(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "provisioning-bot-teams.zip").write_bytes(b"an older package")
    assert cli.main(["teams-package", "--app-id", APP_ID, "--public-url", URL]) == 0
    assert zipfile.is_zipfile(tmp_path / "provisioning-bot-teams.zip")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["provisioning-bot-teams.zip"], "no data directory, no temp"


BAD_INPUTS = [
    (["--app-id", "not-a-guid"], "--app-id: the bot's app id must be a GUID"),
    (["--app-id", "8a1c3f0e2b4d4e6f9a7b0c1d2e3f4a5b"], "--app-id: the bot's app id must be a GUID"),
    (["--app-id", ""], "--app-id: the bot's app id must be a GUID"),
    (["--public-url", "http://bot.contoso.com"], "--public-url: must be an absolute https URL"),
    (["--public-url", "bot.contoso.com"], "--public-url: must be an absolute https URL"),
    (["--public-url", "/api/messages"], "--public-url: must be an absolute https URL"),
    (["--public-url", "https://"], "--public-url: must be an absolute https URL with a host name"),
    (["--public-url", "https://bot.contoso.com:99999"], "--public-url: must be an absolute https URL"),
    (["--public-url", "https://bot.contoso.com/?x=1"], "--public-url: must be a base URL"),
    (["--public-url", "https://bot contoso.com"], "--public-url: must be a URL without spaces"),
    (["--name", ""], "--name: the app name must be 1 to 30 characters"),
    (["--app-version", "1.2"], "--app-version: must be MAJOR.MINOR.PATCH numbers such as 1.4.0, not '1.2'"),
    (["--app-version", "1.02.0"], "--app-version: must be MAJOR.MINOR.PATCH"),
    (["--app-version", "v1.2.3"], "--app-version: must be MAJOR.MINOR.PATCH"),
    (["--name", "A name much longer than thirty characters"], "--name: the app name must be 1 to 30"),
]


@pytest.mark.parametrize(("change", "message"), BAD_INPUTS, ids=[" ".join(c) for c, _ in BAD_INPUTS])
def test_bad_input_is_one_line_exit_2_nothing_written(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                      change: list[str], message: str) -> None:
    options = {"--app-id": APP_ID, "--public-url": URL, "--out": str(tmp_path / "app.zip")}
    options.update(dict(zip(change[::2], change[1::2], strict=True)))
    assert cli.main(["teams-package", *[x for pair in options.items() for x in pair]]) == 2
    printed = capsys.readouterr()
    assert printed.out == ""
    assert printed.err.count("\n") == 1 and message in printed.err, printed.err
    assert list(tmp_path.iterdir()) == []


def test_unwritable_outputs_are_one_line_exit_2_nothing_written(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "a-dir.zip").mkdir()
    before = sorted(p.name for p in tmp_path.iterdir())
    cases = [
        (tmp_path / "missing" / "app.zip", "is not a directory"),
        (tmp_path / "a-file" / "app.zip", "is not a directory"),
        (tmp_path / "a-dir.zip", "is a directory"),
        (tmp_path / "app.txt", "must be a .zip file"),
    ]
    for out, message in cases:
        assert cli.main(["teams-package", "--app-id", APP_ID, "--public-url", URL, "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("provisioning-bot teams-package: --out: ") and err.count("\n") == 1, err
        assert message in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert list((tmp_path / "a-dir.zip").iterdir()) == []


def test_a_write_that_fails_leaves_nothing_and_keeps_the_old_package(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str],
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "app.zip").write_bytes(b"the old package")

    def disk_full(source: object, target: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(package.os, "replace", disk_full)
    assert cli.main(["teams-package", "--app-id", APP_ID, "--public-url", URL,
                     "--out", str(tmp_path / "app.zip")]) == 2
    assert capsys.readouterr().err == (f"provisioning-bot teams-package: --out: can't write {tmp_path / 'app.zip'}: "
                                       "No space left on device\n")
    assert [p.name for p in tmp_path.iterdir()] == ["app.zip"], "the temporary file is gone"
    assert (tmp_path / "app.zip").read_bytes() == b"the old package"


def test_a_missing_app_id_or_url_names_both_ways_to_give_it(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    out = str(tmp_path / "app.zip")
    assert cli.main(["teams-package", "--public-url", URL, "--out", out]) == 2
    assert capsys.readouterr().err == "provisioning-bot teams-package: --app-id is required (or set MicrosoftAppId)\n"
    assert cli.main(["teams-package", "--app-id", APP_ID, "--out", out]) == 2
    assert capsys.readouterr().err == "provisioning-bot teams-package: --public-url is required (or set PUBLIC_URL)\n"
    monkeypatch.setenv("PUBLIC_URL", "http://127.0.0.1:3978")
    assert cli.main(["teams-package", "--app-id", APP_ID, "--out", out]) == 2
    err = capsys.readouterr().err
    assert err.startswith("provisioning-bot teams-package: PUBLIC_URL: must be an absolute https URL"), err
    assert list(tmp_path.iterdir()) == []


def test_the_installed_command_needs_no_server_and_no_data(tmp_path: Path) -> None:
    env = {**os.environ, "PROVISIONING_DATA": str(tmp_path / "data"), "MicrosoftAppId": APP_ID, "PUBLIC_URL": URL}
    done = subprocess.run([sys.executable, "-m", "bot", "teams-package", "--out", str(tmp_path / "t.zip")],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.zip"], "the store was not opened"
    bad = subprocess.run([sys.executable, "-m", "bot", "teams-package", "--app-id", "nope", "--out",
                          str(tmp_path / "u.zip")], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr


# --- the pages the manifest links to --------------------------------------------------------


async def test_the_bot_serves_the_pages_its_manifest_links_to(chat: ChatDriver, tmp_path: Path) -> None:
    manifest = make_package(tmp_path)
    for key in ("websiteUrl", "privacyUrl", "termsOfUseUrl"):
        path = manifest["developer"][key].removeprefix(URL)
        response = await chat.client.get(path)
        assert response.status == 200 and response.content_type == "text/html", path
