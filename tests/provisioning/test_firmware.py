"""Firmware catalog: versions, the seed's models, forgiving look-up, admin overrides."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from provisioning.errors import CatalogError, InvalidVersion, ProvisioningError
from provisioning.firmware import (
    Catalog,
    CatalogEntry,
    FirmwareStatus,
    FirmwareVerdict,
    compare_versions,
    parse_version,
)

# The seed's table as written (seed-remote-provisioning.md), odd spellings included.
SEED_ROWS = [
    ("Teams phones", "Yealink T55A/T56A/T58A", "58.15.0.124"),
    ("Teams phones", "Yealink VP59", "91.15.0.58"),
    ("Teams phones", "Yealink CP960", "73.15.0.117"),
    ("Teams phones", "Yealink MP56/MP54/MP58", "122.15.0.36"),
    ("Teams phones", "Crestron UC-2", "1.0.3.52"),
    ("Teams phones", "Poly Trio C60", "7.0.2.1071"),
    ("Teams phones", "CCX400/CCX500/CCX600 ", "7.0.2.1072"),
    ("Teams phones", "Audio Codes C448HD/C450HD/C470HD", "1.10.120"),
    ("Teams panels", "Crestron 770/1070", "1.004.0115"),
    ("Teams Rooms on Android", "Logitech Rally Bar Mini", "1.2.982"),
    ("Teams Rooms on Android", "Logitech Rally Bar", "1.2.982"),
    ("Teams Rooms on Android", "AudioCodes RXV80", "1.13.361"),
    ("Teams Rooms on Android", "EPOS EXPAND Vision 3T", "1.2.2.21182.10"),
    ("Teams Rooms on Android", "Yealink MeetingBar A30", "133.15.0.60"),
    ("Teams Rooms on Android", "Yealink MeetingBar A20", "133.15.0.60"),
    ("Teams Rooms on Android", "Yealink CTP18 touch console", "137.15.0.37"),
    ("Teams Rooms on Android", "Poly Studio X30", "3.5.0.344025"),
    ("Teams Rooms on Android", "Poly Studio X50", "3.5.0.344025"),
    ("Teams Rooms on Android", "Poly TC8 touch console ", "3.5.0.210489"),
    ("Teams Rooms on Android", "Yealink VC210", "118.15.0.54"),
]
SEED_VENDORS = {"Yealink", "Crestron", "Poly", "Audio Codes", "AudioCodes", "Logitech", "EPOS"}


def _seed_models() -> list[tuple[str, str, str, str]]:
    """(category, vendor, model, minimum) per model, splitting the multi-model rows."""
    models = []
    for category, text, minimum in SEED_ROWS:
        vendor, _, rest = text.strip().partition(" ")
        if vendor == "Audio":
            vendor, _, rest = "AudioCodes", "", rest.removeprefix("Codes ")
        if vendor not in SEED_VENDORS:  # "CCX400/..." names no vendor: they are Poly's
            vendor, rest = "Poly", text.strip()
        models += [(category, vendor, model, minimum) for model in rest.split("/")]
    return models


SEED_MODELS = _seed_models()


def _one_lower(version: str) -> str:
    parts = version.split(".")
    parts[-1] = str(int(parts[-1]) - 1)
    return ".".join(parts)


def _one_higher(version: str) -> str:
    parts = version.split(".")
    parts[-1] = str(int(parts[-1]) + 1)
    return ".".join(parts)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.default()


def _write(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


# --- versions --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("1.004.0115", (1, 4, 115)),
        ("58.15.0.124", (58, 15, 0, 124)),
        ("1.2.2.21182.10", (1, 2, 2, 21182, 10)),
        ("3.5.0.344025", (3, 5, 0, 344025)),
        ("1.10.120", (1, 10, 120)),
        ("7", (7,)),
        (" 1.2.3 ", (1, 2, 3)),
        ("0.0.0", (0, 0, 0)),
    ],
)
def test_parse_version(text: str, parsed: tuple[int, ...]) -> None:
    assert parse_version(text) == parsed


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("1..2", "empty part"),
        (".1.2", "empty part"),
        ("1.2.", "empty part"),
        ("v1.2.3", "'v1' is not a number"),
        ("1.2.3-beta", "'3-beta' is not a number"),
        ("1.2 .3", "'2 ' is not a number"),
        ("1,2,3", "'1,2,3' is not a number"),
        ("1.-2.3", "'-2' is not a number"),
        ("1.\u0662.3", "is not a number"),  # Arabic-Indic two
        ("1." * 40 + "1", "longer than 64"),
    ],
)
def test_parse_version_rejects_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(InvalidVersion) as caught:
        parse_version(text)
    assert reason in caught.value.message
    assert isinstance(caught.value, ProvisioningError)


def test_parse_version_rejects_non_text() -> None:
    with pytest.raises(InvalidVersion):
        parse_version(None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("a", "b", "result"),
    [
        ("1.2.3", "1.2.3", 0),
        ("1.2", "1.2.0", 0),
        ("1.2.0.0", "1.2", 0),
        ("1.004.0115", "1.4.115", 0),
        ("1.2.3", "1.2.4", -1),
        ("1.2.4", "1.2.3", 1),
        ("1.10", "1.9", 1),  # integers, not strings
        ("1.2.982", "1.2.1000", -1),
        ("1.2", "1.2.0.1", -1),
        ("1.2.2.21182.10", "1.2.2.21182.9", 1),
        ("1.2.2.21182", "1.2.2.21182.10", -1),
        ("2", "1.99.99", 1),
    ],
)
def test_compare_versions(a: str, b: str, result: int) -> None:
    assert compare_versions(a, b) == result
    assert compare_versions(b, a) == -result


def test_compare_versions_raises_for_a_bad_version() -> None:
    with pytest.raises(InvalidVersion):
        compare_versions("1.2", "1.x")


# --- the built-in catalog --------------------------------------------------------------


def test_seed_table_splits_into_one_entry_per_model() -> None:
    assert len(SEED_ROWS) == 20
    assert len(SEED_MODELS) == 29


def test_default_catalog_holds_exactly_the_seed_models(catalog: Catalog) -> None:
    shipped = {(e.category, e.vendor, e.model, e.minimum_version) for e in catalog.entries}
    assert shipped == {(c, v, m.strip(), minimum) for c, v, m, minimum in SEED_MODELS}
    assert len(catalog.entries) == len(SEED_MODELS)


def test_entries_are_sorted_by_category_vendor_model(catalog: Catalog) -> None:
    keys = [(e.category.casefold(), e.vendor.casefold(), e.model.casefold()) for e in catalog.entries]
    assert keys == sorted(keys)


def test_default_is_loaded_from_the_shipped_json() -> None:
    shipped = Path(__file__).resolve().parents[2] / "provisioning" / "catalog.json"
    data = json.loads(shipped.read_text(encoding="utf-8"))
    assert data["schema_version"] == 1
    assert data["source"]
    assert Catalog.from_file(shipped).entries == Catalog.default().entries


@pytest.mark.parametrize(("category", "vendor", "model", "minimum"), SEED_MODELS)
def test_every_seed_model_exact_minimum_is_supported(
    catalog: Catalog, category: str, vendor: str, model: str, minimum: str
) -> None:
    verdict = catalog.check(model, minimum)
    assert verdict.status is FirmwareStatus.SUPPORTED
    assert verdict.supported
    assert verdict.entry is not None
    assert (verdict.entry.category, verdict.entry.vendor) == (category, vendor)
    assert verdict.minimum_version == minimum
    assert catalog.check(f"{vendor} {model}", _one_higher(minimum)).supported
    assert catalog.check(model.lower(), minimum + ".1", manufacturer=vendor).supported


@pytest.mark.parametrize(("category", "vendor", "model", "minimum"), SEED_MODELS)
def test_every_seed_model_one_below_minimum_is_too_old(
    catalog: Catalog, category: str, vendor: str, model: str, minimum: str
) -> None:
    verdict = catalog.check(f"{vendor} {model}", _one_lower(minimum))
    assert verdict.status is FirmwareStatus.TOO_OLD
    assert not verdict.supported
    assert verdict.minimum_version == minimum
    assert minimum in verdict.message and _one_lower(minimum) in verdict.message
    assert verdict.entry is not None and verdict.entry.display_name in verdict.message


def test_too_old_message_tells_the_technician_what_to_do(catalog: Catalog) -> None:
    verdict = catalog.check("T55A", "58.15.0.100")
    assert verdict == FirmwareVerdict(
        FirmwareStatus.TOO_OLD,
        CatalogEntry("Teams phones", "Yealink", "T55A", "58.15.0.124"),
        "58.15.0.124",
        "Yealink T55A needs firmware 58.15.0.124 or later; this device runs 58.15.0.100. "
        "Update the firmware, then enter the code again.",
    )


@pytest.mark.parametrize(
    ("version", "status"),
    [
        ("58.15.0", FirmwareStatus.TOO_OLD),  # shorter: missing segments are 0
        ("58.15.0.124.0", FirmwareStatus.SUPPORTED),
        ("58.15.0.1000", FirmwareStatus.SUPPORTED),  # 1000 > 124 as integers
        ("58.15.1", FirmwareStatus.SUPPORTED),
        ("58.9.9.999", FirmwareStatus.TOO_OLD),
        ("59", FirmwareStatus.SUPPORTED),
        (" 58.15.0.124 ", FirmwareStatus.SUPPORTED),
    ],
)
def test_version_lengths(catalog: Catalog, version: str, status: FirmwareStatus) -> None:
    assert catalog.check("Yealink T55A", version).status is status


def test_leading_zeros_in_the_minimum_compare_as_integers(catalog: Catalog) -> None:
    assert catalog.check("Crestron 770", "1.4.115").supported
    assert catalog.check("Crestron 770", "1.4.114").status is FirmwareStatus.TOO_OLD


def test_unknown_model(catalog: Catalog) -> None:
    verdict = catalog.check("Yealink T99Z", "99.0")
    assert verdict.status is FirmwareStatus.UNKNOWN_MODEL
    assert verdict.status.value == "unsupported_device"
    assert verdict.entry is None and verdict.minimum_version is None
    assert "'Yealink T99Z' is not on the list of supported" in verdict.message
    assert "firmware catalog" in verdict.message


def test_unknown_model_message_names_the_manufacturer(catalog: Catalog) -> None:
    assert "'Cisco Desk Pro'" in catalog.check("Desk Pro", "1.0", manufacturer="Cisco").message


@pytest.mark.parametrize("model", ["T99Z", "", "   ", "Yealink", "Poly", "Rally", "Bar Mini", "T55", "T55AB"])
def test_names_that_are_not_a_model_find_nothing(catalog: Catalog, model: str) -> None:
    assert catalog.find(model) is None


def test_an_unparsable_firmware_version_raises_even_for_known_models(catalog: Catalog) -> None:
    with pytest.raises(InvalidVersion) as caught:
        catalog.check("Yealink T55A", "58.15.x")
    assert "'x' is not a number" in caught.value.message
    with pytest.raises(InvalidVersion):
        catalog.check("Unknown Thing", "")


def test_status_values_are_the_device_api_error_codes() -> None:
    assert [s.value for s in FirmwareStatus] == ["supported", "firmware_too_old", "unsupported_device"]


def test_display_name() -> None:
    assert CatalogEntry("Teams phones", "Yealink", "T55A", "1").display_name == "Yealink T55A"


# --- forgiving look-up ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "manufacturer", "vendor", "model"),
    [
        ("yealink t55a", None, "Yealink", "T55A"),
        ("T55A", None, "Yealink", "T55A"),
        ("Yealink  T55A", None, "Yealink", "T55A"),
        ("  YEALINK T55A ", None, "Yealink", "T55A"),
        ("YealinkT55A", None, "Yealink", "T55A"),
        ("Audio Codes C448HD", None, "AudioCodes", "C448HD"),
        ("AudioCodes C448HD", None, "AudioCodes", "C448HD"),
        ("audiocodes c448hd", None, "AudioCodes", "C448HD"),
        ("C448HD", None, "AudioCodes", "C448HD"),
        ("C448HD", "Audio Codes", "AudioCodes", "C448HD"),
        ("Poly CCX400", None, "Poly", "CCX400"),
        ("CCX400", None, "Poly", "CCX400"),
        ("ccx 400", None, "Poly", "CCX400"),
        ("Polycom CCX600", None, "Poly", "CCX600"),
        ("CCX500", "Polycom", "Poly", "CCX500"),
        ("CCX500", "HP Poly", "Poly", "CCX500"),
        ("Logitech Rally Bar Mini", None, "Logitech", "Rally Bar Mini"),
        ("Rally Bar Mini", None, "Logitech", "Rally Bar Mini"),
        ("Rally Bar", None, "Logitech", "Rally Bar"),
        ("Logitech Rally Bar", None, "Logitech", "Rally Bar"),
        ("RallyBar", "Logitech", "Logitech", "Rally Bar"),
        ("Poly Studio X30", None, "Poly", "Studio X30"),
        ("Studio X30", None, "Poly", "Studio X30"),
        ("Studio X50", "Poly", "Poly", "Studio X50"),
        ("Studio X30", "HP", "Poly", "Studio X30"),  # a maker the catalog doesn't know
        ("Crestron UC-2", None, "Crestron", "UC-2"),
        ("UC2", None, "Crestron", "UC-2"),
        ("uc 2", "Crestron", "Crestron", "UC-2"),
        ("Crestron 770", None, "Crestron", "770"),
        ("1070", None, "Crestron", "1070"),
        ("TSS-1070", "Crestron", "Crestron", "1070"),
        ("EPOS EXPAND Vision 3T", None, "EPOS", "EXPAND Vision 3T"),
        ("expand vision 3t", None, "EPOS", "EXPAND Vision 3T"),
        ("Yealink MeetingBar A30", None, "Yealink", "MeetingBar A30"),
        ("Meeting Bar A20", None, "Yealink", "MeetingBar A20"),
        ("A30", "Yealink", "Yealink", "MeetingBar A30"),
        ("Yealink CTP18 touch console", None, "Yealink", "CTP18 touch console"),
        ("CTP18", None, "Yealink", "CTP18 touch console"),
        ("Poly TC8 touch console", None, "Poly", "TC8 touch console"),
        ("TC8", "Poly", "Poly", "TC8 touch console"),
        ("Trio C60", "Yealink Network Technology", None, None),  # a known maker, not Poly
        ("T55A", "Yealink Network Technology Co.", "Yealink", "T55A"),
        ("CCX400", "Yealink", None, None),
        ("Yealink CCX400", None, None, None),
        ("Poly T55A", None, None, None),
    ],
)
def test_find_tolerates_case_spacing_and_vendor_spelling(
    catalog: Catalog, text: str, manufacturer: str | None, vendor: str | None, model: str | None
) -> None:
    entry = catalog.find(text, manufacturer)
    if vendor is None:
        assert entry is None
    else:
        assert entry is not None
        assert (entry.vendor, entry.model) == (vendor, model)


def test_rally_bar_and_rally_bar_mini_are_never_confused(catalog: Catalog) -> None:
    bar, mini = catalog.find("Rally Bar"), catalog.find("Rally Bar Mini")
    assert bar is not None and mini is not None
    assert (bar.model, mini.model) == ("Rally Bar", "Rally Bar Mini")


def test_same_model_under_two_vendors_is_told_apart_by_manufacturer() -> None:
    ours = CatalogEntry("Teams phones", "Acme", "X1", "2.0")
    theirs = CatalogEntry("Teams phones", "Zenith", "X1", "5.0")
    catalog = Catalog([theirs, ours])
    assert catalog.find("X1", "Zenith") == theirs
    assert catalog.find("Zenith X1") == theirs
    assert catalog.find("X1", "Acme") == ours
    assert catalog.find("X1") == ours  # nothing to tell them apart: stable catalog order


# --- admin catalog files ------------------------------------------------------------------


def test_extended_with_adds_a_model_and_overrides_a_minimum(catalog: Catalog, tmp_path: Path) -> None:
    path = _write(
        tmp_path / "mine.json",
        {
            "schema_version": 1,
            "entries": [
                {"category": "Teams phones", "vendor": "Audio Codes", "model": "c448hd",
                 "minimum_version": "1.20.5"},
                {"category": "Teams panels", "vendor": "Neat", "model": "Pad",
                 "minimum_version": "20230101.1"},
            ],
        },
    )
    extended = catalog.extended_with(path)

    assert len(extended.entries) == len(catalog.entries) + 1
    assert extended.check("Neat Pad", "20230101.1").supported
    assert extended.check("AudioCodes C448HD", "1.10.120").status is FirmwareStatus.TOO_OLD
    assert extended.check("C448HD", "1.20.5").supported
    assert extended.check("C450HD", "1.10.120").supported  # its siblings keep the seed's minimum
    # The original is untouched: an override never changes the catalog it started from.
    assert catalog.check("C448HD", "1.10.120").supported
    assert catalog.find("Neat Pad") is None


def test_override_by_alias_replaces_the_entry_and_keeps_its_names(catalog: Catalog, tmp_path: Path) -> None:
    path = _write(
        tmp_path / "mine.json",
        {"entries": [{"category": "Teams Rooms on Android", "vendor": "Yealink",
                      "model": "CTP18", "minimum_version": "140"}]},
    )
    extended = catalog.extended_with(path)
    assert len(extended.entries) == len(catalog.entries)
    for name in ("CTP18", "Yealink CTP18 touch console"):
        verdict = extended.check(name, "139.99")
        assert verdict.status is FirmwareStatus.TOO_OLD
        assert verdict.minimum_version == "140"


def test_extended_with_accepts_a_byte_order_mark_and_chains(catalog: Catalog, tmp_path: Path) -> None:
    first = tmp_path / "first.json"
    first.write_text(
        json.dumps({"entries": [{"category": "c", "vendor": "Neat", "model": "Bar", "minimum_version": "1"}]}),
        encoding="utf-8-sig",
    )
    second = _write(
        tmp_path / "second.json",
        {"entries": [{"category": "c", "vendor": "Neat", "model": "Bar", "minimum_version": "2"}]},
    )
    entry = catalog.extended_with(first).extended_with(second).find("Neat Bar")
    assert entry is not None and entry.minimum_version == "2"


def test_from_file_builds_a_catalog_of_only_that_file(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "only.json",
        {"schema_version": 1, "source": "test", "comment": "hand made",
         "entries": [{"category": "c", "vendor": "Neat", "model": "Bar", "minimum_version": "1.0",
                      "aliases": ["Neat Bar Gen 1"], "comment": "ok"}]},
    )
    catalog = Catalog.from_file(str(path))
    assert catalog.entries == (CatalogEntry("c", "Neat", "Bar", "1.0", ("Neat Bar Gen 1",)),)
    assert catalog.find("neat bar gen 1") is not None
    assert catalog.find("T55A") is None


def test_an_empty_entries_list_changes_nothing(catalog: Catalog, tmp_path: Path) -> None:
    path = _write(tmp_path / "empty.json", {"schema_version": 1, "entries": []})
    assert catalog.extended_with(path).entries == catalog.entries


VALID = {"category": "c", "vendor": "Neat", "model": "Bar", "minimum_version": "1.0"}


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "is not valid JSON"),
        ("", "is not valid JSON"),
        ("[]", "must hold a JSON object"),
        ('"entries"', "must hold a JSON object"),
        (json.dumps({"schema_version": 2, "entries": []}), "schema_version 2"),
        (json.dumps({"schema_version": "1", "entries": []}), "schema_version '1'"),
        (json.dumps({"schema_version": True, "entries": []}), "schema_version True"),
        (json.dumps({"schema_version": 1}), '"entries" list'),
        (json.dumps({"entries": {"a": VALID}}), '"entries" list'),
        (json.dumps({"entires": [VALID]}), "unknown keys 'entires'"),
        (json.dumps({"entries": ["T55A"]}), "entry 1 must be a JSON object"),
        (json.dumps({"entries": [VALID, {**VALID, "model": "Other", "minimum_version": None}]}),
         'entry 2 needs "minimum_version"'),
        (json.dumps({"entries": [{k: v for k, v in VALID.items() if k != "vendor"}]}), 'needs "vendor"'),
        (json.dumps({"entries": [{**VALID, "model": "  "}]}), 'needs "model"'),
        (json.dumps({"entries": [{**VALID, "model": "--"}]}), "letters or digits"),
        (json.dumps({"entries": [{**VALID, "minimum_version": "1.x"}]}), "'x' is not a number"),
        (json.dumps({"entries": [{**VALID, "min_version": "1.0"}]}), "unknown fields 'min_version'"),
        (json.dumps({"entries": [{**VALID, "aliases": "Bar2"}]}), '"aliases" must be a list'),
        (json.dumps({"entries": [{**VALID, "aliases": [""]}]}), '"aliases" must be a list'),
        (json.dumps({"entries": [VALID, {**VALID, "model": "bar", "minimum_version": "2"}]}),
         "entry 2 (Neat bar) names the same model as entry 1"),
        (json.dumps({"entries": [{**VALID, "aliases": ["X"]}, {**VALID, "model": "X"}]}),
         "names the same model as entry 1"),
    ],
)
def test_a_malformed_file_raises_naming_the_file_and_the_problem(
    catalog: Catalog, tmp_path: Path, content: str, problem: str
) -> None:
    path = tmp_path / "admin-catalog.json"
    path.write_text(content, encoding="utf-8")
    for load in (catalog.extended_with, Catalog.from_file):
        with pytest.raises(CatalogError) as caught:
            load(path)
        assert str(path) in caught.value.message
        assert problem in caught.value.message
        assert isinstance(caught.value, ProvisioningError)


def test_a_missing_file_is_named(catalog: Catalog, tmp_path: Path) -> None:
    path = tmp_path / "nope.json"
    with pytest.raises(CatalogError) as caught:
        catalog.extended_with(path)
    assert f"{path} was not found" in caught.value.message


def test_a_directory_is_refused(catalog: Catalog, tmp_path: Path) -> None:
    with pytest.raises(CatalogError) as caught:
        catalog.extended_with(tmp_path)
    assert str(tmp_path) in caught.value.message
    assert "can't be read" in caught.value.message


def test_a_file_that_is_not_utf8_is_refused(catalog: Catalog, tmp_path: Path) -> None:
    path = tmp_path / "latin1.json"
    path.write_bytes(json.dumps({"entries": [{**VALID, "model": "Caf\u00e9"}]}, ensure_ascii=False).encode("latin-1"))
    with pytest.raises(CatalogError) as caught:
        catalog.extended_with(path)
    assert "not UTF-8" in caught.value.message


def test_a_bad_entry_late_in_the_file_applies_nothing(catalog: Catalog, tmp_path: Path) -> None:
    path = _write(
        tmp_path / "half.json",
        {"entries": [{**VALID, "model": "Good"}, {**VALID, "model": "Bad", "minimum_version": "?"}]},
    )
    with pytest.raises(CatalogError) as caught:
        catalog.extended_with(path)
    assert "entry 2" in caught.value.message
    assert catalog.find("Neat Good") is None
